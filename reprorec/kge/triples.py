"""Triples as index tensors, a seeded split that keeps every entity in training, and a fast
membership index of known true triples (for filtered negatives and filtered ranking).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch


@dataclass
class TripleSet:
    """Integer triples (N x 3: head, relation, tail) over a fixed entity/relation vocabulary.

    entity_type:    (E,) int type of each entity (0 everywhere when the graph is untyped).
    entity_names / relation_names: labels, index = id.
    """

    triples: torch.Tensor
    n_entities: int
    n_relations: int
    entity_type: torch.Tensor | None = None
    entity_names: list[str] = field(default_factory=list)
    relation_names: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.triples = torch.as_tensor(self.triples, dtype=torch.long).reshape(-1, 3)
        if self.entity_type is None:
            self.entity_type = torch.zeros(self.n_entities, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.triples)

    def subset(self, idx) -> "TripleSet":
        return TripleSet(self.triples[torch.as_tensor(idx, dtype=torch.long)], self.n_entities, self.n_relations,
                         self.entity_type, self.entity_names, self.relation_names)

    @classmethod
    def from_labels(cls, frame: pd.DataFrame, entity_type: dict[str, int] | None = None) -> "TripleSet":
        """Labelled triples (columns head, relation, tail) -> ids, sorted by label for determinism."""
        ents = sorted(set(frame["head"]) | set(frame["tail"]))
        rels = sorted(set(frame["relation"]))
        e_id = {e: i for i, e in enumerate(ents)}
        r_id = {r: i for i, r in enumerate(rels)}
        arr = np.stack([frame["head"].map(e_id), frame["relation"].map(r_id), frame["tail"].map(e_id)], 1)
        types = None if entity_type is None else torch.tensor([entity_type[e] for e in ents])
        return cls(torch.as_tensor(arr.astype(np.int64)), len(ents), len(rels), types, ents, rels)


def relation_types(ts: TripleSet) -> tuple[torch.Tensor, torch.Tensor]:
    """(R,) head type and tail type of each relation: the most common type seen in ``ts``."""
    h_type = torch.zeros(ts.n_relations, dtype=torch.long)
    t_type = torch.zeros(ts.n_relations, dtype=torch.long)
    for r in range(ts.n_relations):
        rows = ts.triples[ts.triples[:, 1] == r]
        if len(rows):
            h_type[r] = torch.mode(ts.entity_type[rows[:, 0]]).values
            t_type[r] = torch.mode(ts.entity_type[rows[:, 2]]).values
    return h_type, t_type


def split_triples(ts: TripleSet, ratios=(0.8, 0.1, 0.1), seed: int = 0) -> dict[str, TripleSet]:
    """Seeded random split; val/test triples whose head or tail never occurs in train move to train.

    Same clean-up as PyKEEN's default split: an entity unseen in training has an untrained vector,
    so ranking it would measure initialisation, not the model.
    """
    from ..data.splits import random_split

    parts = random_split(len(ts), ratios, seed)
    train = parts["train"]
    seen = torch.zeros(ts.n_entities, dtype=torch.bool)
    seen[ts.triples[train][:, [0, 2]].reshape(-1)] = True
    out_idx = {"train": list(train)}
    for name in ("val", "test"):
        rows = ts.triples[parts[name]]
        ok = (seen[rows[:, 0]] & seen[rows[:, 2]]).numpy()
        out_idx[name] = parts[name][ok]
        out_idx["train"].extend(parts[name][~ok])
    out_idx["train"] = np.sort(np.asarray(out_idx["train"], dtype=np.int64))
    return {k: ts.subset(v) for k, v in out_idx.items()}


class KnownTriples:
    """Membership of true triples via sorted int64 keys ((h * R + r) * E + t): O(log N) per lookup."""

    def __init__(self, triples: torch.Tensor, n_entities: int, n_relations: int):
        self.E, self.R = n_entities, n_relations
        self.keys = torch.unique(self.key(triples[:, 0], triples[:, 1], triples[:, 2]))  # sorted

    def key(self, h, r, t) -> torch.Tensor:
        return (h.long() * self.R + r.long()) * self.E + t.long()

    def contains(self, h, r, t) -> torch.Tensor:
        k = self.key(h, r, t)
        pos = torch.searchsorted(self.keys, k).clamp(max=len(self.keys) - 1)
        return self.keys[pos] == k

    def mask(self, anchor: torch.Tensor, r: torch.Tensor, side: str) -> torch.Tensor:
        """(Q, E) bool: True where (anchor, r, e) [side='tail'] or (e, r, anchor) [side='head'] is known."""
        e = torch.arange(self.E)
        a = anchor[:, None].expand(-1, self.E)
        rr = r[:, None].expand(-1, self.E)
        ee = e[None, :].expand(len(anchor), -1)
        return self.contains(a, rr, ee) if side == "tail" else self.contains(ee, rr, a)
