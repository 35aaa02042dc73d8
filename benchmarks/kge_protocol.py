"""The KGE protocol as a studied choice: typed vs untyped negatives x type-restricted vs all-entity candidates.

On the heterogeneous ML-100K graph (users, items, genres, gender/age/occupation buckets), typed negatives
corrupt a user -> item edge only with items; untyped ones with any of the 2,006 entities. Link prediction
can rank the true entity among all entities or only among entities of the type the relation expects.
Nobody chose the protocol that feeds MF-LET and TransRA on purpose; this study chooses it.

Part 1, link prediction (the production path, ``reprorec.papers.transra.pretrain.pretrained_kge`` with the
``ml-100k-ctr-lp-<model>`` configs, full profile): for TransE, TransR and TransRA, each of the four
protocols (negatives typed|untyped; candidates all|typed, used both for early stopping on validation MRR
and for the reported test MRR), seeds 0..S-1. Test MRR / Hits@10 under every protocol are reported;
test numbers play no part in the choice.

Part 2, downstream (the choice). RULE, fixed before any of these runs: the protocol that feeds MF-LET and
TransRA is the one whose KGE-fed arm has the highest mean *validation* AUC over the seeds —
  MF-LET: arm ``kge`` (ml-100k-ctr); its facet trains without a validation step, so only the negatives axis
          applies (facets.kge.train.typed_negatives);
  TransRA: ``kge-attention-transra`` (ml-100k-ctr), all four protocols (kge.train.typed_negatives,
          kge.eval_candidates).
The current protocol (typed negatives, all-entity candidates) is kept unless another one beats it by more
than the standard error of the paired per-seed differences of validation AUC.

Runs go to a scratch results/runs folder (no records in results/ besides this benchmark's own):

  python benchmarks/kge_protocol.py [--seeds 3] [--parts lp downstream]
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROTOCOLS = {  # name -> (typed negatives, evaluation candidates)
    "typed-neg/all-cand": (True, "all"),
    "typed-neg/typed-cand": (True, "typed"),
    "untyped-neg/all-cand": (False, "all"),
    "untyped-neg/typed-cand": (False, "typed"),
}
CURRENT = "typed-neg/all-cand"
LP_MODELS = ("transe", "transr", "transra")


def _mean_std(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def link_prediction(seeds: list[int], log, models=LP_MODELS) -> list[dict]:
    from reprorec import config as C
    from reprorec.ctr.run import data_from_cfg
    from reprorec.papers.transra.data import build_graph
    from reprorec.papers.transra.pretrain import pretrained_kge

    rows = []
    data = graph = None
    for model in models:
        raw = C.load(REPO / f"reprorec/papers/transra/configs/ml-100k-ctr-lp-{model}.yaml")
        for name, (typed, cands) in PROTOCOLS.items():
            cfg = C.resolve(raw, "full", [f"kge.train.typed_negatives={str(typed).lower()}", f"kge.eval_candidates={cands}"])
            if graph is None:  # one graph for every model: the lp configs share the graph block
                data = data_from_cfg(cfg)
                graph = build_graph(data, cfg["dataset"], **C.settings(cfg).graph.model_dump())
            for seed in seeds:
                c0 = time.process_time()
                pre = pretrained_kge(cfg, graph, seed)
                row = {"part": "lp", "model": model, "protocol": name, "seed": seed, "epochs": pre.info["epochs"],
                       "val": pre.metrics["val"], "test": pre.metrics["test"], "cpu_s": time.process_time() - c0,
                       "loadavg_1min_end": round(os.getloadavg()[0], 2)}
                log(f"lp {model} {name} seed {seed}: test mrr {row['test']['mrr']:.4f} hits@10 "
                    f"{row['test']['hits@10']:.4f} ({row['epochs']} epochs)")
                rows.append(row)
    return rows


def downstream(seeds: list[int], log) -> list[dict]:
    from reprorec.experiment import run_experiment
    from reprorec.train import RunContext

    ctx = RunContext(progress=False, evaluate_test=False)
    arms = [("mflet", "reprorec/papers/mflet/configs/ml-100k-ctr-kge.yaml",
             {n: [f"facets.kge.train.typed_negatives={str(t).lower()}"] for n, (t, c) in PROTOCOLS.items() if c == "all"}),
            ("transra", "reprorec/papers/transra/configs/ml-100k-ctr-kge-attention-transra.yaml",
             {n: [f"kge.train.typed_negatives={str(t).lower()}", f"kge.eval_candidates={c}"]
              for n, (t, c) in PROTOCOLS.items()})]
    rows = []
    for paper, path, variants in arms:
        for seed in seeds:  # seed-major: every protocol of a seed runs back to back (paired differences)
            for name, overrides in variants.items():
                c0 = time.process_time()
                out = run_experiment(REPO / path, profile="full", seed=seed, overrides=overrides, ctx=ctx, write=False)
                if out.status == "failed":
                    raise SystemExit(f"{paper} {name} seed {seed} failed: {out.error}")
                auc = out.record["metrics"]["val"]["auc"]
                rows.append({"part": "downstream", "paper": paper, "method": out.record["method"], "protocol": name,
                             "seed": seed, "val_auc": auc, "cpu_s": time.process_time() - c0,
                             "loadavg_1min_end": round(os.getloadavg()[0], 2)})
                log(f"downstream {paper} {name} seed {seed}: val auc {auc:.4f}")
    return rows


def choose(rows: list[dict]) -> dict:
    """Apply the rule of the module docstring to the downstream rows."""
    out = {}
    for paper in sorted({r["paper"] for r in rows}):
        by = {}
        for r in rows:
            if r["paper"] == paper:
                by.setdefault(r["protocol"], {})[r["seed"]] = r["val_auc"]
        means = {p: statistics.mean(v.values()) for p, v in by.items()}
        best = max(means, key=means.get)
        seeds = sorted(set(by[best]) & set(by[CURRENT]))
        diffs = [by[best][s] - by[CURRENT][s] for s in seeds]
        se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else float("inf")
        margin = statistics.mean(diffs) if diffs else 0.0
        chosen = best if best != CURRENT and margin > se else CURRENT
        out[paper] = {"val_auc": {p: {"mean": m, "std": _mean_std(list(by[p].values()))[1], "n": len(by[p])}
                                  for p, m in means.items()},
                      "best_by_mean": best, "margin_over_current": margin, "paired_se": se, "chosen": chosen}
    return out


def lp_summary(rows: list[dict]) -> dict:
    out = {}
    for model in LP_MODELS:
        for name in PROTOCOLS:
            xs = [r for r in rows if r["model"] == model and r["protocol"] == name]
            if xs:
                out[f"{model}/{name}"] = {"test_mrr": _mean_std([r["test"]["mrr"] for r in xs]),
                                          "test_hits@10": _mean_std([r["test"]["hits@10"] for r in xs]),
                                          "val_mrr": _mean_std([r["val"]["mrr"] for r in xs]), "n": len(xs)}
    return out


def table(record: dict) -> str:
    s = record["summary"]
    lines = ["| model | protocol (negatives / candidates) | test MRR | test Hits@10 | seeds |", "|---|---|---:|---:|---:|"]
    for key, e in s.get("link_prediction", {}).items():
        model, proto = key.split("/", 1)
        lines.append(f"| {model} | {proto} | {e['test_mrr'][0]:.4f} ± {e['test_mrr'][1]:.4f} | "
                     f"{e['test_hits@10'][0]:.4f} ± {e['test_hits@10'][1]:.4f} | {e['n']} |")
    for paper, c in s.get("choice", {}).items():
        lines += ["", f"**{paper}** (validation AUC of the KGE-fed arm; chosen: `{c['chosen']}`; best by mean "
                  f"`{c['best_by_mean']}`, margin over current {c['margin_over_current']:+.4f}, paired SE "
                  f"{c['paired_se']:.4f})", "", "| protocol | val AUC mean ± std | seeds |", "|---|---:|---:|"]
        for p, v in c["val_auc"].items():
            lines.append(f"| {p} | {v['mean']:.4f} ± {v['std']:.4f} | {v['n']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="?", default="run", choices=["run", "report"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--downstream-seeds", type=int, default=None, help="seeds of the downstream arms (default --seeds)")
    ap.add_argument("--lp-models", nargs="+", default=list(LP_MODELS), choices=list(LP_MODELS))
    ap.add_argument("--parts", nargs="+", default=["lp", "downstream"], choices=["lp", "downstream"])
    ap.add_argument("--name", default="kge_protocol")
    ap.add_argument("--allow-dirty", action="store_true")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import json

    import record as bench_record

    if args.what == "report":
        print(table(json.loads((REPO / "results" / "benchmarks" / f"{args.name}.json").read_text())))
        return 0
    scratch = tempfile.mkdtemp(prefix="kge-protocol-")
    os.environ["REPRO_RUNS_DIR"] = os.environ["REPRO_RESULTS_DIR"] = scratch
    os.environ.setdefault("REPRO_THREADS", "1")
    from reprorec.train import set_threads

    set_threads()

    def log(msg):
        print(msg, flush=True)
    seeds = list(range(args.seeds))
    down_seeds = list(range(args.downstream_seeds if args.downstream_seeds is not None else args.seeds))
    rows = (link_prediction(seeds, log, args.lp_models) if "lp" in args.parts else []) + \
        (downstream(down_seeds, log) if "downstream" in args.parts else [])
    summary = {"link_prediction": lp_summary([r for r in rows if r["part"] == "lp"]),
               "choice": choose([r for r in rows if r["part"] == "downstream"]),
               "rule": __doc__.split("RULE, fixed before any of these runs: ")[1].split("\n\nRuns go")[0]}
    for r in rows:
        r.setdefault("impl", r["protocol"])
        r.setdefault("rep", r["seed"])
    path = bench_record.write(args.name, reps=rows, summary=summary,
                              settings={"protocols": PROTOCOLS, "current": CURRENT, "seeds": seeds,
                                        "downstream_seeds": down_seeds, "lp_models": args.lp_models, "profile": "full"},
                              data={"dataset": "ml-100k-ctr (graph: pretraining window)"}, allow_dirty=args.allow_dirty)
    print(table(json.loads(path.read_text())))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
