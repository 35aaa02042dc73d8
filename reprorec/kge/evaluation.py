"""Filtered link prediction: rank the true head and the true tail of each held-out triple among all
entities, after removing every *other* known true triple (Bordes et al. 2013), then MRR / Hits@K.

Both sides are pooled (one rank per side per triple) and ties count half — PyKEEN's "both"/"realistic"
numbers, so the parity benchmark compares the same quantity.

Candidates: every entity (the default, PyKEEN's), or — with ``candidate_types`` — only entities of the type
the relation expects on the ranked side (a user -> item query ranks items, not genres or age buckets). On a
heterogeneous graph the two answer different questions; the KGE protocol study reports both.
"""
from __future__ import annotations

import torch

from ..metrics import filtered_ranks, ranking_metrics
from .models import KGEModel
from .triples import KnownTriples


@torch.no_grad()
def link_prediction_ranks(model: KGEModel, triples: torch.Tensor, known: KnownTriples | None,
                          batch_size: int = 256, candidate_types=None) -> torch.Tensor:
    """Filtered ranks, tail side then head side for each chunk: (2N,).

    ``candidate_types``: None (rank among all entities) or (entity_type (E,), head_type (R,), tail_type (R,)):
    rank only among entities of the type relation r expects on the ranked side.
    """
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, len(triples), batch_size):
        h, r, t = triples[start:start + batch_size].unbind(1)
        for side, anchor, target in (("tail", h, t), ("head", t, h)):
            scores = model.score_all(anchor, r, side)
            mask = known.mask(anchor, r, side) if known is not None else None
            if candidate_types is not None:
                ent_type, head_type, tail_type = candidate_types
                want = (tail_type if side == "tail" else head_type)[r]
                other = ent_type[None, :] != want[:, None]
                mask = other if mask is None else mask | other
            out.append(filtered_ranks(scores, target, mask))
    model.train(was_training)
    return torch.cat(out)


def evaluate(model: KGEModel, triples: torch.Tensor, known: KnownTriples | None = None,
             ks=(1, 3, 10), candidate_types=None) -> dict[str, float]:
    """{'mrr', 'hits@1', 'hits@3', 'hits@10'} (filtered when ``known`` holds all true triples)."""
    return ranking_metrics(link_prediction_ranks(model, triples, known, candidate_types=candidate_types), ks)
