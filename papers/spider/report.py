"""Numbers for the README, computed from result records (and, for context, trivial predictors).

  python -m papers.spider.report            markdown tables: per dataset/profile, method x (metric mean ± std, n),
                                            plus seq-vs-vectorized deltas and the constant predictors on ACC
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from common.records import iter_records

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
                cells.append(f"{v.mean():.4f} ± {v.std(ddof=1):.4f}" if len(v) > 1 else f"{v.mean():.4f}")
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


if __name__ == "__main__":
    print(summary())
    print("\n" + seq_vs_vec())
    print("\n" + constant_predictors())
