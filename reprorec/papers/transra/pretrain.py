"""KGE pretraining on the onsite-offsite graph, cached per (dataset, data/graph/KGE config, model, seed).

The graph's triples are split 90/5/5 (seeded; val/test entities seen in train): train fits the
vectors, val early-stops them, test gives the link-prediction numbers (filtered against every
graph triple). The ranking experiments (b)/(c)/(d) and the link-prediction records of one seed
all read the same cached file, so a KGE model is trained once per seed, not once per experiment.
Cache: ``<runs>/transra/kge-cache/<dataset>/<model>/seed<seed>-<key>.pt`` (``REPRO_RUNS_DIR``).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass

import torch

from reprorec import config as C
from reprorec.experiment import runs_root
from reprorec.kge import KGEModel, KGETrainConfig, KnownTriples, build_model, evaluate, split_triples, train_kge
from reprorec.records import source_fingerprint

from .graph import ANCHOR_RELATIONS, Graph

CACHE_VERSION = 1
# the code a cached KGE depends on: editing any of it retrains instead of reusing a stale cache
KGE_CODE = ("reprorec/kge", "reprorec/ctr", "reprorec/data", "reprorec/papers/transra/graph.py", "reprorec/papers/transra/pretrain.py")


@dataclass
class PretrainedKGE:
    model: KGEModel
    metrics: dict           # {'val': {...}, 'test': {...}} link prediction
    info: dict              # epochs, seconds, triples/s, graph stats, cache path
    trained: torch.Tensor   # (E,) bool: entity occurs in a training triple (others keep their random init)


def kge_settings(cfg: dict) -> dict:
    """The KGE block of a config with defaults filled in (everything that changes the vectors)."""
    kge = dict(C.get(cfg, "kge", {}) or {})
    return {"model": kge.get("model", "transra"), "dim": int(kge.get("dim", 32)), "p": int(kge.get("p", 2)),
            "anchors": list(kge.get("anchors", ANCHOR_RELATIONS)), "split": list(kge.get("split", [0.9, 0.05, 0.05])),
            "train": dict(kge.get("train", {}) or {}),
            # link-prediction candidates for early stopping and the reported MRR: 'all' entities or 'typed'
            # (only entities of the type the relation expects): one axis of the KGE protocol study
            "eval_candidates": str(kge.get("eval_candidates", "all"))}


def candidate_types(graph: Graph, which: str):
    """None ('all': rank among every entity) or the (entity_type, head_type, tail_type) tensors ('typed')."""
    if which == "all":
        return None
    if which != "typed":
        raise ValueError(f"kge.eval_candidates must be 'all' or 'typed', not {which!r}")
    from reprorec.kge import relation_types

    return (graph.triples.entity_type, *relation_types(graph.triples))


def _key(cfg: dict, graph: Graph, settings: dict, seed: int) -> str:
    blob = json.dumps({"v": CACHE_VERSION, "dataset": cfg["dataset"], "data": C.get(cfg, "data"),
                       "graph": C.get(cfg, "graph"), "kge": settings, "seed": seed,
                       "graph_stats": graph.stats, "code": source_fingerprint(*KGE_CODE)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _build(settings: dict, graph: Graph) -> KGEModel:
    ts = graph.triples
    return build_model(settings["model"], ts.n_entities, ts.n_relations, settings["dim"], p=settings["p"],
                       anchor_relations=graph.anchor_relation_ids(settings["anchors"]))


def pretrained_kge(cfg: dict, graph: Graph, seed: int, log=None) -> PretrainedKGE:
    settings = kge_settings(cfg)
    path = runs_root() / "transra" / "kge-cache" / cfg["dataset"] / settings["model"] / \
        f"seed{seed}-{_key(cfg, graph, settings, seed)}.pt"
    model = _build(settings, graph)
    if path.exists():
        blob = torch.load(path, weights_only=False)
        model.load_state_dict(blob["state"])
        return PretrainedKGE(model, blob["metrics"], {**blob["info"], "cache": "hit"}, blob["trained"])
    torch.manual_seed(seed)
    model = _build(settings, graph)  # fresh init under the seed
    parts = split_triples(graph.triples, tuple(settings["split"]), seed=seed)
    known = KnownTriples(graph.triples.triples, graph.triples.n_entities, graph.triples.n_relations)
    tcfg = KGETrainConfig.from_dict({"typed_negatives": True, "filtered_negatives": True, "eval_every": 2,
                                     "patience": 2, **settings["train"], "seed": seed})
    cands = candidate_types(graph, settings["eval_candidates"])
    fit = train_kge(model, parts["train"], tcfg, val=parts["val"].triples, known=known, log=log, candidate_types=cands)
    metrics = {"val": evaluate(model, parts["val"].triples, known, candidate_types=cands),
               "test": evaluate(model, parts["test"].triples, known, candidate_types=cands)}
    trained = torch.zeros(graph.triples.n_entities, dtype=torch.bool)
    trained[parts["train"].triples[:, [0, 2]].reshape(-1)] = True
    info = {"epochs": fit["epochs"], "train_seconds": round(fit["train_seconds"], 2),
            "triples_per_s": round(fit["triples_per_s"], 1), "val_mrr_curve": fit["val_mrr"],
            "split_sizes": {k: len(v) for k, v in parts.items()}, "graph": graph.stats, "settings": settings}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    torch.save({"state": model.state_dict(), "metrics": metrics, "info": info, "trained": trained}, tmp)
    os.replace(tmp, path)
    return PretrainedKGE(model, metrics, {**info, "cache": "miss"}, trained)
