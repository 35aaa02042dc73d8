"""KGE training throughput and link prediction side by side: reprorec.kge vs PyKEEN 1.11.1.

Graphs (both sides get the same id-mapped train/val/test arrays):
  ml-100k-ctr-graph  the TransRA/MF-LET graph: the ML-100K pretraining window (users, items, engage/convert
                     edges, user and genre attributes; 2,006 entities, 7 relations), split 90/5/5 as
                     reprorec/papers/transra/pretrain.py does (seed 0). Settings of the TransRA link-prediction
                     configs: dim 32, L2 scoring, 2 negatives per positive, batch 2048, Adam 5e-3, 12 epochs.
  ml-100k-kg         the Freebase KG of ML-100K movies (5,233 entities, 29 relations), split 80/10/10; L1
                     scoring, 1 negative, batch 512, Adam 3e-3, dim 64 (TransE) / 32 (TransR), 40 / 20 epochs.
Protocol (both sides): sLCWA, negatives corrupt head or tail uniformly over all entities (PyKEEN's basic
sampler; ours typed=False, filtered=False), margin ranking loss (margin 1), fixed epochs, no early stopping;
filtered both-sided realistic MRR / Hits@K on test (filter = train + val + test).
PyKEEN has no TransRA: our TransRA is set beside PyKEEN's TransR (TransRA is TransR with identity
projections for the anchor relation, so it does no more work than TransR); the PyKEEN TransR run of the
same rep, graph and settings serves as that peer (marked ``reused_from``) rather than being run twice.

What is timed: CPU-seconds (time.process_time) of the training loop only, one torch thread, after an untimed
warm-up (a throwaway model, one epoch on two batches: first-call costs such as lazy imports are not
training). One process per (implementation, model, graph, rep); repetitions are interleaved: rep r runs every
pair once (ours, then PyKEEN, seed r) before rep r+1, so the shared machine's load hits both alike. The
1-minute load average at the start and end of each process is recorded.

PyKEEN lives in its own venv (``python3 -m venv /work/peers/pykeen``; ``pip install torch==2.13.0`` first,
then ``pykeen==1.11.1``). Run from a clean worktree at a main commit (the record refuses dirty code):

  python benchmarks/kge_parity.py [--reps 3] [--pykeen-python /work/peers/pykeen/bin/python]
  python benchmarks/kge_parity.py report        # the markdown table of results/benchmarks/kge_parity.json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
GRAPHS = {
    "ml-100k-ctr-graph": {"models": ["transe", "transr", "transra"],
                          "settings": {"p": 2, "num_negs": 2, "batch_size": 2048, "lr": 0.005, "epochs": 12,
                                       "dim": {"transe": 32, "transr": 32, "transra": 32}}},
    "ml-100k-kg": {"models": ["transe", "transr"],
                   "settings": {"p": 1, "num_negs": 1, "batch_size": 512, "lr": 0.003,
                                "epochs": {"transe": 40, "transr": 20}, "dim": {"transe": 64, "transr": 32}}},
}
PEER_MODEL = {"transe": "TransE", "transr": "TransR", "transra": "TransR"}


def _per_model(s: dict, model: str) -> dict:
    return {k: (v[model] if isinstance(v, dict) else v) for k, v in s.items()}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _load(prefix: str) -> dict:
    return {f"loadavg_1min_{prefix}": round(os.getloadavg()[0], 2)}


def run_ours(arrays: dict, model: str, s: dict, seed: int) -> dict:
    import torch

    from reprorec.kge import KGETrainConfig, KnownTriples, TripleSet, build_model, evaluate, train_kge

    torch.set_num_threads(1)
    E, R = int(arrays["n_entities"]), int(arrays["n_relations"])
    anchors = {"anchor_relations": [int(a) for a in arrays["anchors"]]} if model == "transra" else {}
    train = TripleSet(torch.as_tensor(arrays["train"]), E, R)

    def make():
        return build_model(model, E, R, s["dim"], relation_dim=s["dim"], p=s["p"], **anchors)

    def cfg(epochs):
        return KGETrainConfig(epochs=epochs, batch_size=s["batch_size"], lr=s["lr"], loss="margin", margin=1.0,
                              num_negs=s["num_negs"], seed=seed)
    warm = TripleSet(train.triples[:2 * s["batch_size"]], E, R)
    train_kge(make(), warm, cfg(1))                         # untimed warm-up on a throwaway model
    torch.manual_seed(seed)
    m = make()
    out = _load("start")
    c0, t0 = time.process_time(), time.perf_counter()
    train_kge(m, train, cfg(s["epochs"]))
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    everything = torch.as_tensor(np.concatenate([arrays["train"], arrays["val"], arrays["test"]]))
    metrics = evaluate(m, torch.as_tensor(arrays["test"]), KnownTriples(everything, E, R))
    n = len(arrays["train"]) * s["epochs"]
    return {**out, "metrics": metrics, "cpu_s": cpu, "wall_s": wall, "triples_per_cpu_s": n / cpu,
            "peak_rss_mb": _peak_mb(), **_load("end")}


def run_pykeen(arrays: dict, model: str, s: dict, seed: int) -> dict:
    """Runs inside the PyKEEN venv: no import of this repository's code."""
    import torch
    from pykeen.evaluation import RankBasedEvaluator
    from pykeen.models import TransE, TransR
    from pykeen.training import SLCWATrainingLoop
    from pykeen.triples import TriplesFactory
    from pykeen.utils import set_random_seed

    torch.set_num_threads(1)
    E, R = int(arrays["n_entities"]), int(arrays["n_relations"])
    e2id, r2id = {str(i): i for i in range(E)}, {str(i): i for i in range(R)}
    tf = {k: TriplesFactory(mapped_triples=torch.as_tensor(arrays[k]), entity_to_id=e2id, relation_to_id=r2id)
          for k in ("train", "val", "test")}
    cls = {"TransE": TransE, "TransR": TransR}[PEER_MODEL[model]]

    def make(factory):
        kw = {"embedding_dim": s["dim"], "scoring_fct_norm": s["p"]} | \
             ({"relation_dim": s["dim"]} if cls is TransR else {})
        m = cls(triples_factory=factory, loss="marginranking", loss_kwargs={"margin": 1.0}, **kw)
        loop = SLCWATrainingLoop(model=m, triples_factory=factory, optimizer=torch.optim.Adam(m.parameters(), lr=s["lr"]),
                                 negative_sampler="basic", negative_sampler_kwargs={"num_negs_per_pos": s["num_negs"]})
        return m, loop

    warm_tf = TriplesFactory(mapped_triples=torch.as_tensor(arrays["train"][:2 * s["batch_size"]]),
                             entity_to_id=e2id, relation_to_id=r2id)
    _, warm = make(warm_tf)
    warm.train(triples_factory=warm_tf, num_epochs=1, batch_size=s["batch_size"], use_tqdm=False)
    set_random_seed(seed)
    m, loop = make(tf["train"])
    out = _load("start")
    c0, t0 = time.process_time(), time.perf_counter()
    loop.train(triples_factory=tf["train"], num_epochs=s["epochs"], batch_size=s["batch_size"], use_tqdm=False)
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    res = RankBasedEvaluator(filtered=True).evaluate(
        m, tf["test"].mapped_triples, additional_filter_triples=[tf["train"].mapped_triples, tf["val"].mapped_triples],
        batch_size=256, use_tqdm=False)
    metrics = {"mrr": float(res.get_metric("both.realistic.inverse_harmonic_mean_rank"))}
    metrics.update({f"hits@{k}": float(res.get_metric(f"both.realistic.hits_at_{k}")) for k in (1, 3, 10)})
    n = len(arrays["train"]) * s["epochs"]
    return {**out, "metrics": metrics, "cpu_s": cpu, "wall_s": wall, "triples_per_cpu_s": n / cpu,
            "peak_rss_mb": _peak_mb(), **_load("end")}


def graph_arrays(name: str) -> tuple[dict, dict]:
    """The id-mapped split of one graph (as numpy arrays) and the data files it came from."""
    from reprorec.kge import TripleSet, split_triples

    if name == "ml-100k-kg":
        from reprorec.data import kg

        table = kg.load_triples()
        ts, anchors, files, ratios = TripleSet.from_labels(table.frame), [], table.files, (0.8, 0.1, 0.1)
    else:
        from reprorec import config as C
        from reprorec.ctr.run import data_from_cfg
        from reprorec.papers.transra.data import build_graph
        from reprorec.papers.transra.methods import ctr_dataset
        from reprorec.papers.transra.pretrain import kge_settings

        cfg = C.resolve(C.load(REPO / "reprorec/papers/transra/configs/ml-100k-ctr-graph-lp-transra.yaml"), "full")
        base = dict(cfg, dataset=ctr_dataset(cfg))
        data = data_from_cfg(base)
        graph = build_graph(data, base["dataset"], **dict(C.get(cfg, "graph", {}) or {}))
        ts, anchors = graph.triples, graph.anchor_relation_ids(kge_settings(base)["anchors"])
        files, ratios = getattr(data, "files", {}), tuple(kge_settings(base)["split"])
    parts = split_triples(ts, ratios, seed=0)
    out = {k: v.triples.numpy() for k, v in parts.items()}
    out.update(n_entities=np.int64(ts.n_entities), n_relations=np.int64(ts.n_relations),
               anchors=np.asarray(anchors, dtype=np.int64))
    return out, {"files": files, "split": f"reprorec.kge.split_triples{ratios}, seed 0",
                 "sizes": {k: int(len(out[k])) for k in ("train", "val", "test")},
                 "n_entities": int(ts.n_entities), "n_relations": int(ts.n_relations)}


def summarise(reps: list[dict]) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from record import ratio_summary

    out = {}
    for graph, spec in GRAPHS.items():
        for model in spec["models"]:
            rows = [dict(r, impl=r["library"]) for r in reps if r["graph"] == graph and r["model"] == model]
            if not rows:
                continue
            entry = {"throughput": ratio_summary(rows, "ours", "pykeen", "triples_per_cpu_s"),
                     "peer_model": PEER_MODEL[model]}
            for lib in ("ours", "pykeen"):
                xs = [r for r in rows if r["library"] == lib]
                mrr = [r["metrics"]["mrr"] for r in xs]
                entry[lib] = {"triples_per_cpu_s_median": statistics.median(r["triples_per_cpu_s"] for r in xs),
                              "triples_per_cpu_s_min": min(r["triples_per_cpu_s"] for r in xs),
                              "triples_per_cpu_s_max": max(r["triples_per_cpu_s"] for r in xs),
                              "mrr_mean": statistics.mean(mrr), "mrr_std": statistics.stdev(mrr) if len(mrr) > 1 else 0.0,
                              "hits@10_mean": statistics.mean(r["metrics"]["hits@10"] for r in xs),
                              "peak_rss_mb": max(r["peak_rss_mb"] for r in xs), "n": len(xs)}
            out[f"{graph}/{model}"] = entry
    return out


def table(record: dict) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from record import fmt_ratio

    lines = ["| graph | model (PyKEEN peer) | ours triples/CPU-s median [min–max] | PyKEEN triples/CPU-s | "
             "ours/PyKEEN [per-rep range] | test MRR ours | test MRR PyKEEN | Hits@10 ours / PyKEEN | reps |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key, e in record["summary"].items():
        graph, model = key.split("/")
        o, p = e["ours"], e["pykeen"]
        lines.append(f"| {graph} | {model} ({e['peer_model']}) | {o['triples_per_cpu_s_median']:,.0f} "
                     f"[{o['triples_per_cpu_s_min']:,.0f}–{o['triples_per_cpu_s_max']:,.0f}] | "
                     f"{p['triples_per_cpu_s_median']:,.0f} | {fmt_ratio(e['throughput'])} | "
                     f"{o['mrr_mean']:.4f} ± {o['mrr_std']:.4f} | {p['mrr_mean']:.4f} ± {p['mrr_std']:.4f} | "
                     f"{o['hits@10_mean']:.3f} / {p['hits@10_mean']:.3f} | {o['n']} |")
    load = record.get("load", {})
    lines.append(f"\n1-minute load average over the runs: median {load.get('median')}, range "
                 f"{load.get('min')}–{load.get('max')} (2 cores, shared); commit {record['code']['commit'][:10]}.")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", nargs="?", default="run", choices=["run", "report"])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--graphs", nargs="+", default=list(GRAPHS))
    ap.add_argument("--models", nargs="+", default=None)
    ap.add_argument("--epochs", type=int, default=None, help="override every setting's epochs (smoke runs)")
    ap.add_argument("--name", default="kge_parity")
    ap.add_argument("--allow-dirty", action="store_true")
    ap.add_argument("--pykeen-python", default=os.environ.get("PYKEEN_PYTHON", "/work/peers/pykeen/bin/python"))
    ap.add_argument("--side", choices=["pykeen", "ours"], help=argparse.SUPPRESS)
    ap.add_argument("--npz", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--settings", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.side:  # worker process: one (library, model, seed) run, JSON on the last stdout line
        arrays = dict(np.load(args.npz))
        fn = run_pykeen if args.side == "pykeen" else run_ours
        print(json.dumps(fn(arrays, args.model, json.loads(args.settings), args.seed)))
        return 0
    out_path = REPO / "results" / "benchmarks" / f"{args.name}.json"
    if args.what == "report":
        print(table(json.loads(out_path.read_text())))
        return 0

    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import record as bench_record

    os.environ.setdefault("REPRO_OFFLINE", "1")
    reps, data_meta, settings = [], {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        npz = {}
        for graph in args.graphs:
            arrays, data_meta[graph] = graph_arrays(graph)
            npz[graph] = Path(tmp) / f"{graph}.npz"
            np.savez(npz[graph], **arrays)
        for rep in range(args.reps):
            for graph in args.graphs:
                for model in [m for m in GRAPHS[graph]["models"] if not args.models or m in args.models]:
                    s = _per_model(GRAPHS[graph]["settings"], model) | ({"epochs": args.epochs} if args.epochs else {})
                    settings[f"{graph}/{model}"] = s
                    for lib, py in (("ours", sys.executable), ("pykeen", args.pykeen_python)):
                        twin = next((r for r in reps if r["library"] == "pykeen" and r["graph"] == graph and r["rep"] == rep
                                     and PEER_MODEL[r["model"]] == PEER_MODEL[model] and r["settings"] == s), None)
                        if lib == "pykeen" and twin is not None:  # PyKEEN's TransR again for TransRA: reuse its run
                            reps.append(dict(twin, impl=f"pykeen:{graph}/{model}", model=model, reused_from=twin["model"]))
                            continue
                        cmd = [py, __file__, "--side", lib, "--npz", str(npz[graph]), "--model", model,
                               "--settings", json.dumps(s), "--seed", str(rep)]
                        env = dict(os.environ, PYTHONPATH=str(REPO) if lib == "ours" else "", OMP_NUM_THREADS="1",
                                   MKL_NUM_THREADS="1")
                        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
                        if proc.returncode != 0:
                            sys.stderr.write(proc.stderr[-4000:])
                            raise SystemExit(f"{lib} {graph} {model} rep {rep} failed")
                        res = json.loads(proc.stdout.strip().splitlines()[-1])
                        print(f"rep {rep} {graph} {model} {lib}: mrr {res['metrics']['mrr']:.4f} "
                              f"{res['triples_per_cpu_s']:,.0f} triples/CPU-s (load {res['loadavg_1min_start']})",
                              flush=True)
                        reps.append({"impl": f"{lib}:{graph}/{model}", "library": lib, "graph": graph, "model": model,
                                     "rep": rep, "seed": rep, "settings": s, **res})
    peer = subprocess.run([args.pykeen_python, "-c", "import pykeen, torch; print(pykeen.__version__, torch.__version__)"],
                          capture_output=True, text=True).stdout.split()
    path = bench_record.write(args.name, reps=reps, summary=summarise(reps), settings=settings, data=data_meta,
                              peers={"pykeen": peer[0] if peer else None, "torch": peer[1] if len(peer) > 1 else None,
                                     "python": args.pykeen_python},
                              allow_dirty=args.allow_dirty)
    print(table(json.loads(path.read_text())))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
