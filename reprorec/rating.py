"""Rating-prediction building blocks shared by every paper that predicts explicit ratings.

`RatingData` turns a ratings table + split into index tensors (ids factorised over the whole
table: the ID vocabulary is known up front and is not a leak; the ratings of val/test are never
used for fitting). `BiasedMF` is the classic  r̂ = μ + b_u + b_i + p_u·q_i  (Koren et al. 2009),
with μ fixed to the training mean and L2 applied to the looked-up rows only (as SGD-MF does).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from .data.splits import Split


@dataclass
class RatingData:
    n_users: int
    n_items: int
    global_mean: float
    tensors: dict[str, dict[str, torch.Tensor]]  # split -> {'user','item','y'}
    user_codes: np.ndarray
    item_codes: np.ndarray

    @classmethod
    def build(cls, frame: pd.DataFrame, split: Split) -> "RatingData":
        users, _ = pd.factorize(frame["user_id"], sort=True)
        items, _ = pd.factorize(frame["item_id"], sort=True)
        y = frame["rating"].to_numpy(np.float32)
        tensors = {name: {"user": torch.as_tensor(users[idx], dtype=torch.long),
                          "item": torch.as_tensor(items[idx], dtype=torch.long),
                          "y": torch.as_tensor(y[idx])} for name, idx in split.items()}
        return cls(int(users.max()) + 1, int(items.max()) + 1, float(y[split["train"]].mean()), tensors, users, items)


class BiasedMF(nn.Module):
    """μ + b_u + b_i + <p_u, q_i>; ``dim=0`` gives the user/item-bias baseline."""

    def __init__(self, n_users: int, n_items: int, dim: int, global_mean: float, reg: float = 0.0,
                 init_std: float = 0.01):
        super().__init__()
        self.register_buffer("mu", torch.tensor(float(global_mean)))
        self.user_bias = nn.Embedding(n_users, 1)
        self.item_bias = nn.Embedding(n_items, 1)
        nn.init.zeros_(self.user_bias.weight)
        nn.init.zeros_(self.item_bias.weight)
        self.dim, self.reg = dim, reg
        if dim > 0:
            self.P = nn.Embedding(n_users, dim)
            self.Q = nn.Embedding(n_items, dim)
            nn.init.normal_(self.P.weight, std=init_std)
            nn.init.normal_(self.Q.weight, std=init_std)

    def forward(self, batch):
        u, i = batch["user"], batch["item"]
        out = self.mu + self.user_bias(u).squeeze(-1) + self.item_bias(i).squeeze(-1)
        if self.dim > 0:
            out = out + (self.P(u) * self.Q(i)).sum(-1)
        return out

    def regularization(self, batch):
        """L2 on the rows this batch touched, averaged over the batch (per-example SGD-MF penalty)."""
        u, i = batch["user"], batch["item"]
        sq = self.user_bias(u).pow(2).sum(-1) + self.item_bias(i).pow(2).sum(-1)
        if self.dim > 0:
            sq = sq + self.P(u).pow(2).sum(-1) + self.Q(i).pow(2).sum(-1)
        return self.reg * sq.mean()
