"""Onsite-offsite heterogeneous graph proxy, built from the PRETRAINING WINDOW ONLY.

The paper's graph (Jin et al. 2025, abstract) joins users' onsite ad engagements with their opt-in
offsite conversions. Public data has neither, so the proxy maps (see README for the table):

  user --engage_pos--> item     onsite positive engagement: a pretraining-window impression with click = 1
  user --engage_neg--> item     onsite negative engagement: an impression with click = 0 (real ratings only,
                                never the CTR proxy's sampled negatives)
  user --convert-->    item     conversion-like: Amazon: every written review (a review is a purchase);
                                ML-100K: a 5-star rating (the strongest intent signal there is)
  item --co_purchase-> item     Amazon metadata 'also_buy' (only when the category's metadata file exists)
  item --has_genre / has_category / has_brand--> attribute
  user --has_occupation / has_age / has_gender--> attribute          (ML-100K)
  item --fb:<relation>--> Freebase entity                            (ML-100K, optional ``freebase: true``)

Users and items are the *anchor* entities: entity "user:<row>" is row <row> of the ranking model's
user ID table (same for items), so KGE vectors drop straight into those tables. Attribute edges are
added only for users/items that occur in the pretraining window, so nothing about a user or item
first seen later enters the graph.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from reprorec.data import amazon, kg, movielens
from reprorec.kge import TripleSet
from reprorec.ctr import CTRData

TYPES = ["user", "item", "genre", "category", "brand", "occupation", "age", "gender", "fb"]
ANCHOR_RELATIONS = ("engage_pos",)  # TransRA (interpretation): user -> item engagement scores with M_r = I


@dataclass
class Graph:
    triples: TripleSet
    user_entity: torch.Tensor      # (n user rows,) entity id of user row k, -1 if the user is not in the graph
    item_entity: torch.Tensor      # (n item rows,)
    relation_ids: dict[str, int]
    max_interaction_time: int      # latest timestamp of any user-item edge (< the pretraining cut)
    files: dict[str, str] = field(default_factory=dict)
    stats: dict = field(default_factory=dict)

    def anchor_relation_ids(self, names=ANCHOR_RELATIONS) -> list[int]:
        return [self.relation_ids[n] for n in names if n in self.relation_ids]

    def views(self, side: str) -> list[tuple[int, int]]:
        """(relation id, sign) of every relation an entity of ``side`` takes part in: +1 as head, -1 as tail.

        A relation-specific *view* of entity e is P_r e + sign * w_r: the point its partner should sit at.
        """
        h_type, t_type = _relation_types(self.triples)
        kind = TYPES.index(side)
        out = [(r, +1) for r in range(self.triples.n_relations) if h_type[r] == kind]
        return out + [(r, -1) for r in range(self.triples.n_relations) if t_type[r] == kind]


def _relation_types(ts: TripleSet):
    from reprorec.kge import relation_types

    return [t.tolist() for t in relation_types(ts)]


def _age_bucket(age: int) -> str:
    return next(f"<{b}" for b in (18, 25, 35, 45, 50, 56, 200) if age < b)


def build_graph(data: CTRData, dataset: str, freebase: bool = False, co_purchase: bool = True) -> Graph:
    """Heterogeneous triples from ``data.pretrain`` (the pretraining window) and static side information."""
    pre = data.pretrain
    pre = pre[(pre["user_row"] > 0) & (pre["item_row"] > 0)]
    u = "user:" + pre["user_row"].astype(str)
    i = "item:" + pre["item_row"].astype(str)
    parts = [pd.DataFrame({"head": u, "relation": np.where(pre["label"] == 1, "engage_pos", "engage_neg"), "tail": i})]
    amazon_like = dataset.startswith("amazon")
    convert = np.ones(len(pre), bool) if amazon_like else (pre["rating"] >= 5).to_numpy()
    parts.append(pd.DataFrame({"head": u[convert], "relation": "convert", "tail": i[convert]}))
    users = dict(zip(pre["user"], pre["user_row"]))
    items = dict(zip(pre["item"], pre["item_row"]))
    files: dict[str, str] = {}
    if dataset.startswith("ml-100k"):
        ut, it = movielens.load_users("ml-100k"), movielens.load_items("ml-100k")
        files.update(ut.files | it.files)
        uf = ut.frame[ut.frame["user_id"].isin(users)]
        urow = "user:" + uf["user_id"].map(users).astype(str)
        for rel, vals in (("has_occupation", "occupation:" + uf["occupation"]),
                          ("has_age", "age:" + uf["age"].map(_age_bucket)), ("has_gender", "gender:" + uf["gender"])):
            parts.append(pd.DataFrame({"head": urow, "relation": rel, "tail": vals}))
        itf = it.frame[it.frame["item_id"].isin(items)].explode("genres").dropna(subset=["genres"])
        parts.append(pd.DataFrame({"head": "item:" + itf["item_id"].map(items).astype(str), "relation": "has_genre",
                                   "tail": "genre:" + itf["genres"]}))
        if freebase:
            links, trip = kg.load_links(), kg.load_triples()
            files.update(links.files | trip.files)
            link = {e: f"item:{items[i_]}" for i_, e in zip(links.frame["item_id"], links.frame["entity"]) if i_ in items}
            t = trip.frame[trip.frame["head"].isin(link)]
            parts.append(pd.DataFrame({"head": t["head"].map(link), "relation": "fb:" + t["relation"],
                                       "tail": "fb:" + t["tail"]}))
    elif amazon_like:
        base = dataset[:-len("-ctr")] if dataset.endswith("-ctr") else dataset
        if amazon.has_metadata(base):
            meta = amazon.load_metadata(base)
            files.update(meta.files)
            m = meta.frame[meta.frame["item_id"].isin(items)]
            row = "item:" + m["item_id"].map(items).astype(str)
            parts.append(pd.DataFrame({"head": row, "relation": "has_brand", "tail": "brand:" + m["brand"]})
                         [m["brand"].to_numpy() != ""])
            cats = m.assign(head=row).explode("categories").dropna(subset=["categories"])
            parts.append(pd.DataFrame({"head": cats["head"], "relation": "has_category",
                                       "tail": "category:" + cats["categories"]}))
            if co_purchase:
                cp = m.assign(head=row).explode("also_buy").dropna(subset=["also_buy"])
                cp = cp[cp["also_buy"].isin(items)]
                parts.append(pd.DataFrame({"head": cp["head"], "relation": "co_purchase",
                                           "tail": "item:" + cp["also_buy"].map(items).astype(str)}))
    frame = pd.concat(parts, ignore_index=True).drop_duplicates().reset_index(drop=True)
    ents = sorted(set(frame["head"]) | set(frame["tail"]))
    ts = TripleSet.from_labels(frame, {e: TYPES.index(e.split(":", 1)[0]) for e in ents})
    e_id = {e: k for k, e in enumerate(ts.entity_names)}
    n_users = data.schema.id_field("user").num_ids
    n_items = data.schema.id_field("item").num_ids
    user_entity = torch.tensor([e_id.get(f"user:{r}", -1) for r in range(n_users)])
    item_entity = torch.tensor([e_id.get(f"item:{r}", -1) for r in range(n_items)])
    counts = frame["relation"].value_counts().sort_index()
    stats = {"triples": len(frame), "entities": ts.n_entities, "relations": counts.to_dict(),
             "users": int((user_entity >= 0).sum()), "items": int((item_entity >= 0).sum())}
    return Graph(ts, user_entity, item_entity, {r: k for k, r in enumerate(ts.relation_names)},
                 int(pre["timestamp"].max()), files, stats)
