"""Pretraining the facets on the pretraining window -> vectors row-aligned with the ranking ID tables.

Both facets see only the pretraining window (``CTRData.pretrain``, real interactions, no sampled
negatives), never the ranking-train/val/test windows. Rows of IDs absent from that window carry
no pretrained information and are re-drawn from the ranker's own scratch init N(0, init_std).
Results are cached (``reprorec.cache``) per (dataset split, facet config, seed, code) so the eight
experiments of one seed pretrain each facet once.
"""
from __future__ import annotations

from typing import Literal, Optional

import torch

from reprorec import config as C
from reprorec.cache import cached
from reprorec.config import PosFloat, PosInt, Section
from reprorec.kge.training import KGETrainKeys
from reprorec.data.ctr import CTRData
from reprorec.registry import Resolver

from .data import ml100k_genres, pretrain_graph
from .models import pretrain_contrastive


class ContrastiveFacet(Section):
    dim: PosInt
    temperature: PosFloat = 0.1
    lr: PosFloat = 0.01
    epochs: PosInt = 10
    batch_size: PosInt = 512
    normalize: bool = True
    init_norm: Optional[PosFloat] = None      # rescale pretrained rows to this norm (None: keep)


class KGEFacet(Section):
    model: Literal["transe", "transr", "transra"] = "transra"
    dim: PosInt
    relation_dim: Optional[PosInt] = None     # None: dim
    item_attributes: bool = True              # ML-100K genres as item -> genre triples
    init_norm: Optional[PosFloat] = None
    train: KGETrainKeys = KGETrainKeys()


class ScratchFacet(Section):
    """Arm (2)'s tables: nothing is pretrained; only their width is set (the capacity control, study
    capacity-32: 32-d + a learned projection to the ranking ID width, the shape of the contrastive facet)."""
    dim: PosInt


class Facets(Section):
    freeze: bool = False                      # keep every pretrained facet's tables fixed in the ranker
    scratch: Optional[ScratchFacet] = None    # None: the ranking ID width, no projection
    contrastive: Optional[ContrastiveFacet] = None
    kge: Optional[KGEFacet] = None


def _finalize(vectors: torch.Tensor, seen: torch.Tensor, init_norm: float | None, init_std: float,
              seed: int) -> torch.Tensor:
    out = vectors.detach().clone().float()
    if init_norm:
        out = torch.nn.functional.normalize(out, dim=-1) * init_norm
    g = torch.Generator().manual_seed(seed)
    fresh = torch.randn(out.shape, generator=g) * init_std
    return torch.where(seen[:, None], out, fresh)


def _seen(data: CTRData, field: str) -> torch.Tensor:
    n = data.schema.id_field(field).num_ids
    seen = torch.zeros(n, dtype=torch.bool)
    seen[torch.as_tensor(data.pretrain[f"{field}_row"].to_numpy(copy=True))] = True
    seen[0] = False
    return seen


def contrastive_vectors(data: CTRData, spec: ContrastiveFacet, seed: int) -> tuple[dict, dict]:
    pos = data.pretrain[data.pretrain["label"] == 1]
    users = torch.as_tensor(pos["user_row"].to_numpy(copy=True))
    items = torch.as_tensor(pos["item_row"].to_numpy(copy=True))
    n_u, n_i = data.schema.id_field("user").num_ids, data.schema.id_field("item").num_ids
    vec = pretrain_contrastive(users, items, n_u, n_i, dim=spec.dim, temperature=spec.temperature, lr=spec.lr,
                               epochs=spec.epochs, batch_size=spec.batch_size, normalize=spec.normalize, seed=seed)
    return vec, {"positives": int(len(pos))}


def kge_vectors(data: CTRData, spec: KGEFacet, seed: int) -> tuple[dict, dict]:
    from reprorec.kge import KGETrainConfig, build_model, train_kge

    attrs = ml100k_genres(data) if data.name.startswith("ml-100k") and spec.item_attributes else None
    ts, off = pretrain_graph(data, attrs)
    kw = {"relation_dim": spec.relation_dim or spec.dim}
    if spec.model == "transra":
        kw["anchor_relations"] = off["anchors"]
    torch.manual_seed(seed)
    model = build_model(spec.model, ts.n_entities, ts.n_relations, dim=spec.dim, **kw)
    cfg = KGETrainConfig.from_dict({**spec.train.given(), "seed": seed})
    info = train_kge(model, ts, cfg)
    ent = model.entity_vectors().detach()
    n_u, n_i = data.schema.id_field("user").num_ids, data.schema.id_field("item").num_ids
    vec = {"user": ent[off["user"]:off["user"] + n_u], "item": ent[off["item"]:off["item"] + n_i]}
    return vec, {"triples": len(ts), "entities": ts.n_entities, "relations": ts.relation_names,
                 "final_loss": info["loss"][-1] if info["loss"] else None, "epochs": info["epochs"]}


PRETRAIN = Resolver("facet pretraining", {"contrastive": contrastive_vectors, "kge": kge_vectors})
# the code a cached facet depends on: editing any of it retrains the facet instead of reusing stale vectors
FACET_CODE = ("reprorec/kge", "reprorec/ctr", "reprorec/data", "reprorec/cache.py", "reprorec/papers/mflet/pretrain.py",
              "reprorec/papers/mflet/models.py", "reprorec/papers/mflet/data.py")


def facet_vectors(facet: str, data: CTRData, cfg: dict, seed: int) -> tuple[dict, dict]:
    """{'user': (n_users, d), 'item': (n_items, d)} for ``facet``, cached; plus info for the record."""
    s = C.settings(cfg)
    spec, init_std = getattr(s.facets, facet), s.model.init_std
    if spec is None:
        raise C.ConfigError(f"facets.{facet} in {cfg.get('_file', 'the config')}: this arm needs it")

    def compute() -> dict:
        vec, info = PRETRAIN.lookup(facet)(data, spec, seed)
        vec = {f: _finalize(vec[f], _seen(data, f), spec.init_norm, init_std, seed + k)
               for k, f in enumerate(("user", "item"))}
        return {"vectors": vec, "info": info}

    inputs = {"facet": facet, "spec": cfg["facets"][facet], "data": data.split_fingerprint, "name": data.name, "seed": seed,
              "init_std": init_std}
    blob, hit = cached("mflet", facet, inputs=inputs, code=FACET_CODE, seed=seed, compute=compute)
    return blob["vectors"], {**blob["info"], "cached": True} if hit else blob["info"]
