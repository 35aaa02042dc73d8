"""Capacity control for (d): the same KGE tables, projections and attention, never pretrained.

(d) adds a second entity table per user and item, relation projections and attention on top of (c);
its gain over (c) or (a) could come from that added capacity alone. With ``kge.pretrained: false``
the KGE model is built exactly as pretraining would start it (same class, shape and initialiser,
under the run's seed, on its own random stream) and handed to the ranker untrained; the rows that
(c)/(d) would initialise from trained vectors (entities of the graph's training split) get the
untrained vectors instead, so the ranker's pipeline and parameter count are identical to (d).
"""
from __future__ import annotations

import torch

from reprorec.kge import split_triples
from reprorec.train import isolated_rng

from .data import Graph
from .pretrain import PretrainedKGE, _build, kge_settings


def random_kge(cfg: dict, graph: Graph, seed: int) -> PretrainedKGE:
    settings = kge_settings(cfg)
    with isolated_rng(seed):
        model = _build(settings, graph)
    parts = split_triples(graph.triples, tuple(settings["split"]), seed=seed)
    trained = torch.zeros(graph.triples.n_entities, dtype=torch.bool)
    trained[parts["train"].triples[:, [0, 2]].reshape(-1)] = True
    info = {"pretrained": False, "epochs": 0, "split_sizes": {k: len(v) for k, v in parts.items()},
            "graph": graph.stats, "settings": settings}
    return PretrainedKGE(model, {}, info, trained)
