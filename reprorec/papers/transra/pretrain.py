"""KGE pretraining on the onsite-offsite graph, cached per (dataset, data/graph/KGE config, model, seed).

The graph's triples are split 90/5/5 (seeded; val/test entities seen in train): train fits the
vectors, val early-stops them, test gives the link-prediction numbers (filtered against every
graph triple). The ranking experiments (b)/(c)/(d) and the link-prediction records of one seed
all read the same cached file (``reprorec.cache``, namespace ``transra``), so a KGE model is trained
once per seed, not once per experiment.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from reprorec import config as C
from reprorec.cache import cached
from reprorec.config import Fraction, PosInt
from reprorec.train import isolated_rng
from reprorec.kge import MODELS, KGEModel, KGETrainConfig, KnownTriples, TransRA, build_model, evaluate, split_triples, train_kge
from reprorec.kge.training import KGETrainKeys

from .data import ANCHOR_RELATIONS, Graph

# the code a cached KGE depends on: editing any of it retrains instead of reusing a stale cache
KGE_CODE = ("reprorec/kge", "reprorec/ctr", "reprorec/data", "reprorec/cache.py", "reprorec/papers/transra/data.py",
            "reprorec/papers/transra/pretrain.py")


@dataclass
class PretrainedKGE:
    model: KGEModel
    metrics: dict           # {'val': {...}, 'test': {...}} link prediction
    info: dict              # epochs, seconds, triples/s, graph stats, cache path
    trained: torch.Tensor   # (E,) bool: entity occurs in a training triple (others keep their random init)


class KGEBlock(C.Section):
    """The ``kge`` block: the KGE model whose vectors the ranking variants use (and lp-* evaluates)."""
    model: Literal["transe", "transr", "transra"] = "transra"
    dim: PosInt = 32                      # = data.id_dim: the vectors become rows of the ID tables
    p: Literal[1, 2] = 2                  # distance norm
    anchors: tuple[str, ...] = ANCHOR_RELATIONS
    split: tuple[Fraction, Fraction, Fraction] = (0.9, 0.05, 0.05)
    train: KGETrainKeys = KGETrainKeys()
    eval_candidates: Literal["all", "typed"] = "all"   # link-prediction candidates: every entity, or typed
    pretrained: bool = True               # False: the untrained KGE of identical shape (capacity control d-rand)


class GraphBlock(C.Section):
    freebase: bool = False
    co_purchase: bool = True


def kge_settings(cfg: dict) -> dict:
    """The KGE block of a config with defaults filled in (everything that changes the vectors)."""
    k = C.section(cfg, "kge", KGEBlock)
    return {"model": k.model, "dim": k.dim, "p": k.p, "anchors": list(k.anchors), "split": list(k.split),
            "train": k.train.given(),
            # link-prediction candidates for early stopping and the reported MRR: 'all' entities or 'typed'
            # (only entities of the type the relation expects): one axis of the KGE protocol study
            "eval_candidates": k.eval_candidates}


def candidate_types(graph: Graph, which: str):
    """None ('all': rank among every entity) or the (entity_type, head_type, tail_type) tensors ('typed')."""
    if which == "all":
        return None
    if which != "typed":
        raise ValueError(f"kge.eval_candidates must be 'all' or 'typed', not {which!r}")
    from reprorec.kge import relation_types

    return (graph.triples.entity_type, *relation_types(graph.triples))


def _build(settings: dict, graph: Graph) -> KGEModel:
    ts = graph.triples
    anchors = {"anchor_relations": graph.anchor_relation_ids(settings["anchors"])} \
        if MODELS.lookup(settings["model"]) is TransRA else {}
    return build_model(settings["model"], ts.n_entities, ts.n_relations, settings["dim"], p=settings["p"], **anchors)


def pretrained_kge(cfg: dict, graph: Graph, seed: int, log=None) -> PretrainedKGE:
    settings = kge_settings(cfg)

    def compute() -> dict:
        model = _build(settings, graph)  # init under the seed (cache.cached runs this on isolated_rng(seed))
        parts = split_triples(graph.triples, tuple(settings["split"]), seed=seed)
        known = KnownTriples(graph.triples.triples, graph.triples.n_entities, graph.triples.n_relations)
        tcfg = KGETrainConfig.from_dict({"typed_negatives": True, "filtered_negatives": True, "eval_every": 2,
                                         "patience": 2, **settings["train"], "seed": seed})
        cands = candidate_types(graph, settings["eval_candidates"])
        fit = train_kge(model, parts["train"], tcfg, val=parts["val"].triples, known=known, log=log,
                        candidate_types=cands)
        metrics = {"val": evaluate(model, parts["val"].triples, known, candidate_types=cands),
                   "test": evaluate(model, parts["test"].triples, known, candidate_types=cands)}
        trained = torch.zeros(graph.triples.n_entities, dtype=torch.bool)
        trained[parts["train"].triples[:, [0, 2]].reshape(-1)] = True
        info = {"epochs": fit["epochs"], "train_seconds": round(fit["train_seconds"], 2),
                "triples_per_s": round(fit["triples_per_s"], 1), "val_mrr_curve": fit["val_mrr"],
                "split_sizes": {k: len(v) for k, v in parts.items()}, "graph": graph.stats, "settings": settings}
        return {"state": model.state_dict(), "metrics": metrics, "info": info, "trained": trained}

    inputs = {"dataset": cfg["dataset"], "data": cfg.get("data"), "graph": cfg.get("graph"), "kge": settings,
              "seed": seed, "graph_stats": graph.stats}
    blob, hit = cached("transra", f"{cfg['dataset']}-{settings['model']}-seed{seed}", inputs=inputs, code=KGE_CODE,
                       seed=seed, compute=compute)
    # Built outside the isolated streams on a hit and a miss alike: its init draw is part of the run's
    # own random stream, which the ranker's init and dropout then continue (as in the records).
    model = _build(settings, graph)
    model.load_state_dict(blob["state"])
    return PretrainedKGE(model, blob["metrics"], {**blob["info"], "cache": "hit" if hit else "miss"}, blob["trained"])


def random_kge(cfg: dict, graph: Graph, seed: int) -> PretrainedKGE:
    """The capacity control (d-rand, ``kge.pretrained: false``): the KGE exactly as pretraining starts it,
    never trained.

    (d) adds a second entity table per user and item, relation projections and attention on top of (c);
    its gain could come from that capacity alone. Here the model has the same class, shape and weights
    that `pretrained_kge` starts training from (built on the isolated stream of ``seed``), the same
    entities are marked for (c)/(d) initialisation (those of the graph's training split), and the run's
    own random stream draws exactly what it draws in (d), so the ranker's init and dropout are (d)'s too.
    """
    settings = kge_settings(cfg)
    with isolated_rng(seed):
        start = _build(settings, graph)
    model = _build(settings, graph)  # the same draw from the run's stream as pretrained_kge makes
    model.load_state_dict(start.state_dict())
    parts = split_triples(graph.triples, tuple(settings["split"]), seed=seed)
    trained = torch.zeros(graph.triples.n_entities, dtype=torch.bool)
    trained[parts["train"].triples[:, [0, 2]].reshape(-1)] = True
    info = {"pretrained": False, "epochs": 0, "split_sizes": {k: len(v) for k, v in parts.items()},
            "graph": graph.stats, "settings": settings}
    return PretrainedKGE(model, {}, info, trained)
