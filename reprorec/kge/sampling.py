"""Negative sampling by corruption (sLCWA): replace the head or the tail of a true triple.

Half of the negatives corrupt the head, half the tail (PyKEEN's basic sampler does the same). With
``typed=True`` the replacement is drawn from entities of the type the relation expects on that side
(a corrupted `user -> item` edge never gets a genre as its tail), which is what a heterogeneous
graph needs. With ``filtered=True`` a draw that is itself a known true triple is redrawn (up to
``max_tries`` rounds); any that remain are flagged invalid so the loss ignores them.
"""
from __future__ import annotations

import torch

from .triples import KnownTriples, TripleSet, relation_types


class NegativeSampler:
    def __init__(self, ts: TripleSet, num_negs: int = 1, typed: bool = False, filtered: bool = False,
                 known: KnownTriples | None = None, max_tries: int = 20):
        self.num_negs, self.typed, self.filtered, self.max_tries = num_negs, typed, filtered, max_tries
        self.n_entities = ts.n_entities
        if typed:
            self.head_type, self.tail_type = relation_types(ts)
            types = ts.entity_type
            n_types = int(types.max()) + 1
            self.pools = [torch.nonzero(types == k, as_tuple=True)[0] for k in range(n_types)]
        if filtered:
            self.known = known or KnownTriples(ts.triples, ts.n_entities, ts.n_relations)

    def _draw(self, r: torch.Tensor, corrupt_head: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        if not self.typed:
            return torch.randint(self.n_entities, (len(r),), generator=g)
        kind = torch.where(corrupt_head, self.head_type[r], self.tail_type[r])
        out = torch.empty(len(r), dtype=torch.long)
        for k in torch.unique(kind).tolist():
            idx = (kind == k).nonzero(as_tuple=True)[0]
            pool = self.pools[k]
            out[idx] = pool[torch.randint(len(pool), (len(idx),), generator=g)]
        return out

    def sample(self, pos: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """pos (B, 3) -> negatives (B, num_negs, 3) and valid (B, num_negs) bool."""
        neg = pos.repeat_interleave(self.num_negs, 0)
        n = len(neg)
        corrupt_head = torch.arange(n) % 2 == 0
        corrupt_head = corrupt_head[torch.randperm(n, generator=g)]
        col = torch.where(corrupt_head, 0, 2)
        rows = torch.arange(n)
        neg[rows, col] = self._draw(neg[:, 1], corrupt_head, g)
        valid = torch.ones(n, dtype=torch.bool)
        if self.filtered:
            bad = self.known.contains(neg[:, 0], neg[:, 1], neg[:, 2])
            for _ in range(self.max_tries):
                if not bad.any():
                    break
                idx = bad.nonzero(as_tuple=True)[0]
                neg[idx, col[idx]] = self._draw(neg[idx, 1], corrupt_head[idx], g)
                bad[idx] = self.known.contains(neg[idx, 0], neg[idx, 1], neg[idx, 2])
            valid = ~bad
        return neg.view(len(pos), self.num_negs, 3), valid.view(len(pos), self.num_negs)
