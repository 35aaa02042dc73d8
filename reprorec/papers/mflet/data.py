"""MF-LET's view of the backbone's CTR proxies: the time-windowed data plus history counters.

The ranking model of the paper has many non-ID features; the Amazon 5-core proxy has none besides
the IDs (no metadata file for Musical Instruments), which would make experiment (1) "no ID tables"
a constant predictor. So, on both proxies, every impression gets four *history* features computed
from the pretraining window only (it precedes every ranking window, so nothing leaks):
log1p of the user's and of the item's interaction count, and the user's and item's click rate
(smoothed towards the window's global rate with 5 pseudo-counts). These are the counting features
of an ads ranker; they are non-ID features, present in all five experiments.

The heterogeneous graph of MF-LET's KGE facet, built from the pretraining window only.

The paper's graph joins users' onsite ad engagements with their offsite conversions. Our proxy
(ratings as impressions) keeps that shape with three user->item relations:

  click      label 1 (rating >= 4)             the engagement the ranker predicts
  convert    rating 5                          the strongest signal, standing in for a conversion
  skip       a real impression with label 0    (rating <= 3; sampled negatives are never edges)

plus, where the proxy has item knowledge, item->attribute edges (ML-100K: genres from u.item).
Entities: user rows, item rows (the ranking ID maps' rows, so vectors drop straight into the
tables) and attribute values; entity types 0 = user, 1 = item, 2 = attribute.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
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
    key = json.dumps([cfg["dataset"], cfg.get("data"), cfg.get("features")], sort_keys=True, default=str)
    if key not in _LOADED:
        data = data_from_cfg(cfg)
        if C.settings(cfg).features.history:
            add_history(data)
        _LOADED[key] = data
    return _LOADED[key]


ENGAGEMENT = ("click", "convert", "skip")


def pretrain_graph(data: CTRData, item_attributes: pd.DataFrame | None = None):
    """-> (TripleSet over entities [users | items | attributes], {'user': offset, 'item': offset, 'anchors': [...]})."""
    from reprorec.kge import TripleSet  # the shared KGE library

    n_users = data.schema.id_field("user").num_ids
    n_items = data.schema.id_field("item").num_ids
    pre = data.pretrain
    u, i = pre["user_row"].to_numpy(), pre["item_row"].to_numpy() + n_users
    rel = {name: k for k, name in enumerate(ENGAGEMENT)}
    parts = [np.stack([u, np.full_like(u, rel["click"]), i], 1)[pre["label"].to_numpy() == 1],
             np.stack([u, np.full_like(u, rel["skip"]), i], 1)[pre["label"].to_numpy() == 0]]
    if "rating" in pre:
        parts.append(np.stack([u, np.full_like(u, rel["convert"]), i], 1)[pre["rating"].to_numpy() == 5])
    n_ent, types = n_users + n_items, [0] * n_users + [1] * n_items
    if item_attributes is not None and len(item_attributes):
        values = sorted(set(item_attributes["value"]))
        vid = {v: n_ent + k for k, v in enumerate(values)}
        rels = sorted(set(item_attributes["relation"]))
        rid = {r: len(ENGAGEMENT) + k for k, r in enumerate(rels)}
        rel.update(rid)
        a = item_attributes
        parts.append(np.stack([a["item_row"].to_numpy() + n_users, a["relation"].map(rid).to_numpy(),
                               a["value"].map(vid).to_numpy()], 1))
        n_ent += len(values)
        types += [2] * len(values)
    triples = torch.as_tensor(np.unique(np.concatenate(parts).astype(np.int64), axis=0))
    ts = TripleSet(triples, n_ent, len(rel), torch.tensor(types), relation_names=sorted(rel, key=rel.get))
    return ts, {"user": 0, "item": n_users, "anchors": [rel[r] for r in ENGAGEMENT]}


def ml100k_genres(data: CTRData) -> pd.DataFrame:
    """item_row, relation 'genre', value: the genres of every item in the ranking ID map."""
    from reprorec.data import movielens

    items = movielens.load_items("ml-100k").frame
    rows = items["item_id"].map(data.id_maps["item"])
    out = [(int(r), "genre", f"genre:{g}") for r, gs in zip(rows, items["genres"]) if r == r for g in gs]
    return pd.DataFrame(out, columns=["item_row", "relation", "value"])
