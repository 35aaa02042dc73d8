"""Numbers for the README, computed from result records (and, for context, trivial predictors).

  python -m papers.spider.report            markdown tables: per dataset/profile, method x (metric mean ± std, n),
                                            seq-vs-vectorized deltas, the constant predictors on ACC, the
                                            authors' ACC number beside ours, and the update throughput
                                            before/after the factored update (benchmark records)
"""
from __future__ import annotations

import json
from collections import defaultdict

import numpy as np
import torch

from common import config as C
from common.records import REPO_ROOT, iter_records
from common.registry import PAPERS_DIR

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


def reference_vs_ours() -> str:
    """Every published number in a config's `reference:` block beside our records of that config."""
    lines = ["| config | profile | metric | authors | ours (mean ± std) | n | ours in original units |",
             "|---|---|---|---|---|---|---|"]
    recs = [r for r in iter_records() if r["paper"] == "spider" and r["metrics"].get("test")]
    for path in sorted((PAPERS_DIR / "spider" / "configs").glob("*.yaml")):
        raw = C.load(path)
        for ref in raw.get("reference") or []:
            for profile in ("full", "prefix"):
                mine = [r for r in recs if (r["dataset"], r["method"], r["profile"]) ==
                        (raw["dataset"], raw["method"], profile)]
                if mine:
                    m = ref["metric"]
                    orig = _mean_std([r["metrics"]["test"][f"{m}_orig"] for r in mine])
                    lines.append(f"| {path.stem} | {profile} | {m} | {ref['value']} | "
                                 f"{_mean_std([r['metrics']['test'][m] for r in mine])} | {len(mine)} | {orig} |")
    return "\n".join(lines)


def throughput() -> str:
    """entries/s of the update before (previous formulation) and after, from the two benchmark records."""
    bench = REPO_ROOT / "results" / "benchmarks"
    before, after = (json.loads((bench / f).read_text()) for f in ("spider_stream-before.json", "spider_stream.json"))
    lines = ["| mode | batch | entries/s before | entries/s after | speed-up | peak RSS MB after [entries, MB] |",
             "|---|---|---|---|---|---|"]
    for b, a in zip(before["rows"], after["rows"]):
        assert (b["mode"], b["batch_size"]) == (a["mode"], a["batch_size"])
        lines.append(f"| {a['mode']} | {a['batch_size']} | {b['entries_per_s']:,.0f} | {a['entries_per_s']:,.0f} | "
                     f"{a['entries_per_s'] / b['entries_per_s']:.1f}× | {a['peak_rss_mb_by_prefix']} |")
    lines.append(f"\nbefore: commit {before['code']['commit'][:7]}, after: commit {after['code']['commit'][:7]}; "
                 f"posterior state {after['rows'][0]['posterior_state_mb']} MB")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary())
    print("\n" + seq_vs_vec())
    print("\n" + constant_predictors())
    print("\n" + reference_vs_ours())
    print("\n" + throughput())
