"""The heterogeneous graph of MF-LET's KGE facet, built from the pretraining window only.

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

import numpy as np
import pandas as pd
import torch

from reprorec.data.ctr import CTRData

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
