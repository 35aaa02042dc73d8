"""A reference `HybridModel`: per-field ID tables -> concatenation (+ numeric) -> MLP.

Used where only the serving path matters (unit tests, the synthetic Criteo-scale serving
benchmark); the MF-LET ranking model is a `HybridModel` around the DCNv2 backbone instead.
"""
from __future__ import annotations

import torch
from torch import nn

from .interface import HybridModel


def mlp(width: int, hidden) -> nn.Sequential:
    layers = []
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, 1))


class TablesMLP(HybridModel):
    def __init__(self, cardinalities: list[int], dim: int, n_numeric: int = 0, hidden: list[int] = (256, 128),
                 key: str = "cat"):
        super().__init__()
        self.init_kwargs = {"cardinalities": list(cardinalities), "dim": dim, "n_numeric": n_numeric,
                            "hidden": list(hidden), "key": key}
        self.key, self.n_numeric = key, n_numeric
        self.tables = nn.ModuleDict({f"f{j}": nn.Embedding(c, dim) for j, c in enumerate(cardinalities)})
        self.table_keys = {f"f{j}": f"{key}{j}" for j in range(len(cardinalities))}
        self.mlp = mlp(dim * len(cardinalities) + n_numeric, hidden)

    def dense_forward(self, emb: dict, batch: dict) -> torch.Tensor:
        parts = [emb[n] for n in self.table_keys]
        if self.n_numeric:
            parts.append(batch["num"])
        return self.mlp(torch.cat(parts, dim=-1)).squeeze(-1)


class SmallAndLargeTables(HybridModel):
    """A ranker with small feature fields embedded on the device (part of the dense part) and
    ``large_rows`` large ID tables served from host memory, + numeric features -> MLP.

    ``large_rows=[]`` is the same ranker *without* large ID tables: the baseline whose latency
    hybrid serving should match. ``dense_only=True`` leaves the large tables out of the module (the
    benchmark builds them directly in INT4 host memory, never as fp32), so only `dense_forward` runs.
    """

    def __init__(self, small_cards: list[int], large_rows: list[int], small_dim: int = 16, large_dim: int = 32,
                 n_numeric: int = 13, hidden: list[int] = (400, 400, 400), dense_only: bool = False):
        super().__init__()
        self.init_kwargs = {"small_cards": list(small_cards), "large_rows": list(large_rows), "small_dim": small_dim,
                            "large_dim": large_dim, "n_numeric": n_numeric, "hidden": list(hidden),
                            "dense_only": dense_only}
        offsets = torch.tensor([0, *small_cards[:-1]]).cumsum(0) if small_cards else torch.zeros(0, dtype=torch.long)
        self.register_buffer("small_offsets", offsets)
        self.small = nn.Embedding(max(1, sum(small_cards)), small_dim)
        self.n_small, self.n_numeric = len(small_cards), n_numeric
        self.tables = nn.ModuleDict({} if dense_only else {f"id{j}": nn.Embedding(r, large_dim)
                                                           for j, r in enumerate(large_rows)})
        self.table_keys = {f"id{j}": f"id{j}" for j in range(len(large_rows))}
        self.mlp = mlp(small_dim * len(small_cards) + large_dim * len(large_rows) + n_numeric, hidden)

    def dense_forward(self, emb: dict, batch: dict) -> torch.Tensor:
        parts = [emb[n] for n in self.table_keys]
        if self.n_small:
            parts.append(self.small(batch["small"] + self.small_offsets).flatten(1))
        if self.n_numeric:
            parts.append(batch["num"])
        return self.mlp(torch.cat(parts, dim=-1)).squeeze(-1)
