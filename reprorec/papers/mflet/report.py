"""Paired analysis of the MF-LET ablation: the claims of the paper tested on our records.

  python -m reprorec.papers.mflet.report --profile full            print the tables (markdown)
  python -m reprorec.papers.mflet.report --profile full --readme   also rewrite them (and the serving tables from
                                                            results/benchmarks/) into reprorec/papers/mflet/README.md

Runs of different arms with the same seed share the data split (time windows do not depend on the
seed), so every comparison is paired by seed: mean and std of the per-seed difference in test AUC,
and a two-sided paired t-test (scipy.stats.ttest_rel). Verdict rules (fixed before looking):
  "A > B"   reproduced if the mean difference is > 0 with p < 0.05; not reproduced if <= 0 or p >= 0.05
            with a negative mean; otherwise inconclusive.
  "A ~ B"   reproduced if |mean difference| < 0.002 AUC and p >= 0.05; not reproduced if p < 0.05.
  "A >= B"  reproduced unless A is worse with p < 0.05.
  additive  gain(5) / (gain(3) + gain(4)) over scratch, defined only when both single-facet gains are > 0 with
            p < 0.05 (else inconclusive); "roughly additive" (reproduced) if the ratio is in [0.7, 1.3].
"""
from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

from reprorec.records import REPO_ROOT, iter_records

README = Path(__file__).resolve().parent / "README.md"
ARMS = ["no-id", "scratch", "scratch@capacity-32", "contrastive", "kge", "both", "contrastive-frozen", "kge-frozen",
        "both-frozen", "scratch-on-frozen"]
LABEL = {"no-id": "(1) no ID tables", "scratch": "(2) ID tables from scratch", "contrastive": "(3) contrastive-init",
         "kge": "(4) KGE-init", "both": "(5) both facets", "contrastive-frozen": "(3) frozen",
         "kge-frozen": "(4) frozen", "both-frozen": "(5) frozen",
         "scratch@capacity-32": "(2) scratch, 32-d + projection (capacity of (3))",
         "scratch-on-frozen": "(5) frozen + scratch tables (C1 with pretrained features)"}


def load(profile: str) -> dict:
    """{dataset: {arm: {seed: (test auc, test logloss)}}}; a study's records are arm '<method>@<study>'."""
    out: dict = defaultdict(lambda: defaultdict(dict))
    for r in iter_records():
        if r["paper"] == "mflet" and r["profile"] == profile and r.get("trial") is None and not r.get("tuned_from"):
            study = r.get("study") or r["config"].get("study")
            arm = r["method"] + (f"@{study}" if study else "")
            out[r["dataset"]][arm][r["seed"]] = (r["metrics"]["test"]["auc"], r["metrics"]["test"]["logloss"])
    return out


def paired(a: dict, b: dict) -> dict | None:
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return None
    d = np.array([a[s][0] - b[s][0] for s in seeds])
    p = float(stats.ttest_rel([a[s][0] for s in seeds], [b[s][0] for s in seeds]).pvalue) if d.std() > 0 else 1.0
    return {"mean": float(d.mean()), "std": float(d.std(ddof=1)), "p": p, "n": len(seeds), "d": d}


def verdict(kind: str, c: dict | None) -> str:
    if c is None:
        return "inconclusive (too few paired seeds)"
    m, p = c["mean"], c["p"]
    if kind == ">":
        return "reproduced" if m > 0 and p < 0.05 else ("not reproduced" if m <= 0 else "inconclusive (p >= 0.05)")
    if kind == "~":
        return "reproduced" if abs(m) < 0.002 and p >= 0.05 else ("not reproduced" if p < 0.05 else "inconclusive")
    if kind == ">=":
        return "not reproduced" if m < 0 and p < 0.05 else "reproduced"
    raise ValueError(kind)


def _fmt(c):
    return "—" if c is None else f"{c['mean']:+.4f} ± {c['std']:.4f} (p = {c['p']:.3f}, n = {c['n']})"


def tables(profile: str) -> str:
    data = load(profile)
    md = []
    for ds in sorted(data):
        arms = data[ds]
        md += [f"#### {ds} · profile `{profile}` — test AUC / logloss, mean ± std over seeds", "",
               "| arm | n | test AUC | test logloss | AUC vs (2) scratch, paired |", "|---|---:|---:|---:|---|"]
        for arm in ARMS:
            if arm not in arms:
                continue
            v = np.array(list(arms[arm].values()))
            sd = lambda x: f"{x.std(ddof=1):.4f}" if len(x) > 1 else "—"  # noqa: E731
            vs = _fmt(paired(arms[arm], arms["scratch"])) if arm != "scratch" and "scratch" in arms else ""
            md.append(f"| {LABEL[arm]} | {len(v)} | {v[:, 0].mean():.4f} ± {sd(v[:, 0])} | "
                      f"{v[:, 1].mean():.4f} ± {sd(v[:, 1])} | {vs} |")
        get = lambda a, b: paired(arms[a], arms[b]) if a in arms and b in arms else None  # noqa: E731
        md += ["", "| comparison | paired AUC difference (seeds only) | old per-comparison rule (no Holm, no test-row uncertainty; the verdicts are in ## Verdicts) |", "|---|---|---|"]
        for text, kind, a, b in [("(2) ≈ (1): scratch ID tables are neutral", "~", "scratch", "no-id"),
                                 ("(3) > (2): contrastive init beats scratch", ">", "contrastive", "scratch"),
                                 ("(4) > (2): KGE init beats scratch", ">", "kge", "scratch")]:
            c = get(a, b)
            md.append(f"| {text} | {_fmt(c)} | {verdict(kind, c)} |")
        for text, kind, a, b in [
                ("C1 with strong frozen pretrained features: scratch tables on top are neutral", "~",
                 "scratch-on-frozen", "both-frozen"),
                ("C2 capacity-matched: (3) > scratch 32-d + projection", ">", "contrastive", "scratch@capacity-32"),
                ("'+0.06% on top' (secondary source): (5) > (3)", ">", "both", "contrastive")]:
            c = get(a, b)
            if c:
                md.append(f"| {text} | {_fmt(c)} | {verdict(kind, c)} |")
        if all(a in arms for a in ("contrastive", "kge", "both")):
            best = max(("contrastive", "kge"), key=lambda a: np.mean([v[0] for v in arms[a].values()]))
            c = get("both", best)
            md.append(f"| (5) ≥ max((3), (4)) = ({'3' if best == 'contrastive' else '4'}) | {_fmt(c)} | "
                      f"{verdict('>=', c)} |")
            g3, g4, g5 = get("contrastive", "scratch"), get("kge", "scratch"), get("both", "scratch")
            if g3 and g4 and g5:
                denom = g3["mean"] + g4["mean"]
                both_sig = all(g["mean"] > 0 and g["p"] < 0.05 for g in (g3, g4))
                ratio = g5["mean"] / denom if both_sig else float("nan")
                add = "roughly additive" if 0.7 <= ratio <= 1.3 else ("sub-additive" if ratio < 0.7 else
                                                                     "super-additive" if ratio > 1.3 else "undefined")
                res = "reproduced" if add == "roughly additive" else ("inconclusive (a single-facet gain is not significant)"
                                                                      if np.isnan(ratio) else "not reproduced")
                md.append(f"| additivity: gain(5) vs gain(3) + gain(4) over (2) | {g5['mean']:+.4f} vs "
                          f"{g3['mean']:+.4f} + {g4['mean']:+.4f} = {denom:+.4f} (ratio {ratio:.2f}: {add}) | {res} |")
        for arm in ("contrastive", "kge", "both"):
            c = get(arm, f"{arm}-frozen")
            if c:
                md.append(f"| finetuned vs frozen, {LABEL[arm]} | {_fmt(c)} | "
                          f"{'finetuned better' if c['mean'] > 0 and c['p'] < 0.05 else 'frozen better' if c['mean'] < 0 and c['p'] < 0.05 else 'no significant difference'} |")
        md.append("")
    return "\n".join(md)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="full")
    ap.add_argument("--readme", action="store_true", help="rewrite the block between the claims markers in README.md")
    args = ap.parse_args(argv)
    text = tables(args.profile)
    print(text)
    if args.readme:
        bench = sorted((REPO_ROOT / "results" / "benchmarks").glob("serving-*.md"))
        serving = "\n".join(p.read_text() for p in bench if not p.name.startswith("serving-beyond-memory"))
        beyond = "\n".join(p.read_text() for p in bench if p.name.startswith("serving-beyond-memory"))
        body = README.read_text()
        for tag, block in ((f"arms-{args.profile}", text), ("serving", serving), ("serving-beyond", beyond)):
            body = re.sub(rf"(<!-- {tag}:begin -->\n).*?(<!-- {tag}:end -->)", lambda m: m.group(1) + block + m.group(2),
                          body, flags=re.S)
        README.write_text(body)


if __name__ == "__main__":
    main()
