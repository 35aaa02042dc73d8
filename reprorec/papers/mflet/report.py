"""MF-LET's arms on our records: the per-arm table and the paired differences behind the claims.

  python -m reprorec.papers.mflet.report --profile full            print the tables (markdown)
  python -m reprorec.papers.mflet.report --profile full --readme   also rewrite them (and the serving tables from
                                                            results/benchmarks/) into reprorec/papers/mflet/README.md

Every difference here is reprorec.claims.compare (runs paired by seed; the interval covers test-row
sampling too when the records carry bootstrap replicates). These tables describe; the verdicts, with
their pre-registered rules and Holm's adjustment, are the claims engine's (`reprorec claims mflet`,
README ## Verdicts).
"""
from __future__ import annotations

import argparse
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from reprorec.claims import compare
from reprorec.studies import label
from reprorec.records import REPO_ROOT, iter_records
from reprorec.registry import experiment_name

README = Path(__file__).resolve().parent / "README.md"
ARMS = ["no-id", "scratch", "scratch@capacity-32", "contrastive", "kge", "both", "contrastive-frozen", "kge-frozen",
        "both-frozen", "scratch-on-frozen"]
LABEL = {"no-id": "(1) no ID tables", "scratch": "(2) ID tables from scratch", "contrastive": "(3) contrastive-init",
         "kge": "(4) KGE-init", "both": "(5) both facets", "contrastive-frozen": "(3) frozen",
         "kge-frozen": "(4) frozen", "both-frozen": "(5) frozen",
         "scratch@capacity-32": "(2) scratch, 32-d + projection (capacity of (3))",
         "scratch-on-frozen": "(5) frozen + scratch tables (C1 with pretrained features)"}


def load(profile: str) -> dict:
    """{dataset: {arm: {seed: record}}}: arm = the record's experiment (registry.experiment_name: both and
    both-frozen share method both); a study's records are arm '<experiment>@<study>'."""
    out: dict = defaultdict(lambda: defaultdict(dict))
    for r in iter_records():
        if r["paper"] == "mflet" and r["profile"] == profile and r.get("trial") is None and not r.get("tuned_from"):
            study = label(r)  # the study's name ({'name': ...} in the config)
            arm = experiment_name(r) + (f"@{study}" if study else "")
            out[r["dataset"]][arm][r["seed"]] = r
    return out


def paired(a: dict, b: dict) -> dict | None:
    """A − B in test AUC over the seeds both arms have (None below two)."""
    if len(set(a) & set(b)) < 2:
        return None
    return compare(a, b, "auc")


def _fmt(c):
    if c is None:
        return "—"
    return (f"{c['mean']:+.4f} [95% {c['ci'][0]:+.4f}, {c['ci'][1]:+.4f}] (p = {c['p']:.3f}, n = {c['n']}, "
            f"{'seeds + test rows' if c['rows'] else 'seeds only'})")


COMPARISONS = [  # (what the row shows, A, B): the differences the claims (claims.yaml) and controls rest on
    ("(2) − (1): scratch ID tables vs none (C1)", "scratch", "no-id"),
    ("(3) − (2): contrastive init vs scratch (C2)", "contrastive", "scratch"),
    ("(4) − (2): KGE init vs scratch (C3)", "kge", "scratch"),
    ("(5) − (3): both facets vs contrastive (C4a)", "both", "contrastive"),
    ("(5) − (4): both facets vs KGE (C4a)", "both", "kge"),
    ("control: (5) frozen + scratch tables − (5) frozen (C1 with pretrained features)", "scratch-on-frozen", "both-frozen"),
    ("control: (3) − scratch 32-d + projection (C2 at (3)'s capacity)", "contrastive", "scratch@capacity-32"),
    ("finetuned − frozen, (3) contrastive", "contrastive", "contrastive-frozen"),
    ("finetuned − frozen, (4) KGE", "kge", "kge-frozen"),
    ("finetuned − frozen, (5) both", "both", "both-frozen"),
]


def tables(profile: str) -> str:
    data = load(profile)
    md = []
    for ds in sorted(data):
        arms = data[ds]
        md += [f"#### {ds} · profile `{profile}` — test AUC / logloss, mean ± std over seeds", "",
               "| arm | n | test AUC | test logloss |", "|---|---:|---:|---:|"]
        for arm in ARMS:
            if arm not in arms:
                continue
            v = np.array([(r["metrics"]["test"]["auc"], r["metrics"]["test"]["logloss"]) for r in arms[arm].values()])
            sd = lambda x: f"{x.std(ddof=1):.4f}" if len(x) > 1 else "—"  # noqa: E731
            md.append(f"| {LABEL[arm]} | {len(v)} | {v[:, 0].mean():.4f} ± {sd(v[:, 0])} | "
                      f"{v[:, 1].mean():.4f} ± {sd(v[:, 1])} |")
        md += ["", "| paired difference in test AUC | A − B, 95% CI (unadjusted; verdicts in ## Verdicts) |", "|---|---|"]
        for text, a, b in COMPARISONS:
            if a in arms and b in arms:
                md.append(f"| {text} | {_fmt(paired(arms[a], arms[b]))} |")
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
