"""MF-LET experiments: one run function, registered once per set of ID tables the ranker has.

  no-id                 (1) backbone on non-ID features only
  scratch               (2) user/item ID tables trained from scratch in the ranker
  contrastive           (3) ID tables initialised by the contrastive facet
  kge                   (4) ID tables initialised by the KGE facet
  both                  (5) both facets, one table each, concatenated
  scratch-and-both      scratch tables beside both pretrained facets' tables

Whether the pretrained tables train is the config's ``facets.freeze`` (default false: finetuned with the
ranking loss, sparse Adam on the looked-up rows; true: every pretrained facet's table stays fixed, its
projection still trains). Scratch tables are never pretrained, so never frozen. The experiments
``<arm>-frozen`` are (3)-(5) with ``facets.freeze: true``; ``scratch-on-frozen`` is C1 under the paper's
condition: method scratch-and-both with ``facets.freeze: true``, i.e. the ranker already has strong *frozen*
pretrained user/item features (experiment both-frozen) and gets scratch ID tables on top; C1 = this vs
both-frozen.

The MF-LET proxy model for the serving benchmark: train arm (5) and hand back model + request batches.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from pydantic import model_validator

import torch

from reprorec import config as C
from reprorec.config import PosFloat, PosInt, Section
from reprorec.ctr.run import CTRModelSchema, CTRSchema, fit_ctr
from reprorec.registry import find_config, register
from reprorec.train import RunContext, RunResult

from .data import load_data
from .pretrain import Facets, facet_vectors
from .models import MFLETRanker, schema_to_dict


# registered method -> the ID tables (facets) its ranker has
ARMS = {"no-id": (), "scratch": ("scratch",), "contrastive": ("contrastive",), "kge": ("kge",),
        "both": ("contrastive", "kge"), "scratch-and-both": ("scratch", "contrastive", "kge")}


class MFLETModel(CTRModelSchema):
    id_dim: Optional[PosInt] = None    # width of the ranker's ID slots (None: embed_dim)
    init_std: PosFloat = 1e-2          # scratch init of ID rows (and of rows a facet never saw)


class Features(Section):
    history: bool = True               # the user's/item's click history before the impression


class MFLETConfig(CTRSchema):
    features: Features = Features()
    model: MFLETModel = MFLETModel()
    facets: Facets = Facets()

    @model_validator(mode="after")
    def _freeze_needs_a_pretrained_table(self):
        if self.facets.freeze and not any(f != "scratch" for f in ARMS.get(self.method, ("pretrained",))):
            raise ValueError(f"facets.freeze: method {self.method} has no pretrained table to freeze")
        return self


def build_ranker(cfg: dict, data, facets: tuple[str, ...]) -> MFLETRanker:
    s = C.settings(cfg)
    m = s.model
    id_dim = m.id_dim or m.embed_dim
    backbone = m.model_dump(exclude_unset=True, exclude={"arch", "id_dim", "init_std"})
    widths = {f: getattr(getattr(s.facets, f, None), "dim", id_dim) for f in facets}
    return MFLETRanker(schema_to_dict(data.schema), widths, id_dim=id_dim, arch=m.arch, backbone=backbone,
                       init_std=m.init_std)


def frozen_facets(cfg: dict, facets: tuple[str, ...]) -> tuple[str, ...]:
    """The facets whose tables stay fixed: every pretrained one under ``facets.freeze``, never scratch."""
    return tuple(f for f in facets if f != "scratch") if C.settings(cfg).facets.freeze else ()


def run_arm(cfg: dict, ctx: RunContext) -> RunResult:
    return train_arm(cfg, ctx)[2]


def train_arm(cfg: dict, ctx: RunContext):
    """-> (trained model at its best-validation weights, data, RunResult) of the config's method
    (its tables: ``ARMS``) with the facets ``facets.freeze`` fixes (``frozen_facets``)."""
    facets = ARMS[cfg["method"]]
    frozen = frozen_facets(cfg, facets)
    data = load_data(cfg)
    model = build_ranker(cfg, data, facets)
    info = {"facets": list(facets), "frozen": list(frozen),
            "table_rows": {n: t.num_embeddings for n, t in model.tables.items()}}
    for facet in facets:
        if facet == "scratch":
            continue
        vectors, finfo = facet_vectors(facet, data, cfg, ctx.seed)
        model.load_facet(facet, vectors, freeze=facet in frozen)
        info[f"pretrain_{facet}"] = finfo
    return model, data, fit_ctr(model, data, cfg, ctx, extra={"mflet": info})


def arm_search_space(facets: tuple[str, ...]):
    """Each arm tunes the ranker plus the pretraining knobs of its own facets, so that a per-arm study
    with the same trial budget gives every arm the same chance (the paper's claims compare arms)."""
    def space(trial) -> dict:
        out = {"model": {"dropout": trial.suggest_float("model.dropout", 0.0, 0.5)},
               "train": {"lr": trial.suggest_float("train.lr", 3e-4, 1e-2, log=True),
                         "weight_decay": trial.suggest_float("train.weight_decay", 1e-7, 1e-3, log=True)}}
        if facets:  # arms with ID tables: their rows train with SparseAdam at their own rate
            out["train"]["sparse_lr"] = trial.suggest_float("train.sparse_lr", 1e-4, 1e-2, log=True)
        facet_cfg = {}
        if "contrastive" in facets:
            facet_cfg["contrastive"] = {
                "temperature": trial.suggest_float("facets.contrastive.temperature", 0.03, 1.0, log=True),
                "lr": trial.suggest_float("facets.contrastive.lr", 1e-3, 1e-1, log=True)}
        if "kge" in facets:
            facet_cfg["kge"] = {"train": {"lr": trial.suggest_float("facets.kge.train.lr", 1e-3, 1e-1, log=True),
                                          "margin": trial.suggest_float("facets.kge.train.margin", 0.25, 4.0,
                                                                        log=True)}}
        if facet_cfg:
            out["facets"] = facet_cfg
        return out
    return space


def _register(name: str, facets: tuple[str, ...]) -> None:
    def run(cfg: dict, ctx: RunContext) -> RunResult:
        return run_arm(cfg, ctx)

    run.__doc__ = f"MF-LET arm {name}: ID tables of facets {list(facets) or 'none'} (facets.freeze fixes the pretrained ones)."
    register("mflet", name, search_space=arm_search_space(facets), schema=MFLETConfig)(run)


for _arm, _facets in ARMS.items():
    _register(_arm, _facets)


def trained_proxy(dataset: str, seed: int = 0, profile: str = "full", run_dir: str = "runs/serving-proxy",
                  arm: str = "both"):
    """Train experiment ``arm`` (default (5) 'both', finetuned: the model with large ID tables) on ``dataset``
    for the serving benchmarks; ``arm='no-id'`` is the same ranker without ID tables, the latency baseline of
    benchmarks/serving_beyond_memory.py. -> (model, make_batches(size, n), test window, info)."""
    from pathlib import Path

    cfg = C.resolve(C.load(find_config("mflet", dataset, arm)), profile)
    ctx = replace(RunContext(), seed=seed, run_dir=Path(run_dir) / arm, progress=False)
    torch.manual_seed(seed)
    model, data, result = train_arm(cfg, ctx)
    model.eval()
    test = {k: v for k, v in data.windows["test"].items()}
    n = len(test["y"])

    def make_batches(size: int, count: int):
        out = []
        for k in range(count):
            idx = (torch.arange(size) + k * size) % n  # request batches cycle through the test window
            out.append({key: v[idx] for key, v in test.items()})
        return out

    info = {"dataset": dataset, "arm": arm, "seed": seed, "profile": profile, "metrics": result.metrics,
            "tables": {name: list(t.weight.shape) for name, t in model.tables.items()}}
    return model, make_batches, test, info
