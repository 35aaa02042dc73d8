"""CPU-GPU hybrid serving benchmark (MF-LET): QPS and p50/p99 latency per batch size for

  all-on-device            the training model as is: ID tables and dense part on ``--device``
  hybrid-{fp32,int8,int4}  ID tables in host memory (row-wise quantized), dense part on ``--device``,
                           sequential or pipelined (lookup of batch k+1 overlaps dense compute of batch k)

on two table sets:
  proxy            a trained MF-LET ranking model (both facets, finetuned) on a CTR proxy; also the
                   test-AUC change caused by quantizing its tables.
  criteo-synthetic 26 ID tables at the Kaggle Criteo cardinalities times ``--scale``, SYNTHETIC random
                   values and ids, with a DCNv2-sized MLP as the dense part: a throughput benchmark only.

Writes results/benchmarks/serving-<device>-<set>.json and a markdown table next to it.
Run on a GPU machine with ``--device cuda`` (pinned memory, non_blocking copies and a copy stream are
then used); on a CPU-only machine ``--device cpu`` runs the same path with the dense part on the CPU.

  python benchmarks/serving.py --sets criteo-synthetic --scale 0.1 --device cpu
  python benchmarks/serving.py --sets proxy --proxy-dataset ml-100k-ctr
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

from reprorec.records import REPO_ROOT, code_state, environment, hardware  # noqa: E402
from reprorec.serving import HybridServer, export_bundle, load_bundle  # noqa: E402
from reprorec.serving.models import TablesMLP  # noqa: E402

# Kaggle Criteo (DAC) cardinalities of C1..C26 over the full 45.8M-row train.txt, as listed by
# Facebook's DLRM for its Kaggle preprocessing (no frequency threshold).
CRITEO_KAGGLE_CARDINALITIES = [1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27,
                               14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572]
PRECISIONS = ("fp32", "int8", "int4")


def criteo_synthetic(scale: float, dim: int, seed: int = 0):
    """SYNTHETIC: random tables at scaled Criteo cardinalities + a random MLP; returns (model, batch maker)."""
    cards = [max(2, int(round(c * scale))) for c in CRITEO_KAGGLE_CARDINALITIES]
    torch.manual_seed(seed)
    model = TablesMLP(cards, dim, n_numeric=13, hidden=[400, 400, 400])
    with torch.no_grad():
        for emb in model.tables.values():
            emb.weight.normal_(0, 0.05)

    def batches(size: int, n: int, gen_seed: int = 1):
        g = torch.Generator().manual_seed(gen_seed)
        out = []
        for _ in range(n):
            # heavy-tailed ids (power of a uniform), as in click logs; labelled synthetic
            b = {f"cat{j}": (torch.rand(size, generator=g) ** 3 * c).long().clamp_(max=c - 1)
                 for j, c in enumerate(cards)}
            b["num"] = torch.randn(size, 13, generator=g).abs()
            out.append(b)
        return out

    return model.eval(), batches, {"cardinalities": cards, "rows": sum(cards), "dim": dim, "scale": scale}


def _pct(lat: list[float]) -> dict:
    ms = np.asarray(lat) * 1e3
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)), "mean_ms": float(ms.mean())}


def _to(batch: dict, device) -> dict:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


@torch.no_grad()
def all_on_device(model, batches, device) -> tuple[list, list]:
    """Baseline: the whole training model on ``device``; latency includes the copy of the raw ids."""
    model = model.to(device)
    scores, lat = [], []
    for b in batches:
        t0 = time.perf_counter()
        scores.append(model(_to(b, device)).float().cpu())
        lat.append(time.perf_counter() - t0)
    return scores, lat


def bench_set(model, make_batches, batch_sizes, n_batches, device, workdir: Path, warmup: int = 3,
              repeats: int = 3) -> dict:
    rows = []
    table_bytes = {"all-on-device (fp32)": sum(e.weight.numel() * 4 for e in model.tables.values())}
    servers = {}
    for p in PRECISIONS:
        version = export_bundle(model, workdir / p, p)
        dense, tables, keys, _ = load_bundle(workdir / p, expected_version=version)
        servers[p] = HybridServer(dense, tables, keys, device)
        table_bytes[f"hybrid-{p}"] = sum(t.nbytes for t in tables.values())
    for bs in batch_sizes:
        batches = make_batches(bs, n_batches + warmup)
        warm, timed = batches[:warmup], batches[warmup:]
        runs = {"all-on-device": lambda b: all_on_device(model, b, device)}
        for p, server in servers.items():
            for pipe in (False, True):
                runs[f"hybrid-{p}" + (" pipelined" if pipe else "")] = (lambda b, s=server, pp=pipe: s.serve(b, pp))
        # Rounds interleave the modes so that load from other processes on a shared machine hits all of
        # them alike; QPS is the median over rounds, latency percentiles pool every round's batches.
        got = {mode: {"qps": [], "lat": []} for mode in runs}
        ref = None
        for _ in range(repeats):
            for mode, fn in runs.items():
                fn(warm)  # warm-up call (allocator, caches, CUDA context), not timed
                t0 = time.perf_counter()
                scores, lat = fn(timed)
                wall = time.perf_counter() - t0
                # QPS: rows over the wall time of the whole stream (pipelined modes overlap batches, so
                # their per-batch latencies do not add up to the wall time)
                got[mode]["qps"].append(bs * len(timed) / wall)
                got[mode]["lat"] += lat
                if ref is None:
                    ref = torch.cat(scores)
                got[mode]["dev"] = float((torch.cat(scores) - ref).abs().max())
        for mode, g in got.items():
            rows.append({"batch_size": bs, "mode": mode, "qps": float(np.median(g["qps"])), "qps_rounds": g["qps"],
                         **_pct(g["lat"]), "max_abs_logit_diff": g["dev"]})
            print(f"  bs={bs:5d} {mode:24s} qps={rows[-1]['qps']:10.0f} p50={rows[-1]['p50_ms']:.2f}ms "
                  f"p99={rows[-1]['p99_ms']:.2f}ms |dlogit|max={g['dev']:.2e}", flush=True)
    return {"rows": rows, "table_bytes": table_bytes}


def proxy_set(dataset: str, seed: int):
    """Train the MF-LET model with both facets (finetuned) on ``dataset``; return (model, batch maker, AUC fn, info)."""
    from reprorec.papers.mflet.methods import trained_proxy  # the paper's own training path

    return trained_proxy(dataset, seed)


def quantized_auc(model, test: dict, workdir: Path) -> dict:
    from reprorec.metrics import binary_metrics

    out = {}
    for p in PRECISIONS:
        dense, tables, keys, _ = load_bundle(workdir / p)
        scores = HybridServer(dense, tables, keys, "cpu").score(test)
        m = binary_metrics()
        m.update(torch.sigmoid(scores), test["y"].long())
        out[p] = {k: float(v) for k, v in m.compute().items()}
    with torch.no_grad():
        m = binary_metrics()
        m.update(torch.sigmoid(model.cpu()(test)), test["y"].long())
    out["training-model"] = {k: float(v) for k, v in m.compute().items()}
    for p in PRECISIONS:
        out[p]["auc_change_vs_fp32"] = out[p]["auc"] - out["fp32"]["auc"]
    return out


def markdown(rec: dict) -> str:
    lines = [f"### Serving benchmark: {rec['set']} on {rec['device']} ({rec['hardware'].get('cpu') or ''}, "
             f"{rec['threads']} torch thread(s))", ""]
    if rec["set"] == "criteo-synthetic":
        lines += [f"SYNTHETIC tables: 26 fields at Kaggle Criteo cardinalities x {rec['info']['scale']} "
                  f"= {rec['info']['rows']:,} rows x dim {rec['info']['dim']}.", ""]
    lines += ["| table storage | bytes | MiB |", "|---|---:|---:|"]
    lines += [f"| {k} | {v:,} | {v / 2**20:.1f} |" for k, v in rec["table_bytes"].items()]
    lines += ["", "| batch | mode | QPS (rows/s) | p50 ms | p99 ms | p50 vs all-on-device | max abs logit diff |",
              "|---:|---|---:|---:|---:|---:|---:|"]
    base = {r["batch_size"]: r["p50_ms"] for r in rec["rows"] if r["mode"] == "all-on-device"}
    for r in rec["rows"]:
        rel = r["p50_ms"] / base[r["batch_size"]] - 1
        lines.append(f"| {r['batch_size']} | {r['mode']} | {r['qps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                     f"{rel:+.1%} | {r['max_abs_logit_diff']:.1e} |")
    if rec.get("auc"):
        lines += ["", "| tables | test AUC | test logloss | AUC change vs fp32 |", "|---|---:|---:|---:|"]
        for k, v in rec["auc"].items():
            lines.append(f"| {k} | {v['auc']:.5f} | {v['logloss']:.5f} | {v.get('auc_change_vs_fp32', 0):+.5f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=["proxy", "criteo-synthetic"], choices=["proxy", "criteo-synthetic"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--scale", type=float, default=0.1, help="fraction of the Kaggle Criteo cardinalities (1.0 = full)")
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 1024, 4096])
    ap.add_argument("--n-batches", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3, help="rounds over all modes (interleaved)")
    ap.add_argument("--proxy-dataset", default="ml-100k-ctr")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(REPO_ROOT / "results" / "benchmarks"))
    args = ap.parse_args(argv)
    if os.environ.get("REPRO_THREADS"):
        torch.set_num_threads(int(os.environ["REPRO_THREADS"]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        print(f"[{name}] building tables", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            auc, test = None, None
            if name == "criteo-synthetic":
                model, make_batches, info = criteo_synthetic(args.scale, args.dim, args.seed)
            else:
                model, make_batches, test, info = proxy_set(args.proxy_dataset, args.seed)
            res = bench_set(model, make_batches, args.batch_sizes, args.n_batches, args.device, Path(tmp),
                            repeats=args.repeats)
            if test is not None:
                auc = quantized_auc(model, test, Path(tmp))
        rec = {"benchmark": "serving", "set": name, "device": args.device, "threads": torch.get_num_threads(),
               "args": vars(args), "info": info, **res, "auc": auc, "wall_time_s": time.perf_counter() - t0,
               "code": code_state(), "env": environment(), "hardware": hardware(),
               "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        stem = f"serving-{args.device}-{name}"
        (out / f"{stem}.json").write_text(json.dumps(rec, indent=1, sort_keys=True))
        (out / f"{stem}.md").write_text(markdown(rec))
        print(markdown(rec))


if __name__ == "__main__":
    main()
