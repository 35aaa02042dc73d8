"""Side by side: reprorec.kge vs PyKEEN 1.11.1 on the same real triples, same settings.

Data: the Freebase KG of MovieLens-100K movies (dataset ``ml-100k-kg``: 34,327 distinct triples, 5,233
entities, 29 relations), split 80/10/10 by ``reprorec.kge.split_triples`` (val/test entities all seen
in train); both libraries get the *same* id-mapped train/val/test arrays.
Settings (both sides): TransE and TransR, embedding dim = relation dim, L1 scoring norm (PyKEEN's
default), sLCWA training with 1 uniformly corrupted negative per positive (head or tail), margin
ranking loss (margin 1), Adam, same lr/batch/epochs, no early stopping; filtered both-sided
realistic MRR / Hits@K on test (filter = train+val+test).
Throughput: training triples per second of the training loop only (evaluation and one-off
preprocessing excluded), one torch thread each, run one after the other; peak RSS per process.

PyKEEN lives in its own venv (default /tmp/pykeen-venv: ``pip install torch==2.13.0`` first, then
``pykeen==1.11.1``); this script calls it as a subprocess with ``--side pykeen``.

  python benchmarks/kge_parity.py                 # full: 3 seeds per model
  python benchmarks/kge_parity.py --quick         # 1 seed, few epochs (smoke check)

Writes results/benchmarks/kge_parity[-quick].json and .md (a table).
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
SETTINGS = {  # per model: identical on both sides
    "transe": {"dim": 64, "epochs": 40, "batch_size": 512, "lr": 0.003},
    "transr": {"dim": 32, "epochs": 20, "batch_size": 512, "lr": 0.003},
}
QUICK_EPOCHS = 3


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_ours(arrays: dict, model: str, s: dict, seed: int) -> dict:
    import torch

    from reprorec.kge import KGETrainConfig, KnownTriples, TripleSet, build_model, evaluate, train_kge

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    E, R = int(arrays["n_entities"]), int(arrays["n_relations"])
    train = TripleSet(torch.as_tensor(arrays["train"]), E, R)
    everything = torch.as_tensor(np.concatenate([arrays["train"], arrays["val"], arrays["test"]]))
    m = build_model(model, E, R, s["dim"], relation_dim=s["dim"], p=1)
    info = train_kge(m, train, KGETrainConfig(epochs=s["epochs"], batch_size=s["batch_size"], lr=s["lr"],
                                              loss="margin", margin=1.0, num_negs=1, seed=seed))
    t0 = time.perf_counter()
    metrics = evaluate(m, torch.as_tensor(arrays["test"]), KnownTriples(everything, E, R))
    return {"metrics": metrics, "triples_per_s": info["triples_per_s"], "train_seconds": info["train_seconds"],
            "eval_seconds": time.perf_counter() - t0, "peak_rss_mb": _peak_mb()}


def run_pykeen(arrays: dict, model: str, s: dict, seed: int) -> dict:
    """Runs inside the PyKEEN venv: no import of this repository's code."""
    import torch
    from pykeen.pipeline import pipeline
    from pykeen.triples import TriplesFactory

    torch.set_num_threads(1)
    E, R = int(arrays["n_entities"]), int(arrays["n_relations"])
    e2id = {str(i): i for i in range(E)}
    r2id = {str(i): i for i in range(R)}
    tf = {k: TriplesFactory(mapped_triples=torch.as_tensor(arrays[k]), entity_to_id=e2id, relation_to_id=r2id)
          for k in ("train", "val", "test")}
    kwargs = {"embedding_dim": s["dim"], "scoring_fct_norm": 1}
    if model == "transr":
        kwargs["relation_dim"] = s["dim"]
    res = pipeline(training=tf["train"], validation=tf["val"], testing=tf["test"],
                   model={"transe": "TransE", "transr": "TransR"}[model], model_kwargs=kwargs,
                   loss="marginranking", loss_kwargs={"margin": 1.0}, optimizer="Adam", optimizer_kwargs={"lr": s["lr"]},
                   training_loop="sLCWA", negative_sampler="basic", negative_sampler_kwargs={"num_negs_per_pos": 1},
                   training_kwargs={"num_epochs": s["epochs"], "batch_size": s["batch_size"], "use_tqdm": False},
                   evaluator="rankbased", evaluator_kwargs={"filtered": True},
                   evaluation_kwargs={"use_tqdm": False, "batch_size": 256}, random_seed=seed, device="cpu")
    mr = res.metric_results
    metrics = {"mrr": float(mr.get_metric("both.realistic.inverse_harmonic_mean_rank"))}
    metrics.update({f"hits@{k}": float(mr.get_metric(f"both.realistic.hits_at_{k}")) for k in (1, 3, 10)})
    n = len(arrays["train"]) * s["epochs"]
    return {"metrics": metrics, "triples_per_s": n / res.train_seconds, "train_seconds": res.train_seconds,
            "eval_seconds": res.evaluate_seconds, "peak_rss_mb": _peak_mb()}


def _arrays() -> dict:
    import torch

    from reprorec.data import kg
    from reprorec.kge import TripleSet, split_triples

    table = kg.load_triples()
    ts = TripleSet.from_labels(table.frame)
    parts = split_triples(ts, (0.8, 0.1, 0.1), seed=0)
    out = {k: v.triples.numpy() for k, v in parts.items()}
    out.update(n_entities=np.int64(ts.n_entities), n_relations=np.int64(ts.n_relations))
    del torch
    return out, table.files


def _mean_std(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def _table(rows: list[dict]) -> str:
    lines = ["| model | library | seeds | test MRR | Hits@1 | Hits@10 | train triples/s | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['library']} | {r['n']} | {r['mrr'][0]:.4f} ± {r['mrr'][1]:.4f} | "
                     f"{r['hits@1'][0]:.4f} | {r['hits@10'][0]:.4f} | {r['tps'][0]:,.0f} | {r['rss']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--models", nargs="+", default=list(SETTINGS))
    ap.add_argument("--pykeen-python", default=os.environ.get("PYKEEN_PYTHON", "/tmp/pykeen-venv/bin/python"))
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

    sys.path.insert(0, str(REPO))
    os.environ.setdefault("REPRO_OFFLINE", "1")
    arrays, files = _arrays()
    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    runs, rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        npz = Path(tmp) / "triples.npz"
        np.savez(npz, **arrays)
        for model in args.models:
            s = dict(SETTINGS[model], **({"epochs": QUICK_EPOCHS} if args.quick else {}))
            for lib, py in (("ours", sys.executable), ("pykeen", args.pykeen_python)):
                out = []
                for seed in seeds:  # a fresh process per run: clean peak-RSS, no shared state
                    cmd = [py, __file__, "--side", lib, "--npz", str(npz), "--model", model,
                           "--settings", json.dumps(s), "--seed", str(seed)]
                    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
                    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
                    if proc.returncode != 0:
                        sys.stderr.write(proc.stderr[-4000:])
                        raise SystemExit(f"{lib} {model} seed {seed} failed")
                    res = json.loads(proc.stdout.strip().splitlines()[-1])
                    print(f"{model} {lib} seed {seed}: mrr {res['metrics']['mrr']:.4f} "
                          f"{res['triples_per_s']:,.0f} triples/s", flush=True)
                    out.append(res)
                    runs.append({"model": model, "library": lib, "seed": seed, "settings": s, **res})
    out_dir = REPO / "results" / "benchmarks"
    stem = "kge_parity" + ("-quick" if args.quick else "")
    previous = out_dir / f"{stem}.json"
    if previous.exists():  # re-running some models keeps the other models' runs
        runs += [r for r in json.loads(previous.read_text())["runs"] if r["model"] not in args.models]
    models = sorted({r["model"] for r in runs}, key=list(SETTINGS).index)
    for model in models:
        for lib in ("ours", "pykeen"):
            out = [r for r in runs if r["model"] == model and r["library"] == lib]
            rows.append({"model": model, "library": lib, "n": len(out),
                         **{k: _mean_std([o["metrics"][k] for o in out]) for k in ("mrr", "hits@1", "hits@10")},
                         "tps": _mean_std([o["triples_per_s"] for o in out]),
                         "rss": max(o["peak_rss_mb"] for o in out)})
    summary = {}
    for model in models:
        ours, theirs = (next(r for r in rows if r["model"] == model and r["library"] == lib) for lib in ("ours", "pykeen"))
        diff = ours["mrr"][0] - theirs["mrr"][0]
        noise = max(ours["mrr"][1], theirs["mrr"][1])
        summary[model] = {"mrr_ours": ours["mrr"], "mrr_pykeen": theirs["mrr"], "mrr_diff": diff,
                          "seed_std_max": noise, "throughput_ratio_ours_over_pykeen": ours["tps"][0] / theirs["tps"][0]}
    from reprorec.records import code_state, environment, hardware

    record = {"benchmark": "kge_parity", "profile": "quick" if args.quick else "full",
              "seeds": sorted({r["seed"] for r in runs}),
              "data": {"dataset": "ml-100k-kg", "files": files, "split": "reprorec.kge.split_triples(0.8,0.1,0.1,seed=0)",
                       "sizes": {k: int(len(arrays[k])) for k in ("train", "val", "test")},
                       "n_entities": int(arrays["n_entities"]), "n_relations": int(arrays["n_relations"])},
              "peer": {"pykeen": "1.11.1", "python": args.pykeen_python}, "settings": SETTINGS, "runs": runs,
              "summary": summary, "code": code_state(), "env": environment(), "hardware": hardware()}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    md = [f"# KGE parity: reprorec.kge vs PyKEEN 1.11.1 ({record['profile']})\n",
          f"Freebase KG of ML-100K movies, {record['data']['sizes']} triples, {record['data']['n_entities']} entities, "
          f"{record['data']['n_relations']} relations; filtered both-sided realistic ranks on test. "
          f"Mean ± std over seeds {record['seeds']}. Settings per model: {json.dumps(SETTINGS)}"
          + (f" (quick: {QUICK_EPOCHS} epochs)" if args.quick else "") + ".\n", _table(rows), "",
          "| model | MRR ours − PyKEEN | max seed std | throughput ratio ours/PyKEEN |", "|---|---|---|---|"]
    for model, s in summary.items():
        md.append(f"| {model} | {s['mrr_diff']:+.4f} | {s['seed_std_max']:.4f} | "
                  f"{s['throughput_ratio_ours_over_pykeen']:.2f} |")
    (out_dir / f"{stem}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
