"""Numbers and figures for the README, computed from result records (and, for context, trivial predictors).

  python -m reprorec.papers.spider.report [--write-readme]   markdown tables: per dataset/profile, method x (metric mean ± std, n),
                                            seq-vs-vectorized deltas, the constant predictors on ACC, the
                                            authors' ACC number beside ours, and the update throughput
                                            before/after the factored update (benchmark records)
  python -m reprorec.papers.spider.report --figures          running test curves (metric at every 5% of the stream)
                                            -> leaderboards/spider/curves-<dataset>-<profile>.png

Curves: mean ± std over seeds of the recorded curve. Offline CP has no stream: its final test metric
is drawn as a dashed horizontal line (a non-streaming reference).
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from reprorec import config as C
from reprorec.records import REPO_ROOT, iter_records
from reprorec.papers import report_dir
from reprorec.registry import PAPERS_DIR

from .data import build_stream, evaluate

METHOD_ORDER = ["spider", "spider-seq", "spider-gauss", "post", "nn-adam", "cp-offline"]


def summary() -> str:
    groups = defaultdict(list)
    for rec in iter_records():
        if rec["paper"] == "spider" and rec["profile"] in ("full", "prefix") and rec["metrics"].get("test"):
            groups[(rec["dataset"], rec["profile"])].append(rec)
    out = []
    for (d, p), recs in sorted(groups.items()):
        metric = recs[0]["config"]["metric"]["name"]
        extra = ["rmse_orig", "mse_orig"] if metric == "rmse" else []
        out += [f"\n**{d} · {p}** (test {metric}{', ' + ', '.join(extra) if extra else ''}; mean ± std over seeds)\n",
                "| method | n | " + " | ".join([metric, *extra]) + " | update entries/s |", "|---|---|" + "---|" * (len(extra) + 2)]
        by_m = defaultdict(list)
        for r in recs:
            by_m[r["method"]].append(r)
        for m in sorted(by_m, key=lambda x: METHOD_ORDER.index(x) if x in METHOD_ORDER else 99):
            rs = by_m[m]
            cells = []
            for k in [metric, *extra]:
                v = np.array([r["metrics"]["test"][k] for r in rs])
                cells.append(_mean_std(v))
            eps = np.mean([r.get("update_entries_per_s") or np.nan for r in rs])
            out.append(f"| {m} | {len(rs)} | " + " | ".join(cells) + f" | {eps:,.0f} |")
    return "\n".join(out)


def seq_vs_vec() -> str:
    """Paired (same seed = same stream order and init) differences spider-seq minus spider."""
    recs = defaultdict(dict)
    for rec in iter_records():
        if rec["paper"] == "spider" and rec["method"] in ("spider", "spider-seq") and rec["profile"] == "full":
            recs[(rec["dataset"], rec["seed"])][rec["method"]] = rec
    lines = ["| dataset | seed | metric spider (vectorized) | spider-seq | seq − vec | entries/s vec | entries/s seq |",
             "|---|---|---|---|---|---|---|"]
    for (d, s), pair in sorted(recs.items()):
        if len(pair) == 2:
            metric = pair["spider"]["config"]["metric"]["name"]
            a, b = pair["spider"]["metrics"]["test"][metric], pair["spider-seq"]["metrics"]["test"][metric]
            lines.append(f"| {d} | {s} | {metric} {a:.4f} | {b:.4f} | {b - a:+.4f} | "
                         f"{pair['spider']['update_entries_per_s']:,.0f} | {pair['spider-seq']['update_entries_per_s']:,.0f} |")
    return "\n".join(lines)


def constant_predictors() -> str:
    """ACC test sets are 90% zeros: what do 'predict 0' and 'predict the stream mean' score?"""
    s = build_stream({"dataset": "acc", "data": {}}, 0)
    zero = evaluate(lambda idx: torch.full((len(idx),), -s.mean / s.std, dtype=torch.float64), s)
    mean = evaluate(lambda idx: torch.zeros(len(idx), dtype=torch.float64), s)
    return ("| ACC constant predictor | rmse | mse | mse_orig |\n|---|---|---|---|\n" +
            f"| predict 0 | {zero['rmse']:.4f} | {zero['mse']:.4f} | {zero['mse_orig']:.4f} |\n" +
            f"| predict the stream mean | {mean['rmse']:.4f} | {mean['mse']:.4f} | {mean['mse_orig']:.4f} |")


def _mean_std(vals) -> str:
    v = np.asarray(vals, dtype=float)
    return f"{v.mean():.4f} ± {v.std(ddof=1):.4f}" if len(v) > 1 else f"{v.mean():.4f}"


def acc_vs_authors() -> str:
    """The authors' logged ACC MSE (the `reference:` of configs/acc-100b-spider.yaml: R = 8, batch 128,
    100 stream batches) beside our SPIDER variants after 100 batches, 200 batches and the full stream."""
    ref = next(r for r in C.load(PAPERS_DIR / "spider" / "configs" / "acc-100b-spider.yaml")["reference"]
               if r["metric"] == "mse")
    lines = [f"Authors' log: test MSE **{ref['value']}** — {ref['source']}.\n",
             "| setting | method | n | mse (standardised) | mse_orig (original units) |", "|---|---|---|---|---|"]
    recs = [r for r in iter_records() if r["paper"] == "spider" and r["metrics"].get("test")]
    for d, profile in [("acc-100b", "full"), ("acc", "prefix"), ("acc", "full")]:
        for m in ("spider", "spider-seq", "spider-gauss"):
            mine = [r for r in recs if (r["dataset"], r["method"], r["profile"]) == (d, m, profile)]
            if mine:
                tests = [r["metrics"]["test"] for r in mine]
                lines.append(f"| {d} · {profile} ({mine[0]['entries_streamed']:,} entries) | {m} | {len(mine)} | "
                             f"{_mean_std([t['mse'] for t in tests])} | {_mean_std([t['mse_orig'] for t in tests])} |")
    return "\n".join(lines)


def throughput() -> str:
    """entries per CPU-second of each update mode, from the benchmark record (benchmarks/spider_stream.py)."""
    rec = json.loads((REPO_ROOT / "results" / "benchmarks" / "spider_stream.json").read_text())
    rows = {(r["mode"], r["batch_size"]): r for r in rec["rows"]}
    ref = rows[("sequential-python", 128)]["entries_per_s"]
    lines = ["| mode | batch | entries / CPU-s | full ACC stream (1.13M entries), update only | vs Python sequential |"
             " peak RSS MB [entries, MB] |", "|---|---|---|---|---|---|"]
    for (mode, batch), r in rows.items():
        lines.append(f"| {mode} | {batch} | {r['entries_per_s']:,.0f} | {r['full_acc_update_min']} min | "
                     f"{r['entries_per_s'] / ref:.1f}× | {r['peak_rss_mb_by_prefix']} |")
    lines.append(f"\ncommit {rec['code']['commit'][:7]}; posterior state {rec['rows'][0]['posterior_state_mb']} MB")
    return "\n".join(lines)


def results_section() -> str:
    """Everything between the README's report markers, in order."""
    from .sweep import table as sweep_table

    return "\n".join([
        "### Full streams, the authors' 100-batch setting, and 25,600-entry prefixes (R = 8, stream batch 128)",
        "\n`update entries/s` is each record's own measurement on the shared machine; records made before the",
        "factored update (every `prefix` seed 0–2, `acc-100b`, `alog`) ran the previous formulation.",
        summary(),
        "\n### Sequential (authors') vs vectorized mode — paired by seed (same stream, same init)\n",
        seq_vs_vec(),
        "\n### ACC: the authors' number beside ours (C4)\n",
        acc_vs_authors(),
        "\nConstant predictors on the same ACC test sets:\n",
        constant_predictors(),
        "\n### Rank and batch-size sweep (SPIDER, vectorized, full stream; profile `sweep-R<r>-B<b>`)\n",
        sweep_table(),
        "\n### Throughput and memory (`benchmarks/spider_stream.py`, synthetic ACC-shaped stream, R = 8, float64, "
        "1 thread, shared machine)\n",
        "`sequential` is the authors' entry-by-entry update compiled (`seq_update.cpp`), `sequential-python` the "
        "same update as a Python loop: bit-identical posteriors (tests/papers/spider/test_spider_native.py).\n",
        throughput(),
    ])


def curves():
    """{(dataset, profile): {method: [records with a running test curve]}}."""
    groups = defaultdict(lambda: defaultdict(list))
    for rec in iter_records():
        if rec["paper"] == "spider" and rec.get("curve") and rec["profile"] in ("full", "prefix", "quick"):
            groups[(rec["dataset"], rec["profile"])][rec["method"]].append(rec)
    return groups


def plot_curves(dataset: str, profile: str, by_method: dict, out_dir: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    metric = None
    for method, recs in sorted(by_method.items()):
        metric = recs[0]["config"]["metric"]["name"]
        if method == "cp-offline":
            vals = [r["metrics"]["test"][metric] for r in recs]
            ax.axhline(np.mean(vals), ls="--", color="grey", label=f"cp-offline (final, n={len(vals)})")
            continue
        curves = [np.asarray(r["curve"], dtype=float) for r in recs]
        n = min(len(c) for c in curves)
        x = curves[0][:n, 0]
        ys = np.stack([c[:n, 1] for c in curves])
        mean, std = ys.mean(0), ys.std(0)
        ax.plot(x, mean, marker="o", ms=2, label=f"{method} (n={len(recs)})")
        ax.fill_between(x, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel("fraction of the training stream processed")
    ax.set_ylabel(f"test {metric}" + (" (standardised)" if metric == "rmse" else ""))
    ax.set_title(f"SPIDER reproduction · {dataset} · {profile}", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"curves-{dataset}-{profile}.png"
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)
    return path


def write_figures() -> list[Path]:
    return [plot_curves(dataset, profile, by_method, report_dir("spider"))
            for (dataset, profile), by_method in sorted(curves().items()) if profile != "quick"]


README = PAPERS_DIR / "spider" / "README.md"
START, END = "<!-- report:start (python -m reprorec.papers.spider.report --write-readme) -->", "<!-- report:end -->"


def write_readme() -> None:
    text = README.read_text()
    head, rest = text.split(START)
    _, tail = rest.split(END)
    README.write_text(f"{head}{START}\n{results_section()}\n{END}{tail}")


if __name__ == "__main__":
    import sys

    if "--figures" in sys.argv:
        print("\n".join(map(str, write_figures())))
    elif "--write-readme" in sys.argv:
        write_readme()
    else:
        print(results_section())
