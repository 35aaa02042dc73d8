"""MF-LET's view of the backbone's CTR proxies: the time-windowed data plus history counters.

The ranking model of the paper has many non-ID features; the Amazon 5-core proxy has none besides
the IDs (no metadata file for Musical Instruments), which would make experiment (1) "no ID tables"
a constant predictor. So, on both proxies, every impression gets four *history* features computed
from the pretraining window only (it precedes every ranking window, so nothing leaks):
log1p of the user's and of the item's interaction count, and the user's and item's click rate
(smoothed towards the window's global rate with 5 pseudo-counts). These are the counting features
of an ads ranker; they are non-ID features, present in all five experiments.
"""
from __future__ import annotations

import json

import numpy as np
import torch

from reprorec import config as C
from reprorec.data.ctr import CTRData
from reprorec.ctr.run import data_from_cfg

HISTORY = ("hist_user_log_count", "hist_item_log_count", "hist_user_ctr", "hist_item_ctr")


def history_table(data: CTRData, field: str, prior: float = 5.0) -> torch.Tensor:
    """(rows, 2): log1p(count) and smoothed click rate of every table row in the pretraining window."""
    n = data.schema.id_field(field).num_ids
    pre = data.pretrain
    rows = pre[f"{field}_row"].to_numpy()
    count = np.bincount(rows, minlength=n).astype(np.float32)
    clicks = np.bincount(rows, weights=pre["label"].to_numpy().astype(np.float32), minlength=n)
    base = float(pre["label"].mean())
    rate = (clicks + prior * base) / (count + prior)
    out = torch.as_tensor(np.stack([np.log1p(count), rate], 1), dtype=torch.float32)
    out[0] = torch.tensor([0.0, base])  # the OOV row carries no history
    return out


def add_history(data: CTRData) -> CTRData:
    user, item = history_table(data, "user"), history_table(data, "item")
    for w, t in data.windows.items():
        h = torch.stack([user[t["user"], 0], item[t["item"], 0], user[t["user"], 1], item[t["item"], 1]], 1)
        t["num"] = torch.cat([t["num"], h], 1) if "num" in t else h
    data.schema.numeric = [*data.schema.numeric, *HISTORY]
    return data


_LOADED: dict[str, CTRData] = {}


def load_data(cfg: dict) -> CTRData:
    """The proxy (+ history features). Kept in memory per (dataset, data, features) config, because
    `reprorec reproduce` runs all arms and seeds in one process and the split does not depend on the
    seed; nothing downstream mutates a CTRData."""
    key = json.dumps([cfg["dataset"], C.get(cfg, "data"), C.get(cfg, "features")], sort_keys=True, default=str)
    if key not in _LOADED:
        data = data_from_cfg(cfg)
        if C.get(cfg, "features.history", True):
            add_history(data)
        _LOADED[key] = data
    return _LOADED[key]
