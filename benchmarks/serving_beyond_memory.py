"""Hybrid serving of ID tables that do NOT fit the device (MF-LET C5): latency and throughput against
the same ranker WITHOUT large tables, as batch size and table size grow.

The paper's setting: tables larger than the GPU's (and one host's) memory, INT4, on external CPU hosts;
"neutral latency" against the production model before the tables were added. Here:

  device memory budget  ``--budget-mib`` (explicit; the server refuses to keep more than this resident
                        on the device). Every table set below is larger than the budget even in INT4,
                        and far larger in fp32, so all-on-device is refused by the budget check.
  baseline              ``no-large-tables``: the same ranker (small fields on the device, numeric
                        features, MLP) without the large ID tables, all on the device.
  hybrid-int4           the large tables in INT4 in host memory of this process, dense part on the device
  hybrid-int4-service   the large tables in INT4 in a lookup service in ANOTHER process over loopback
                        (127.0.0.1; bounded request loop; `reprorec.serving.remote`), standing for the
                        external CPU hosts; each request is one round trip.
  ... pipelined         the lookup of batch k+1 overlaps the dense compute of batch k.

Two table sets:
  synthetic  ``--large-tables`` SYNTHETIC INT4 tables of ``--rows`` rows each (built directly in INT4,
             never as fp32), random MLP: latency/throughput only, no accuracy.
  proxy      (``--proxy ml-100k-ctr``) the trained MF-LET ranker with both facets vs the trained arm (1)
             without ID tables; also the test AUC of INT4 vs fp32 tables. The proxy's tables are small,
             so its budget is set below the whole model's size, which forces them onto the host.

The checks "INT4 changes AUC by < 0.001" and "hybrid p50 within ±10 % of the baseline" are OUR OWN
acceptance thresholds, not numbers from the paper. On a CPU-only machine the "device" is the CPU:
nothing is copied, staging memory is not pinned (pinning needs CUDA) and the record says so.

  python benchmarks/serving_beyond_memory.py --device cpu                  # synthetic set
  python benchmarks/serving_beyond_memory.py --device cuda --proxy ml-100k-ctr
  python benchmarks/serving_beyond_memory.py figure results/benchmarks/serving-beyond-memory-cpu.json out.png
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.serving import PRECISIONS, quantized_auc  # noqa: E402
from benchmarks.record import load_fields, write as write_record  # noqa: E402
from reprorec.records import REPO_ROOT  # noqa: E402
from reprorec.serving import HybridServer, RemoteTables, export_bundle, fits_on_device, load_bundle  # noqa: E402
from reprorec.serving.models import SmallAndLargeTables  # noqa: E402
from reprorec.serving.remote import synthetic_tables  # noqa: E402
from reprorec.serving.server import module_bytes  # noqa: E402

OURS_AUC_TOL = 0.001  # our own acceptance threshold, not the paper's
OURS_LATENCY_TOL = 0.10  # our own acceptance threshold, not the paper's


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _pct(lat: list[float]) -> dict:
    ms = np.asarray(lat) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}


@torch.no_grad()
def on_device(model, batches, device) -> tuple[list, list]:
    """The baseline: a model with everything on ``device``; latency includes the copy of the features."""
    scores, lat = [], []
    for b in batches:
        t0 = time.perf_counter()
        scores.append(model({k: v.to(device, non_blocking=True) for k, v in b.items()}).float().cpu())
        lat.append(time.perf_counter() - t0)
    return scores, lat


REPS: list[dict] = []  # one entry per timed stream (mode x round), for the shared record writer


def timed_modes(runs: dict, make_batches, bs: int, n_batches: int, repeats: int, warmup: int = 3,
                tags: dict | None = None) -> list[dict]:
    """Interleaved rounds over the modes (load from other processes hits all alike); QPS = median over rounds
    of rows / wall time of the stream; latency percentiles pool every round's batches."""
    batches = make_batches(bs, n_batches + warmup)
    warm, timed = batches[:warmup], batches[warmup:]
    got = {mode: {"qps": [], "lat": []} for mode in runs}
    for rep in range(repeats):
        for mode, fn in runs.items():
            fn(warm)
            start = load_fields("start")
            t0, c0 = time.perf_counter(), time.process_time()
            _, lat = fn(timed)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            got[mode]["qps"].append(bs * len(timed) / wall)
            got[mode]["lat"] += lat
            # cpu_s: this process only (the lookup service's own CPU time is not in it)
            REPS.append({"impl": mode, "rep": rep, "batch_size": bs, **(tags or {}), "wall_s": wall, "cpu_s": cpu,
                         "rows_per_s": bs * len(timed) / wall, **start, **load_fields("end")})
    rows = []
    for mode, g in got.items():
        rows.append({"batch_size": bs, "mode": mode, "qps": float(np.median(g["qps"])), "qps_rounds": g["qps"],
                     **_pct(g["lat"])})
    base = next(r for r in rows if r["mode"] == "no-large-tables")
    for r in rows:
        r["p50_vs_baseline"] = r["p50_ms"] / base["p50_ms"] - 1
        r["qps_vs_baseline"] = r["qps"] / base["qps"] - 1
        print(f"  bs={bs:5d} {r['mode']:34s} qps={r['qps']:10.0f} p50={r['p50_ms']:.2f}ms p99={r['p99_ms']:.2f}ms "
              f"p50 vs baseline {r['p50_vs_baseline']:+.1%}", flush=True)
    return rows


def hybrid_runs(server_local, server_remote) -> dict:
    runs = {}
    for tag, server in (("hybrid-int4", server_local), ("hybrid-int4-service", server_remote)):
        if server is None:
            continue
        for pipe in (False, True):
            runs[tag + (" pipelined" if pipe else "")] = (lambda b, s=server, p=pipe: s.serve(b, p))
    return runs


def synthetic_set(args) -> dict:
    small = [args.small_card] * args.small_fields
    g = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    base_model = SmallAndLargeTables(small, [], args.small_dim, args.dim, args.numeric, args.hidden).eval()
    budget = int(args.budget_mib * 2**20)
    out = {"set": "synthetic", "sizes": []}
    for rows in args.rows:
        names = {f"id{j}": rows for j in range(args.large_tables)}
        spec = {"rows": names, "dim": args.dim, "precision": "int4", "seed": args.seed}
        torch.manual_seed(args.seed)
        dense = SmallAndLargeTables(small, [rows] * args.large_tables, args.small_dim, args.dim, args.numeric,
                                    args.hidden, dense_only=True).eval()
        tables, version = synthetic_tables(spec)
        int4_bytes = sum(t.nbytes for t in tables.values())
        fp32_bytes = rows * args.large_tables * args.dim * 4
        whole_fp32 = module_bytes(dense) + fp32_bytes
        print(f"[synthetic] {args.large_tables} x {rows:,} rows x {args.dim}: INT4 {int4_bytes / 2**20:.0f} MiB, "
              f"fp32 {fp32_bytes / 2**20:.0f} MiB, budget {args.budget_mib} MiB", flush=True)
        keys = {n: n for n in names}
        local = HybridServer(dense, tables, keys, args.device, memory_budget=budget, max_batch=max(args.batch_sizes))
        remote = RemoteTables({"synthetic": spec}, idle_timeout=120) if args.service else None
        served = HybridServer(dense, None, keys, args.device, memory_budget=budget, max_batch=max(args.batch_sizes),
                              remote=remote) if remote else None

        def make_batches(size, n):
            res = []
            for _ in range(n):
                b = {n_: (torch.rand(size, generator=g) ** 3 * rows).long().clamp_(max=rows - 1) for n_ in names}
                b["small"] = torch.randint(0, args.small_card, (size, args.small_fields), generator=g)
                b["num"] = torch.randn(size, args.numeric, generator=g).abs()
                res.append(b)
            return res

        base = base_model.to(args.device)
        runs = {"no-large-tables": lambda b: on_device(base, [{k: v for k, v in x.items() if k in ("small", "num")}
                                                              for x in b], args.device),
                **hybrid_runs(local, served)}
        size_rows = []
        for bs in args.batch_sizes:
            size_rows += timed_modes(runs, make_batches, bs, args.n_batches, args.repeats,
                                     tags={"set": "synthetic", "rows_per_table": rows})
        entry = {"rows_per_table": rows, "large_tables": args.large_tables, "dim": args.dim,
                 "int4_table_bytes": int4_bytes, "fp32_table_bytes": fp32_bytes, "version": version,
                 "whole_model_fp32_bytes": whole_fp32, "whole_model_fits_budget": whole_fp32 <= budget,
                 "int4_tables_fit_budget": int4_bytes <= budget,
                 "device_resident_bytes": local.device_resident_bytes,
                 "baseline_device_bytes": module_bytes(base_model),
                 "staging_pinned": local.staging.pinned, "staging_note": local.staging.why_not_pinned,
                 "service_start_s": remote.start_s if remote else None, "rows": size_rows}
        if remote:
            remote.close()
        out["sizes"].append(entry)
        del tables, local, served
    return out


def proxy_set(args) -> dict:
    from reprorec.metrics import binary_metrics
    from reprorec.papers.mflet.methods import trained_proxy

    model, make_all, test, info = trained_proxy(args.proxy, args.seed, args.proxy_profile)
    base, make_base, _, base_info = trained_proxy(args.proxy, args.seed, args.proxy_profile, arm="no-id")
    feature_keys = [k for k in test if k not in ("y", "time")]

    def strip(batches):
        return [{k: b[k] for k in feature_keys} for b in batches]

    whole = fits_on_device(model, None)[1]
    dense_bytes = whole - sum(e.weight.numel() * 4 for e in model.tables.values())
    out = {"set": "proxy", "dataset": args.proxy, "info": info, "baseline_info": base_info,
           "whole_model_fp32_bytes": whole, "dense_bytes": dense_bytes}
    with tempfile.TemporaryDirectory() as tmp:
        versions = {p: export_bundle(model, Path(tmp) / p, p) for p in PRECISIONS}
        dense, tables, keys, _ = load_bundle(Path(tmp) / "int4", expected_version=versions["int4"])
        probe = HybridServer(dense, tables, keys, args.device, max_batch=max(args.batch_sizes))
        probe.score(strip(make_all(max(args.batch_sizes), 1))[0])
        # the explicit budget: what the hybrid deployment keeps resident, below the whole model's size
        budget = probe.device_resident_bytes + max(0, (whole - probe.device_resident_bytes) // 2)
        out.update(budget_bytes=budget, whole_model_fits_budget=whole <= budget)
        local = HybridServer(dense, tables, keys, args.device, memory_budget=budget, max_batch=max(args.batch_sizes))
        remote = RemoteTables({"bundle": str(Path(tmp) / "int4"), "version": versions["int4"]}, idle_timeout=120) \
            if args.service else None
        served = HybridServer(load_bundle(Path(tmp) / "int4")[0], None, keys, args.device, memory_budget=budget,
                              max_batch=max(args.batch_sizes), remote=remote) if remote else None
        base_dev = base.to(args.device).eval()
        runs = {"no-large-tables": lambda b: on_device(base_dev, b, args.device), **hybrid_runs(local, served)}
        out["rows"] = []
        for bs in args.batch_sizes:
            out["rows"] += timed_modes(runs, lambda s, n: strip(make_all(s, n)), bs, args.n_batches, args.repeats,
                                       tags={"set": "proxy"})
        if remote:
            remote.close()
        auc = quantized_auc(model, test, Path(tmp))  # fp32 / int8 / int4 tables and the training model
        with torch.no_grad():
            m = binary_metrics()
            m.update(torch.sigmoid(base.cpu()(test)), test["y"].long())
            auc["no-large-tables"] = {k_: float(v) for k_, v in m.compute().items()}
        auc["int4_change_vs_fp32"] = auc["int4"]["auc"] - auc["fp32"]["auc"]
        auc["ours_check_int4_within_0.001"] = abs(auc["int4_change_vs_fp32"]) < OURS_AUC_TOL
        out["auc"] = auc
    return out


def _flat(rec: dict) -> dict:
    """The fields markdown/figure read, from a record of the shared writer (benchmarks/record.py)."""
    st = rec["settings"]
    return {"device": st["device"], "budget_mib": st["budget_mib"], "note": st.get("note"), "sets": rec["summary"]["sets"],
            "hardware": rec["hardware"], "threads": rec["threads"]}


def markdown(rec: dict) -> str:
    rec = _flat(rec)
    lines = [f"### Serving beyond the device budget on {rec['device']} ({rec['hardware'].get('cpu') or ''}, "
             f"{rec['threads']} torch thread(s)); budget {rec['budget_mib']} MiB", ""]
    if rec.get("note"):
        lines += [rec["note"], ""]

    def table(rows):
        out = ["| batch | mode | QPS (rows/s) | p50 ms | p99 ms | p50 vs no-large-tables | QPS vs no-large-tables |",
               "|---:|---|---:|---:|---:|---:|---:|"]
        for r in rows:
            out.append(f"| {r['batch_size']} | {r['mode']} | {r['qps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                       f"{r['p50_vs_baseline']:+.1%} | {r['qps_vs_baseline']:+.1%} |")
        return out

    for s in rec["sets"]:
        if s["set"] == "synthetic":
            for e in s["sizes"]:
                lines += [f"SYNTHETIC: {e['large_tables']} tables x {e['rows_per_table']:,} rows x {e['dim']} "
                          f"(INT4 {e['int4_table_bytes'] / 2**20:,.0f} MiB in host memory; fp32 would be "
                          f"{e['fp32_table_bytes'] / 2**20:,.0f} MiB; whole model fits the budget: "
                          f"{e['whole_model_fits_budget']}; INT4 tables fit: {e['int4_tables_fit_budget']}; "
                          f"resident on the device: {e['device_resident_bytes'] / 2**20:.1f} MiB)", ""]
                lines += table(e["rows"]) + [""]
        else:
            a = s["auc"]
            lines += [f"Proxy {s['dataset']}: MF-LET 'both' (INT4 tables on the host) vs arm (1) no ID tables; "
                      f"budget {s['budget_bytes']:,} B < whole model {s['whole_model_fp32_bytes']:,} B", ""]
            lines += table(s["rows"]) + [""]
            lines += ["| tables | test AUC | test logloss |", "|---|---:|---:|"]
            lines += [f"| {k} | {a[k]['auc']:.5f} | {a[k]['logloss']:.5f} |" for k in ("fp32", "int4", "no-large-tables")]
            lines += ["", f"INT4 vs fp32 test AUC: {a['int4_change_vs_fp32']:+.5f} (ours: within 0.001: "
                      f"{a['ours_check_int4_within_0.001']})", ""]
    return "\n".join(lines) + "\n"


def figure(rec: dict, path: Path) -> None:
    """p50 latency vs batch size, one panel per synthetic table size (+ the proxy), one line per mode."""
    rec = _flat(rec)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(f"{e['large_tables']} x {e['rows_per_table'] / 1e6:g}M rows (INT4 "
               f"{e['int4_table_bytes'] / 2**20:,.0f} MiB)", e["rows"])
              for s in rec["sets"] if s["set"] == "synthetic" for e in s["sizes"]]
    panels += [(f"proxy {s['dataset']}", s["rows"]) for s in rec["sets"] if s["set"] == "proxy"]
    sizes = [e for s in rec["sets"] if s["set"] == "synthetic" for e in s["sizes"]]
    fig, axes = plt.subplots(1, len(panels) + bool(sizes), figsize=(4.2 * (len(panels) + bool(sizes)), 3.6),
                             squeeze=False)
    if sizes:  # last panel: latency against table size at the largest batch
        ax, bs = axes[0][-1], max(r["batch_size"] for r in sizes[0]["rows"])
        for mode in dict.fromkeys(r["mode"] for r in sizes[0]["rows"]):
            pts = [(e["rows_per_table"] * e["large_tables"], r) for e in sizes for r in e["rows"]
                   if r["mode"] == mode and r["batch_size"] == bs]
            ax.errorbar([x for x, _ in pts], [r["p50_ms"] for _, r in pts],
                        yerr=[[0] * len(pts), [r["p99_ms"] - r["p50_ms"] for _, r in pts]], marker="o", capsize=2,
                        label=mode, lw=2 if mode == "no-large-tables" else 1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("large-table rows in all (SYNTHETIC)")
        ax.set_title(f"batch {bs}: latency vs table size", fontsize=9)
    for ax, (title, rows) in zip(axes[0], panels):
        for mode in dict.fromkeys(r["mode"] for r in rows):
            rs = [r for r in rows if r["mode"] == mode]
            ax.errorbar([r["batch_size"] for r in rs], [r["p50_ms"] for r in rs],
                        yerr=[[0] * len(rs), [r["p99_ms"] - r["p50_ms"] for r in rs]], marker="o", capsize=2,
                        label=mode, lw=2 if mode == "no-large-tables" else 1)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_title(title, fontsize=9)
    axes[0][0].set_ylabel("latency ms (p50, bar to p99)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Hybrid INT4 serving vs the ranker without large tables ({rec['device']}, budget "
                 f"{rec['budget_mib']} MiB; ours)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "figure":
        figure(json.loads(Path(argv[1]).read_text()), Path(argv[2]))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--budget-mib", type=float, default=16.0, help="device memory budget the server enforces")
    ap.add_argument("--rows", type=int, nargs="+", default=[250_000, 1_000_000, 4_000_000], help="rows per large table")
    ap.add_argument("--large-tables", type=int, default=4)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--small-fields", type=int, default=20)
    ap.add_argument("--small-card", type=int, default=1000)
    ap.add_argument("--small-dim", type=int, default=16)
    ap.add_argument("--numeric", type=int, default=13)
    ap.add_argument("--hidden", type=int, nargs="+", default=[400, 400, 400])
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--n-batches", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-service", dest="service", action="store_false", help="skip the lookup-service modes")
    ap.add_argument("--no-synthetic", dest="synthetic", action="store_false")
    ap.add_argument("--proxy", default=None, help="also run the trained MF-LET proxy on this CTR dataset")
    ap.add_argument("--proxy-profile", default="full")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(REPO_ROOT / "results" / "benchmarks"))
    ap.add_argument("--allow-dirty", action="store_true", help="write a record from uncommitted code (a throwaway)")
    args = ap.parse_args(argv)
    if os.environ.get("REPRO_THREADS"):
        torch.set_num_threads(int(os.environ["REPRO_THREADS"]))
    t0 = time.perf_counter()
    sets = ([synthetic_set(args)] if args.synthetic else []) + ([proxy_set(args)] if args.proxy else [])
    note = None
    if args.device == "cpu":
        note = ("CPU-only machine: the 'device' is the CPU, so no host->device copy happens and the staging "
                "buffers are not pinned (pinning needs CUDA); the lookup service shares the same cores.")
    settings = {**vars(args), "budget_bytes": int(args.budget_mib * 2**20), "note": note,
                "ours_thresholds": {"auc": OURS_AUC_TOL, "p50_latency": OURS_LATENCY_TOL,
                                    "what": "our own acceptance checks, not numbers from the paper"}}
    stem = f"serving-beyond-memory-{args.device}"
    path = write_record(stem, reps=REPS, summary={"sets": sets, "wall_time_s": time.perf_counter() - t0},
                        settings=settings, threads=torch.get_num_threads(), allow_dirty=args.allow_dirty,
                        out_dir=Path(args.out))
    rec = json.loads(path.read_text())
    write_atomic(path.with_suffix(".md"), markdown(rec))
    print(markdown(rec))


if __name__ == "__main__":
    main()
