"""Logistic regression over one-hot categorical ids + numeric features (the CTR floor)."""
from __future__ import annotations

import torch
from torch import nn


class LogisticRegression(nn.Module):
    def __init__(self, n_categories: int, n_numeric: int, l2: float = 0.0):
        super().__init__()
        self.w_cat = nn.Embedding(n_categories, 1)
        nn.init.zeros_(self.w_cat.weight)
        self.w_num = nn.Linear(n_numeric, 1) if n_numeric else None
        self.bias = nn.Parameter(torch.zeros(()))
        self.l2 = l2

    def forward(self, batch):
        out = self.bias + self.w_cat(batch["cat"]).sum(dim=(1, 2))
        if self.w_num is not None:
            out = out + self.w_num(batch["num"]).squeeze(-1)
        return out

    def regularization(self, batch):
        return self.l2 * self.w_cat(batch["cat"]).pow(2).sum(dim=(1, 2)).mean()
