"""CTR backbone baselines: DCNv2 and a plain DNN on the shared ranking backbone (reprorec/ranking).

These give the backbone its own numbers (ML-100K CTR proxy, Criteo 10k); the paper experiments
that build on it (pretrained ID embeddings) live in reprorec/papers/transra and reprorec/papers/mflet.
"""
from __future__ import annotations

from reprorec.ctr.run import data_from_cfg, fit_ctr, model_from_cfg
from reprorec.registry import register
from reprorec.train import RunContext, RunResult


def ctr_search_space(trial) -> dict:
    return {"model": {"embed_dim": trial.suggest_categorical("model.embed_dim", [8, 16, 32]),
                      "dropout": trial.suggest_float("model.dropout", 0.0, 0.5)},
            "train": {"lr": trial.suggest_float("train.lr", 3e-4, 1e-2, log=True),
                      "weight_decay": trial.suggest_float("train.weight_decay", 1e-7, 1e-3, log=True)}}


def _run(arch: str, cfg: dict, ctx: RunContext) -> RunResult:
    data = data_from_cfg(cfg)
    return fit_ctr(model_from_cfg(cfg, data.schema, arch), data, cfg, ctx)


@register("baselines", "dcnv2", search_space=ctr_search_space)
def run_dcnv2(cfg: dict, ctx: RunContext) -> RunResult:
    """DCNv2 (Wang et al. 2021), parallel cross network + MLP, with sparse large ID tables."""
    return _run("dcnv2", cfg, ctx)


@register("baselines", "dnn", search_space=ctr_search_space)
def run_dnn(cfg: dict, ctx: RunContext) -> RunResult:
    """Plain MLP over the same embeddings: the interaction-free baseline for DCNv2."""
    return _run("dnn", cfg, ctx)
