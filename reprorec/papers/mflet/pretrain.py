"""Pretraining the facets on the pretraining window -> vectors row-aligned with the ranking ID tables.

Both facets see only the pretraining window (``CTRData.pretrain``, real interactions, no sampled
negatives), never the ranking-train/val/test windows. Rows of IDs absent from that window carry
no pretrained information and are re-drawn from the ranker's own scratch init N(0, init_std).
Results are cached (``reprorec.cache``) per (dataset split, facet config, seed, code) so the eight
experiments of one seed pretrain each facet once.
"""
from __future__ import annotations

import torch

from reprorec import config as C
from reprorec.cache import cached
from reprorec.data.ctr import CTRData

from .data import ml100k_genres, pretrain_graph
from .models import pretrain_contrastive


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
    seen[torch.as_tensor(data.pretrain[f"{field}_row"].to_numpy())] = True
    seen[0] = False
    return seen


def contrastive_vectors(data: CTRData, spec: dict, seed: int) -> tuple[dict, dict]:
    pos = data.pretrain[data.pretrain["label"] == 1]
    users = torch.as_tensor(pos["user_row"].to_numpy())
    items = torch.as_tensor(pos["item_row"].to_numpy())
    n_u, n_i = data.schema.id_field("user").num_ids, data.schema.id_field("item").num_ids
    vec = pretrain_contrastive(users, items, n_u, n_i, dim=int(spec["dim"]),
                               temperature=float(spec.get("temperature", 0.1)), lr=float(spec.get("lr", 0.01)),
                               epochs=int(spec.get("epochs", 10)), batch_size=int(spec.get("batch_size", 512)),
                               normalize=bool(spec.get("normalize", True)), seed=seed)
    return vec, {"positives": int(len(pos))}


def kge_vectors(data: CTRData, spec: dict, seed: int) -> tuple[dict, dict]:
    from reprorec.kge import KGETrainConfig, build_model, train_kge

    attrs = ml100k_genres(data) if data.name.startswith("ml-100k") and spec.get("item_attributes", True) else None
    ts, off = pretrain_graph(data, attrs)
    kw = {"relation_dim": int(spec.get("relation_dim", spec["dim"]))}
    if spec.get("model", "transra") == "transra":
        kw["anchor_relations"] = off["anchors"]
    torch.manual_seed(seed)
    model = build_model(spec.get("model", "transra"), ts.n_entities, ts.n_relations, dim=int(spec["dim"]), **kw)
    cfg = KGETrainConfig.from_dict({**spec.get("train", {}), "seed": seed})
    info = train_kge(model, ts, cfg)
    ent = model.entity_vectors().detach()
    n_u, n_i = data.schema.id_field("user").num_ids, data.schema.id_field("item").num_ids
    vec = {"user": ent[off["user"]:off["user"] + n_u], "item": ent[off["item"]:off["item"] + n_i]}
    return vec, {"triples": len(ts), "entities": ts.n_entities, "relations": ts.relation_names,
                 "final_loss": info["loss"][-1] if info["loss"] else None, "epochs": info["epochs"]}


PRETRAIN = {"contrastive": contrastive_vectors, "kge": kge_vectors}
# the code a cached facet depends on: editing any of it retrains the facet instead of reusing stale vectors
FACET_CODE = ("reprorec/kge", "reprorec/ctr", "reprorec/data", "reprorec/cache.py", "reprorec/papers/mflet/pretrain.py",
              "reprorec/papers/mflet/models.py", "reprorec/papers/mflet/data.py")


def facet_vectors(facet: str, data: CTRData, cfg: dict, seed: int) -> tuple[dict, dict]:
    """{'user': (n_users, d), 'item': (n_items, d)} for ``facet``, cached; plus info for the record."""
    spec = dict(C.get(cfg, f"facets.{facet}"))
    init_std = float(C.get(cfg, "model.init_std", 1e-2))

    def compute() -> dict:
        vec, info = PRETRAIN[facet](data, spec, seed)
        vec = {f: _finalize(vec[f], _seen(data, f), spec.get("init_norm"), init_std, seed + k)
               for k, f in enumerate(("user", "item"))}
        return {"vectors": vec, "info": info}

    inputs = {"facet": facet, "spec": spec, "data": data.split_fingerprint, "name": data.name, "seed": seed,
              "init_std": init_std}
    blob, hit = cached("mflet", facet, inputs=inputs, code=FACET_CODE, seed=seed, compute=compute)
    return blob["vectors"], {**blob["info"], "cached": True} if hit else blob["info"]
