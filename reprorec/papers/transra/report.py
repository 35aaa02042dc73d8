"""Tables for the README from result records: ranking (a)-(d) with paired tests against (a) and against the
data control (a'), and link prediction.

  python -m reprorec.papers.transra.report [--profile full]      # prints markdown
  python -m reprorec.papers.transra.report --readme              # rewrites README.md's results block
  python -m reprorec.papers.transra.report --negatives           # Amazon: sampled non-clicks of not-yet-reviewed items

Paired comparison: for each seed present in both a variant and (a), the difference in test AUC (the seed
fixes the ranking model's initialisation and batch order, and the KGE seed; the time windows are
fixed), by the claims layer (reprorec.claims.compare: mean difference, p-value over seeds and, where
records carry bootstrap replicates, test rows). Verdicts: claims.yaml (`reprorec claims transra`).
"""
from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from reprorec.claims import compare, mean_std
from reprorec.records import iter_records
from reprorec.registry import experiment_name
from reprorec.studies import label

RANKING = ["backbone", "backbone-pretrain", "backbone-pretrain-reviewed", "kge-features", "kge-init", "kge-attention-transe",
           "kge-attention-transr", "kge-attention-transra", "kge-attention-transra-pretrain"]
KGE_VARIANTS = RANKING[3:]
CONTROLS = {"backbone-pretrain": "(a')", "backbone-pretrain-reviewed": "(a'')"}
LABEL = {"backbone": "(a) backbone, ID tables from scratch",
         "backbone-pretrain": "(a') (a) trained on pretraining + train windows",
         "backbone-pretrain-reviewed": "(a'') (a') without non-clicks of not-yet-reviewed items",
         "kge-features": "(b) + frozen KGE features (TransRA)",
         "kge-init": "(c) + ID tables initialised from KGE (TransRA)", "kge-attention-transe": "(d) attention, TransE",
         "kge-attention-transr": "(d) attention, TransR", "kge-attention-transra": "(d) attention, TransRA (interp.)",
         "kge-attention-transra-pretrain": "(d') (d)-TransRA trained on pretraining + train windows"}


def collect(profile: str) -> dict:
    """(dataset, experiment name) -> {seed: record}; the newest record wins when a seed was run twice."""
    out: dict = defaultdict(dict)
    for r in sorted(iter_records(), key=lambda r: r.get("created", "")):
        if r["paper"] == "transra" and r["profile"] == profile and r.get("trial") is None:
            study = label(r)  # a study's runs are their own arm, never a seed of the main experiment
            out[(r["dataset"], experiment_name(r) + (f"@{study}" if study else ""))][r["seed"]] = r
    return out


_ms = mean_std


def paired(a: dict, b: dict, metric: str = "auc"):
    """Mean difference b - a over the paired seeds, its std, p-value, n (reprorec.claims.compare)."""
    c = compare(b, a, metric)
    return c["mean"], c["std"], c["p"], c["n"]


def _paired_cells(base: dict, runs: dict) -> str:
    """'ΔAUC ± std | p | wins/n' of ``runs`` against ``base`` over their common seeds."""
    md, sd, p, n = paired(base, runs)
    common = sorted(set(base) & set(runs))
    wins = sum(runs[s]["metrics"]["test"]["auc"] > base[s]["metrics"]["test"]["auc"] for s in common)
    return f"{md:+.4f} ± {sd:.4f} | {p:.3g} | {wins}/{n}"


def ranking_table(recs: dict, dataset: str) -> str:
    rows = ["| variant | n | test AUC | test logloss | ΔAUC vs (a) (paired) | p (paired t) | wins / n |",
            "|---|---|---|---|---|---|---|"]
    base = recs.get((dataset, "backbone"), {})
    for m in RANKING:
        runs = recs.get((dataset, m), {})
        if not runs:
            continue
        auc = _ms([r["metrics"]["test"]["auc"] for r in runs.values()])
        ll = _ms([r["metrics"]["test"]["logloss"] for r in runs.values()])
        cells = "— | — | —" if m == "backbone" else _paired_cells(base, runs)
        rows.append(f"| {LABEL[m]} | {len(runs)} | {auc[0]:.4f} ± {auc[1]:.4f} | {ll[0]:.4f} ± {ll[1]:.4f} | {cells} |")
    return "\n".join(rows)


def control_table(recs: dict, dataset: str, control: str = "backbone-pretrain") -> str:
    """The KGE variants paired against a data control ((a') or (a'')), which trains on the windows the graph covers."""
    base = recs.get((dataset, control), {})
    if not base:
        return ""
    rows = [f"| variant | ΔAUC vs {CONTROLS[control]} (paired) | p (paired t) | wins / n |", "|---|---|---|---|"]
    rows += [f"| {LABEL[m]} | {_paired_cells(base, recs[(dataset, m)])} |" for m in KGE_VARIANTS if recs.get((dataset, m))]
    return "\n".join(rows)


def lp_table(recs: dict, dataset: str) -> str:
    rows = ["| KGE model | n | test MRR | Hits@1 | Hits@3 | Hits@10 | epochs |", "|---|---|---|---|---|---|---|"]
    for m in ("lp-transe", "lp-transr", "lp-transra"):
        runs = recs.get((dataset, m), {})
        if not runs:
            continue
        cells = [_ms([r["metrics"]["test"][k] for r in runs.values()]) for k in ("mrr", "hits@1", "hits@3", "hits@10")]
        ep = mean_std(r["epochs"] for r in runs.values())[0]
        rows.append(f"| {m[3:]} | {len(runs)} | " + " | ".join(f"{a:.4f} ± {b:.4f}" for a, b in cells) + f" | {ep:.1f} |")
    return "\n".join(rows)


def pairwise(recs: dict, dataset: str, a: str, b: str) -> str:
    ra, rb = recs.get((dataset, a), {}), recs.get((dataset, b), {})
    md, sd, p, n = paired(ra, rb)
    wins = sum(rb[s]["metrics"]["test"]["auc"] > ra[s]["metrics"]["test"]["auc"] for s in set(ra) & set(rb))
    return f"{b} − {a}: ΔAUC {md:+.4f} ± {sd:.4f} (paired t p = {p:.3g}, {wins}/{n} seeds favour {b})"


def unseen_item_negatives(dataset: str = "amazon-musical-instruments", windows=(0.5, 0.8, 0.9)) -> dict:
    """Per time window of the Amazon CTR proxy: {window: (rows, sampled non-clicks, of which the item had
    no real review yet at that time)}. The proxy draws non-clicks uniformly from all items of the file
    (as ``reprorec.data.ctr.load_amazon_ctr`` does, same seed); early on many are items nobody
    has reviewed yet, and a ranker trained on that window learns them as negatives. Recomputed here
    from the raw reviews, independently of ``methods.reviewed_item_rows``."""
    import numpy as np
    import pandas as pd

    from reprorec.data import amazon
    from reprorec.data.ctr import sample_negatives, window_split

    t = amazon.load_reviews(dataset).frame.rename(columns={"user_id": "user", "item_id": "item"})
    reviews = t[["user", "item", "rating", "timestamp"]].assign(label=(t["rating"] >= 4).astype(np.int8), sampled=False)
    frame = pd.concat([reviews, sample_negatives(reviews, 1, 0)], ignore_index=True)
    first_review = reviews.groupby("item")["timestamp"].min()
    out = {}
    for w, idx in window_split(frame["timestamp"].to_numpy(), windows).items():
        neg = frame.iloc[idx]
        neg = neg[neg["sampled"]]
        out[w] = (len(idx), len(neg), int((first_review.loc[neg["item"]].to_numpy() > neg["timestamp"].to_numpy()).sum()))
    return out


def negatives_table(counts: dict) -> str:
    rows = ["| window | rows | sampled non-clicks | of which item not yet reviewed |", "|---|---|---|---|"]
    rows += [f"| {w} | {n} | {s} | {u} ({u / s:.1%}) |" for w, (n, s, u) in counts.items()]
    return "\n".join(rows)


def render(profile: str) -> str:
    """The README's results tables (between its results markers) for one profile."""
    recs = collect(profile)
    out = []
    for ds in sorted({d for d, _ in recs if not d.endswith("-graph")}):
        out.append(f"#### {ds} · ranking ({profile})\n\n{ranking_table(recs, ds)}\n")
        for name, short in CONTROLS.items():
            control = control_table(recs, ds, name)
            if control:
                out.append(f"Against the data control {short}, paired over common seeds:\n\n{control}\n")
        lines = [pairwise(recs, ds, "kge-attention-transr", "kge-attention-transra"),
                 pairwise(recs, ds, "kge-features", "kge-attention-transra")]
        if recs.get((ds, "kge-attention-transra-pretrain")):
            lines.append(pairwise(recs, ds, "backbone-pretrain", "kge-attention-transra-pretrain"))
        out.append("\n".join(f"- {x}" for x in lines) + "\n")
        out.append(f"#### {ds} · link prediction on held-out graph edges ({profile})\n\n{lp_table(recs, ds)}\n")
    return "\n".join(out)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--profile", default="full")
    ap.add_argument("--negatives", action="store_true", help="only the Amazon unseen-item negatives table")
    ap.add_argument("--readme", action="store_true", help="rewrite the block between the results markers in README.md")
    args = ap.parse_args(argv)
    if args.negatives:
        print(negatives_table(unseen_item_negatives()))
        return
    text = render(args.profile)
    if args.readme:
        from reprorec.claims import replace_block

        readme = Path(__file__).with_name("README.md")
        readme.write_text(replace_block(readme.read_text(), text.rstrip("\n"), tag="results"))
        print(f"wrote {readme}")
    else:
        print(text)


if __name__ == "__main__":
    main()
