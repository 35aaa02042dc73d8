"""A reference `HybridModel`: per-field ID tables -> concatenation (+ numeric) -> MLP.

Used where only the serving path matters (unit tests, the synthetic Criteo-scale serving
benchmark); the MF-LET ranking model is a `HybridModel` around the DCNv2 backbone instead.
"""
from __future__ import annotations

import torch
from torch import nn

from .interface import HybridModel


class TablesMLP(HybridModel):
    def __init__(self, cardinalities: list[int], dim: int, n_numeric: int = 0, hidden: list[int] = (256, 128),
                 key: str = "cat"):
        super().__init__()
        self.init_kwargs = {"cardinalities": list(cardinalities), "dim": dim, "n_numeric": n_numeric,
                            "hidden": list(hidden), "key": key}
        self.key, self.n_numeric = key, n_numeric
        self.tables = nn.ModuleDict({f"f{j}": nn.Embedding(c, dim) for j, c in enumerate(cardinalities)})
        self.table_keys = {f"f{j}": f"{key}{j}" for j in range(len(cardinalities))}
        layers, width = [], dim * len(cardinalities) + n_numeric
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.mlp = nn.Sequential(*layers, nn.Linear(width, 1))

    def dense_forward(self, emb: dict, batch: dict) -> torch.Tensor:
        parts = [emb[n] for n in self.table_keys]
        if self.n_numeric:
            parts.append(batch["num"])
        return self.mlp(torch.cat(parts, dim=-1)).squeeze(-1)
