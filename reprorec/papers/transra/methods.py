"""Registered TransRA experiments: ranking variants (a)-(d) and KGE link prediction.

  backbone               (a) DCNv2 + Large ID Embedding Tables, from scratch. Experiments of it:
                         <dataset>-backbone-pretrain.yaml (a') = (a) trained on the pretraining + train
                         windows' CTR examples (``train.windows: [pretrain, train]``): the data control for
                         (b)-(d), whose KGE sees the pretraining window through the graph;
                         <dataset>-backbone-pretrain-reviewed.yaml (a'') = (a') with
                         ``train.pretrain_rows: reviewed`` (see ``TransRATrain``)
  kge-features           (b) (a) + frozen KGE user/item vectors as extra fields ("direct incorporation")
  kge-init               (c) (a) with the ID tables initialised from KGE vectors, finetuned
  kge-attention          (d) (c) + attention over relation-specific KGE views, KGE finetuned. The KGE source
                         is the config's ``kge.model`` (transe | transr | transra): experiments
                         <dataset>-kge-attention-<kge>.yaml; <dataset>-kge-attention-transra-pretrain.yaml is
                         (d') = (d)-TransRA with ``train.windows: [pretrain, train]`` like (a')
  lp                     link prediction of the config's ``kge.model`` on held-out graph edges
                         (experiments <dataset>-lp-<kge>.yaml; metric MRR)

(a)-(d) stay four methods because each builds a different model (none, an extra field block, KGE rows
copied into the ID tables, an attention block over the KGE); what the experiments of one method vary
(training windows, which pretraining rows, the KGE source) is config.

Search spaces (``reprorec.cli tune``): ``ranking_space`` for (a), ``kge_space`` for lp, both for
(b)-(d); the KGE dimension is tied to the ID-table dimension.

Every variant trains its KGE through ``pretrain.pretrained_kge`` (cached per seed), so (b)/(c)/(d)
and lp of one seed share one KGE model.
"""
from __future__ import annotations

from typing import Literal

import torch
from pydantic import model_validator

from reprorec import config as C
from reprorec.ctr.run import CTRSchema, CTRTrainSchema, data_from_cfg, fit_ctr, model_from_cfg
from reprorec.registry import register
from reprorec.train import RunContext, RunResult

from .data import build_graph
from .pretrain import GraphBlock, KGEBlock, kge_settings, pretrained_kge, random_kge
from .models import KGEAttention, KGEFeatures, init_id_tables, kge_vectors

PAPER = "transra"


class TransRATrain(CTRTrainSchema):
    # which rows of the pretraining window the ranker trains on (with 'pretrain' in windows): all, or
    # 'reviewed' = without the sampled non-clicks of items nobody had reviewed yet at the impression's time
    # (reviewed_item_rows; the Amazon proxy draws non-clicks from every item of the file)
    pretrain_rows: Literal["all", "reviewed"] = "all"

    @model_validator(mode="after")
    def _rows_need_the_window(self):
        if self.pretrain_rows != "all" and "pretrain" not in self.windows:
            raise ValueError(f"train.pretrain_rows: {self.pretrain_rows} needs 'pretrain' in train.windows")
        return self


class TransRAConfig(CTRSchema):
    """The shared CTR blocks plus the onsite-offsite graph and its KGE (unused by the backbone variants)."""
    train: TransRATrain = TransRATrain()
    graph: GraphBlock = GraphBlock()
    kge: KGEBlock = KGEBlock()


def _setup(cfg: dict, ctx: RunContext, need_kge: bool):
    base = cfg
    data = data_from_cfg(base)
    if not need_kge:
        return base, data, None, None
    graph = build_graph(data, base["dataset"], **C.settings(cfg).graph.model_dump())
    if not C.settings(cfg).kge.pretrained:  # the capacity control (d-rand)
        return base, data, graph, random_kge(base, graph, ctx.seed)
    return base, data, graph, pretrained_kge(base, graph, ctx.seed)


def _kge_extra(pre, graph) -> dict:
    return {"kge": {"link_prediction": pre.metrics, **{k: v for k, v in pre.info.items() if k != "graph"}},
            "graph": graph.stats}


def reviewed_item_rows(window: dict, pretrain) -> torch.Tensor:
    """(N,) bool: the window's impression shows an item that has a real interaction at or before its time.

    Every real rating/review passes (its own interaction counts); what fails are the Amazon proxy's
    sampled non-clicks of items nobody had reviewed yet (they are drawn from all items of the file).
    ``pretrain`` is ``CTRData.pretrain`` (real interactions of the pretraining window, with item_row).
    """
    first = torch.full((int(window["item"].max()) + 1,), torch.iinfo(torch.int64).max)
    rows = torch.as_tensor(pretrain["item_row"].to_numpy(copy=True))
    first.scatter_reduce_(0, rows, torch.as_tensor(pretrain["timestamp"].to_numpy(copy=True), dtype=torch.int64), "amin")
    return first[window["item"]] <= window["time"]


def select_pretrain_rows(cfg: dict, data) -> dict:
    """Keep the pretraining window's rows ``train.pretrain_rows`` names (in place, on this run's data);
    -> what the record says about it ({} for 'all')."""
    if C.settings(cfg).train.pretrain_rows == "all":
        return {}
    keep = reviewed_item_rows(data.windows["pretrain"], data.pretrain)
    data.windows["pretrain"] = {k: v[keep] for k, v in data.windows["pretrain"].items()}
    return {"pretrain_rows_dropped": int((~keep).sum()), "pretrain_rows_kept": int(keep.sum())}


def run_variant(cfg: dict, ctx: RunContext, variant: str) -> RunResult:
    base, data, graph, pre = _setup(cfg, ctx, need_kge=variant != "backbone")
    extra = select_pretrain_rows(cfg, data)
    if variant == "backbone":
        return fit_ctr(model_from_cfg(base, data.schema), data, base, ctx, extra=extra or None)
    extra.update(_kge_extra(pre, graph))
    if variant == "kge-features":
        block = KGEFeatures(*(kge_vectors(pre.model, graph, pre.trained, s) for s in ("user", "item")))
        model = model_from_cfg(base, data.schema, extra=block)
    elif variant == "kge-init":
        model = model_from_cfg(base, data.schema)
        extra["initialised_rows"] = init_id_tables(model, pre.model, graph, pre.trained)
    elif variant == "kge-attention":
        block = KGEAttention(pre.model, graph, id_dim=data.schema.id_field("user").dim or C.settings(cfg).model.embed_dim)
        model = model_from_cfg(base, data.schema, extra=block)
        extra["initialised_rows"] = init_id_tables(model, pre.model, graph, pre.trained)
    else:
        raise ValueError(f"unknown variant {variant!r}")
    return fit_ctr(model, data, base, ctx, extra=extra)


def run_link_prediction(cfg: dict, ctx: RunContext) -> RunResult:
    base, data, graph, pre = _setup(cfg, ctx, need_kge=True)
    metrics = {"val": pre.metrics["val"]} | ({"test": pre.metrics["test"]} if ctx.evaluate_test else {})
    files = {**data.files, **graph.files}
    return RunResult(metrics, files, data.split_fingerprint, pre.info["epochs"], extra=_kge_extra(pre, graph))


def ranking_space(trial) -> dict:
    """Ranker hyper-parameters shared by (a)-(d): the DCNv2 depth, dropout and the optimiser."""
    return {"model": {"cross_layers": trial.suggest_int("model.cross_layers", 1, 4),
                      "dropout": trial.suggest_float("model.dropout", 0.0, 0.5)},
            "train": {"lr": trial.suggest_float("train.lr", 3e-4, 1e-2, log=True),
                      "weight_decay": trial.suggest_float("train.weight_decay", 1e-7, 1e-3, log=True)}}


def kge_space(trial) -> dict:
    """KGE pretraining hyper-parameters. The KGE dimension and the ID-table dimension are ONE parameter:
    the KGE vectors become rows of the ID tables ((c), (d)), so they must stay equal."""
    dim = trial.suggest_categorical("kge.dim", [16, 32, 64])
    return {"data": {"id_dim": dim},
            "kge": {"dim": dim, "train": {"lr": trial.suggest_float("kge.train.lr", 1e-3, 2e-2, log=True),
                                          "margin": trial.suggest_float("kge.train.margin", 0.5, 4.0),
                                          "num_negs": trial.suggest_int("kge.train.num_negs", 1, 8)}}}


def kge_ranking_space(trial) -> dict:
    """(b)-(d): the ranker's and the KGE's hyper-parameters together (the tuned metric is ranking AUC)."""
    return C.deep_merge(ranking_space(trial), kge_space(trial))


def _register():
    for variant in ("backbone", "kge-features", "kge-init", "kge-attention"):
        space = ranking_space if variant == "backbone" else kge_ranking_space
        register(PAPER, variant, search_space=space, schema=TransRAConfig)(lambda cfg, ctx, v=variant: run_variant(cfg, ctx, v))
    register(PAPER, "lp", search_space=kge_space, schema=TransRAConfig)(run_link_prediction)


_register()
