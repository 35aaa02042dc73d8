"""Feature encoding for CTR data: categorical vocabularies fitted on training rows only.

`CategoricalEncoder` maps each field's raw values to ids in one shared index space with a
per-field offset; values seen fewer than ``min_count`` times in training (and unseen values)
map to that field's OOV id. Numeric count fields are heavy-tailed: log1p(max(x, 0)), missing -> 0.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch


class CategoricalEncoder:
    def __init__(self, min_count: int = 1):
        self.min_count = min_count
        self.vocab: dict[str, dict] = {}
        self.offsets: dict[str, int] = {}
        self.size = 0

    def fit(self, frame: pd.DataFrame, fields: list[str]) -> "CategoricalEncoder":
        offset = 0
        for f in fields:
            counts = frame[f].astype("string").fillna("<NA>").value_counts()
            keep = sorted(counts[counts >= self.min_count].index.tolist())
            self.vocab[f] = {v: j + 1 for j, v in enumerate(keep)}  # 0 = OOV of this field
            self.offsets[f] = offset
            offset += len(keep) + 1
        self.size = offset
        return self

    def transform(self, frame: pd.DataFrame) -> torch.Tensor:
        cols = []
        for f, vocab in self.vocab.items():
            ids = frame[f].astype("string").fillna("<NA>").map(vocab).fillna(0).to_numpy(np.int64)
            cols.append(ids + self.offsets[f])
        return torch.as_tensor(np.stack(cols, axis=1))


def criteo_numeric(frame: pd.DataFrame, fields: list[str]) -> torch.Tensor:
    x = frame[fields].astype("float64").fillna(0.0).to_numpy()
    x = np.log1p(np.maximum(x, 0.0))
    return torch.as_tensor(x, dtype=torch.float32)
