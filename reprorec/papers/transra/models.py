"""How KGE vectors enter the DCNv2 ranking model (experiments (b)-(d)); (a) is the plain backbone.

(b) ``KGEFeatures``: the user's and item's KGE entity vectors, frozen, appended to the field
    embedding ("direct incorporation").
(c) ``init_id_tables``: the user/item rows of the Large ID Embedding Tables start from the KGE
    vectors and are finetuned with the ranker (rows of users/items absent from the graph keep the
    backbone's own initialisation).
(d) ``KGEAttention`` (on top of (c)): for each example, every relation-specific *view* of the item,
    P_r e_item + sign * w_r over the relations items take part in, is a key/value; the query is the
    user's ID embedding (and symmetrically for the user's views with the item's ID embedding as the
    query). Scaled dot-product attention pools the views; the two pooled vectors are appended to
    the field embedding. The KGE model inside (entities, relation vectors, projections) is
    finetuned with the ranker.
Users/items not in the graph (first seen after the pretraining window) get zero KGE features.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from reprorec.kge import KGEModel

from .data import Graph


def _rows(entity_of_row: torch.Tensor, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Entity id for each ID-table row in ``ids`` (0 where unknown) and a (B, 1) mask of known ones."""
    ent = entity_of_row[ids]
    known = ent >= 0
    return ent.clamp_min(0), known[:, None].float()


def kge_vectors(kge: KGEModel, graph: Graph, trained: torch.Tensor, side: str) -> torch.Tensor:
    """(n rows, d) entity vectors for the rows of the ``side`` ID table; zero for rows not trained."""
    index = graph.user_entity if side == "user" else graph.item_entity
    ent, known = _rows(index, torch.arange(len(index)))
    known = known * trained[ent][:, None].float()
    return kge.entity_vectors().detach()[ent] * known


class KGEFeatures(nn.Module):
    """(b) frozen user/item KGE vectors as two extra fields."""

    def __init__(self, user_vectors: torch.Tensor, item_vectors: torch.Tensor):
        super().__init__()
        self.register_buffer("user_vectors", user_vectors.clone())
        self.register_buffer("item_vectors", item_vectors.clone())
        self.out_dim = user_vectors.shape[1] + item_vectors.shape[1]

    def forward(self, batch, embedding=None):
        return torch.cat([self.user_vectors[batch["user"]], self.item_vectors[batch["item"]]], dim=1)


def init_id_tables(model, kge: KGEModel, graph: Graph, trained: torch.Tensor) -> dict:
    """(c) seed the user/item ID tables from KGE vectors (trained graph entities only); returns counts."""
    counts = {}
    for side, index in (("user", graph.user_entity), ("item", graph.item_entity)):
        rows = torch.nonzero(index >= 0, as_tuple=True)[0]
        rows = rows[trained[index[rows]]]
        model.id_table(side).load_pretrained(kge.entity_vectors().detach()[index[rows]], ids=rows, freeze=False)
        counts[side] = int(len(rows))
    return counts


class KGEAttention(nn.Module):
    """(d) attention over relation-specific KGE views, queried by the other side's ID embedding."""

    def __init__(self, kge: KGEModel, graph: Graph, id_dim: int):
        super().__init__()
        self.kge = copy.deepcopy(kge)  # finetuned copy; the cached pretrained model stays untouched
        self.kge.post_step = lambda: None
        d = kge.relation_dim
        self.register_buffer("user_entity", graph.user_entity.clone())
        self.register_buffer("item_entity", graph.item_entity.clone())
        for side in ("user", "item"):
            rel, sign = zip(*graph.views(side))
            self.register_buffer(f"{side}_rel", torch.tensor(rel))
            self.register_buffer(f"{side}_sign", torch.tensor(sign, dtype=torch.float))
        self.query = nn.ModuleDict({"user": nn.Linear(id_dim, d), "item": nn.Linear(id_dim, d)})
        self.out_dim = 2 * d
        self.last_attention: dict[str, torch.Tensor] = {}

    def views(self, side: str, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, V, d) views of the ``side`` entities of a batch and the (B, 1) known mask."""
        ent, known = _rows(getattr(self, f"{side}_entity"), ids)
        rel, sign = getattr(self, f"{side}_rel"), getattr(self, f"{side}_sign")
        e = self.kge.entity(ent)[:, None, :].expand(-1, len(rel), -1)
        r = rel[None, :].expand(len(ids), -1)
        v = self.kge.project(e, r) + sign[None, :, None] * self.kge.relation(r)
        return v, known

    def pool(self, side: str, ids: torch.Tensor, query_vec: torch.Tensor) -> torch.Tensor:
        v, known = self.views(side, ids)
        q = self.query[side](query_vec)                                   # (B, d)
        att = torch.softmax((v @ q[:, :, None]).squeeze(-1) / math.sqrt(v.shape[-1]), dim=1)
        self.last_attention[side] = att.detach()
        return (att[:, :, None] * v).sum(1) * known

    def forward(self, batch, embedding):
        u_id, i_id = embedding.id_table("user")(batch["user"]), embedding.id_table("item")(batch["item"])
        return torch.cat([self.pool("user", batch["user"], i_id), self.pool("item", batch["item"], u_id)], dim=1)
