"""Registered methods of the R3 reproduction; one harness for all of them.

Every method reads the same Amazon category, draws the same seeded 8:1:1 split (split seed = run
seed, so the seed pairs runs for the significance tests), trains with reprorec/train.fit_evaluate
(early stopping on validation MSE) and reports val/test MSE, RMSE, MAE at the best-validation epoch.
Each method declares an Optuna search space (``search_space``) for the shared tuning harness.
"""
from __future__ import annotations

import functools
from typing import Literal

import torch

from reprorec import config as C
from reprorec.bootstrap import TestRows
from reprorec.config import Dropout, NonNegFloat, PosInt, Section, SupervisedTrain
from reprorec.lightning_glue import SupervisedModule, make_loader
from reprorec.metrics import regression_metrics
from reprorec.rating import BiasedMF
from reprorec.registry import register
from reprorec.train import RunContext, RunResult, fit_evaluate

from . import data as D
from .models import NARRE, R3, DeepCoNN, NeuMF

PAPER = "r3"


# ---------------------------------------------------------------------------------------------- schemas
class R3Train(SupervisedTrain):
    batch_size: PosInt = 256
    eval_batch_size: PosInt = 1024


class Empty(Section):
    """A block the method has no keys for (global-mean is closed form)."""


class BiasModel(Section):
    reg: NonNegFloat = 0.0


class MFModel(BiasModel):
    dim: PosInt


class NeuMFModel(Section):
    gmf_dim: PosInt = 16
    mlp_layers: tuple[PosInt, ...] = (64, 32, 16)
    dropout: Dropout = 0.0


class R3Model(NeuMFModel):
    text: Literal["svd", "bow"] = "svd"   # review representation: TF-IDF -> SVD, or bag of words
    max_features: PosInt = 5000
    text_dim: PosInt = 64                 # svd only
    max_len: PosInt = 200                 # bow only
    lam: NonNegFloat = 1.0                # weight of the review-prediction regulariser


class R3BowModel(R3Model):
    text: Literal["svd", "bow"] = "bow"


class TextModel(Section):
    emb_dim: PosInt = 64
    n_filters: PosInt = 64
    kernel: PosInt = 3
    latent: PosInt = 32
    dropout: Dropout = 0.5
    max_features: PosInt = 20000


class DeepCoNNModel(TextModel):
    fm_k: PosInt = 8
    doc_len: PosInt = 300


class NARREModel(TextModel):
    att_dim: PosInt = 32
    n_reviews: PosInt = 10
    review_len: PosInt = 60


_schema = functools.partial(C.experiment_schema, data=D.R3Data, train=R3Train)  # + the method's model block


def _fit(model, rd: D.ReviewData, cfg: dict, ctx: RunContext, extra: dict | None = None) -> RunResult:
    t = C.settings(cfg).train
    loaders = {name: make_loader(t_, t.batch_size if name == "train" else t.eval_batch_size,
                                 shuffle=(name == "train"), seed=ctx.seed)
               for name, t_ in rd.ratings.tensors.items()}
    module = SupervisedModule(model, "regression", lr=t.lr, weight_decay=t.weight_decay, optimizer=t.optimizer)
    metrics, epochs = fit_evaluate(module, loaders, cfg, ctx)
    return RunResult(metrics, rd.files, rd.fingerprint, epochs, extra=extra or {}, test_rows=module.test_rows)


def _neumf_kwargs(cfg: dict, rd: D.ReviewData) -> dict:
    m = C.settings(cfg).model
    return dict(gmf_dim=m.gmf_dim, mlp_layers=m.mlp_layers, dropout=m.dropout, global_mean=rd.ratings.global_mean)


# ---------------------------------------------------------------------------------------------- search spaces
def _train_space(trial, lr=(1e-4, 1e-2)) -> dict:
    return {"lr": trial.suggest_float("train.lr", *lr, log=True),
            "weight_decay": trial.suggest_float("train.weight_decay", 1e-7, 1e-3, log=True)}


def bias_space(trial) -> dict:
    return {"model": {"reg": trial.suggest_float("model.reg", 1e-4, 1.0, log=True)},
            "train": {"lr": trial.suggest_float("train.lr", 1e-3, 1e-1, log=True)}}


def mf_space(trial) -> dict:
    return {"model": {"dim": trial.suggest_categorical("model.dim", [8, 16, 32, 64]),
                      "reg": trial.suggest_float("model.reg", 1e-4, 1.0, log=True)},
            "train": {"lr": trial.suggest_float("train.lr", 1e-3, 1e-1, log=True)}}


def _ncf_model_space(trial) -> dict:
    top = trial.suggest_categorical("model.mlp_top", [32, 64, 128])
    return {"gmf_dim": trial.suggest_categorical("model.gmf_dim", [8, 16, 32]),
            "mlp_layers": [top, top // 2, top // 4],
            "dropout": trial.suggest_float("model.dropout", 0.0, 0.5)}


def neumf_space(trial) -> dict:
    return {"model": _ncf_model_space(trial), "train": _train_space(trial)}


def r3_space(trial) -> dict:
    model = {**_ncf_model_space(trial), "lam": trial.suggest_float("model.lam", 1e-3, 10.0, log=True)}
    return {"model": model, "train": _train_space(trial)}


def r3_svd_space(trial) -> dict:
    out = r3_space(trial)
    out["model"]["text_dim"] = trial.suggest_categorical("model.text_dim", [16, 32, 64, 128])
    return out


def _text_model_space(trial) -> dict:
    return {"emb_dim": trial.suggest_categorical("model.emb_dim", [32, 64]),
            "n_filters": trial.suggest_categorical("model.n_filters", [32, 64, 100]),
            "latent": trial.suggest_categorical("model.latent", [16, 32, 64]),
            "dropout": trial.suggest_float("model.dropout", 0.0, 0.6)}


def deepconn_space(trial) -> dict:
    return {"model": _text_model_space(trial), "train": _train_space(trial, (1e-4, 3e-3))}


def narre_space(trial) -> dict:
    model = {**_text_model_space(trial), "att_dim": trial.suggest_categorical("model.att_dim", [16, 32])}
    return {"model": model, "train": _train_space(trial, (1e-4, 3e-3))}


# ---------------------------------------------------------------------------------------------- methods
@register(PAPER, "global-mean", schema=_schema(model=Empty, train=Empty))
def run_global_mean(cfg: dict, ctx: RunContext) -> RunResult:
    """Predict the training mean rating for every pair (closed form; nothing to tune)."""
    rd = D.load(cfg, ctx.seed)
    metrics, rows = {}, None
    for split in ("val", "test") if ctx.evaluate_test else ("val",):
        y = rd.ratings.tensors[split]["y"]
        pred = torch.full_like(y, rd.ratings.global_mean)
        m = regression_metrics()
        m.update(pred, y)
        metrics[split] = {k: float(v) for k, v in sorted(m.compute().items())}
        if split == "test":
            rows = TestRows("regression", {"pred": pred.double().numpy(), "y": y.double().numpy()})
    return RunResult(metrics, rd.files, rd.fingerprint, 0, test_rows=rows)


@register(PAPER, "bias", search_space=bias_space, schema=_schema(model=BiasModel))
@register(PAPER, "biased-mf", search_space=mf_space, schema=_schema(model=MFModel))
def run_biased_mf(cfg: dict, ctx: RunContext) -> RunResult:
    """μ + b_u + b_i (+ p_u·q_i): reprorec/rating.BiasedMF; method 'bias' has no factors (dim 0)."""
    rd = D.load(cfg, ctx.seed)
    m = C.settings(cfg).model
    model = BiasedMF(rd.ratings.n_users, rd.ratings.n_items, getattr(m, "dim", 0), rd.ratings.global_mean, reg=m.reg)
    return _fit(model, rd, cfg, ctx)


@register(PAPER, "neumf", search_space=neumf_space, schema=_schema(model=NeuMFModel))
def run_neumf(cfg: dict, ctx: RunContext) -> RunResult:
    """NeuMF (GMF + MLP towers) on user/item IDs only: R3 without its regulariser."""
    rd = D.load(cfg, ctx.seed)
    return _fit(NeuMF(rd.ratings.n_users, rd.ratings.n_items, **_neumf_kwargs(cfg, rd)), rd, cfg, ctx)


@register(PAPER, "r3", search_space=r3_svd_space, schema=_schema(model=R3Model))
@register(PAPER, "r3-bow", search_space=r3_space, schema=_schema(model=R3BowModel))
def run_r3(cfg: dict, ctx: RunContext) -> RunResult:
    """R3: NeuMF + λ · (predict the pair's review representation from φ(u, i)); text used in training only."""
    rd = D.load(cfg, ctx.seed)
    m = C.settings(cfg).model
    text = m.text
    if text == "svd":
        rd.add_tfidf_svd(m.text_dim, m.max_features, ctx.seed)
        text_dim = rd.ratings.tensors["train"]["text"].shape[1]
    else:
        rd.add_bow_tokens(m.max_features, m.max_len)
        text_dim = rd.extras["bow_vocab_size"]
    model = R3(rd.ratings.n_users, rd.ratings.n_items, text=text, text_dim=text_dim, lam=m.lam,
               head_seed=ctx.seed + 1, **_neumf_kwargs(cfg, rd))
    return _fit(model, rd, cfg, ctx, extra={"text": {"kind": text, "dim": text_dim}})


def _text_kwargs(cfg: dict, rd: D.ReviewData, keys: tuple[str, ...]) -> dict:
    m = C.settings(cfg).model
    return {**{k: getattr(m, k) for k in keys}, "global_mean": rd.ratings.global_mean}


@register(PAPER, "deepconn", search_space=deepconn_space, schema=_schema(model=DeepCoNNModel))
def run_deepconn(cfg: dict, ctx: RunContext) -> RunResult:
    """DeepCoNN: CNNs over user and item review documents (training reviews only) + FM."""
    rd = D.load(cfg, ctx.seed)
    m = C.settings(cfg).model
    user_docs, item_docs, V = rd.documents(m.max_features, m.doc_len)
    model = DeepCoNN(user_docs, item_docs, V,
                     **_text_kwargs(cfg, rd, ("emb_dim", "n_filters", "kernel", "latent", "fm_k", "dropout")))
    return _fit(model, rd, cfg, ctx)


@register(PAPER, "narre", search_space=narre_space, schema=_schema(model=NARREModel))
def run_narre(cfg: dict, ctx: RunContext) -> RunResult:
    """NARRE: per-review CNN + review-level attention + ID embeddings (training reviews only)."""
    rd = D.load(cfg, ctx.seed)
    m = C.settings(cfg).model
    reviews = rd.review_lists(m.max_features, m.n_reviews, m.review_len)
    model = NARRE(reviews, rd.ratings.n_users, rd.ratings.n_items,
                  **_text_kwargs(cfg, rd, ("emb_dim", "n_filters", "kernel", "att_dim", "latent", "dropout")))
    return _fit(model, rd, cfg, ctx)
