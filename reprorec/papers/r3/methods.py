"""Registered methods of the R3 reproduction; one harness for all of them.

Every method reads the same Amazon category, draws the same seeded 8:1:1 split (split seed = run
seed, so the seed pairs runs for the significance tests), trains with reprorec/train.fit_evaluate
(early stopping on validation MSE) and reports val/test MSE, RMSE, MAE at the best-validation epoch.
Each method declares an Optuna search space (``search_space``) for the shared tuning harness.
"""
from __future__ import annotations

import torch

from reprorec import config as C
from reprorec.bootstrap import TestRows
from reprorec.lightning_glue import SupervisedModule, make_loader
from reprorec.metrics import regression_metrics
from reprorec.rating import BiasedMF
from reprorec.registry import register
from reprorec.train import RunContext, RunResult, fit_evaluate

from . import data as D
from .models import NARRE, R3, DeepCoNN, NeuMF

PAPER = "r3"


def _fit(model, rd: D.ReviewData, cfg: dict, ctx: RunContext, extra: dict | None = None) -> RunResult:
    bs = int(C.get(cfg, "train.batch_size", 256))
    loaders = {name: make_loader(t, bs if name == "train" else int(C.get(cfg, "train.eval_batch_size", 1024)),
                                 shuffle=(name == "train"), seed=ctx.seed)
               for name, t in rd.ratings.tensors.items()}
    module = SupervisedModule(model, "regression", lr=float(C.get(cfg, "train.lr")),
                              weight_decay=float(C.get(cfg, "train.weight_decay", 0.0)),
                              optimizer=C.get(cfg, "train.optimizer", "adam"))
    metrics, epochs = fit_evaluate(module, loaders, cfg, ctx)
    return RunResult(metrics, rd.files, rd.fingerprint, epochs, extra=extra or {}, test_rows=module.test_rows)


def _neumf_kwargs(cfg: dict, rd: D.ReviewData) -> dict:
    m = cfg.get("model", {})
    return dict(gmf_dim=int(m.get("gmf_dim", 16)), mlp_layers=tuple(m.get("mlp_layers", (64, 32, 16))),
                dropout=float(m.get("dropout", 0.0)), global_mean=rd.ratings.global_mean)


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
@register(PAPER, "global-mean")
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


@register(PAPER, "bias", search_space=bias_space)
@register(PAPER, "biased-mf", search_space=mf_space)
def run_biased_mf(cfg: dict, ctx: RunContext) -> RunResult:
    """μ + b_u + b_i (+ p_u·q_i): reprorec/rating.BiasedMF; method 'bias' is dim = 0."""
    rd = D.load(cfg, ctx.seed)
    dim = 0 if cfg["method"] == "bias" else int(C.get(cfg, "model.dim"))
    model = BiasedMF(rd.ratings.n_users, rd.ratings.n_items, dim, rd.ratings.global_mean,
                     reg=float(C.get(cfg, "model.reg", 0.0)))
    return _fit(model, rd, cfg, ctx)


@register(PAPER, "neumf", search_space=neumf_space)
def run_neumf(cfg: dict, ctx: RunContext) -> RunResult:
    """NeuMF (GMF + MLP towers) on user/item IDs only: R3 without its regulariser."""
    rd = D.load(cfg, ctx.seed)
    return _fit(NeuMF(rd.ratings.n_users, rd.ratings.n_items, **_neumf_kwargs(cfg, rd)), rd, cfg, ctx)


@register(PAPER, "r3", search_space=r3_svd_space)
@register(PAPER, "r3-bow", search_space=r3_space)
def run_r3(cfg: dict, ctx: RunContext) -> RunResult:
    """R3: NeuMF + λ · (predict the pair's review representation from φ(u, i)); text used in training only."""
    rd = D.load(cfg, ctx.seed)
    m = cfg.get("model", {})
    text = m.get("text", "bow" if cfg["method"] == "r3-bow" else "svd")
    vocab = int(m.get("max_features", 5000))
    if text == "svd":
        rd.add_tfidf_svd(int(m.get("text_dim", 64)), vocab, ctx.seed)
        text_dim = rd.ratings.tensors["train"]["text"].shape[1]
    else:
        rd.add_bow_tokens(vocab, int(m.get("max_len", 200)))
        text_dim = rd.extras["bow_vocab_size"]
    model = R3(rd.ratings.n_users, rd.ratings.n_items, text=text, text_dim=text_dim, lam=float(m.get("lam", 1.0)),
               head_seed=ctx.seed + 1, **_neumf_kwargs(cfg, rd))
    return _fit(model, rd, cfg, ctx, extra={"text": {"kind": text, "dim": text_dim}})


def _text_kwargs(cfg: dict, rd: D.ReviewData, keys: tuple[str, ...]) -> dict:
    m = cfg.get("model", {})
    out = {k: (float if k == "dropout" else int)(m[k]) for k in keys if k in m}
    return {**out, "global_mean": rd.ratings.global_mean}


@register(PAPER, "deepconn", search_space=deepconn_space)
def run_deepconn(cfg: dict, ctx: RunContext) -> RunResult:
    """DeepCoNN: CNNs over user and item review documents (training reviews only) + FM."""
    rd = D.load(cfg, ctx.seed)
    m = cfg.get("model", {})
    user_docs, item_docs, V = rd.documents(int(m.get("max_features", 20000)), int(m.get("doc_len", 300)))
    model = DeepCoNN(user_docs, item_docs, V,
                     **_text_kwargs(cfg, rd, ("emb_dim", "n_filters", "kernel", "latent", "fm_k", "dropout")))
    return _fit(model, rd, cfg, ctx)


@register(PAPER, "narre", search_space=narre_space)
def run_narre(cfg: dict, ctx: RunContext) -> RunResult:
    """NARRE: per-review CNN + review-level attention + ID embeddings (training reviews only)."""
    rd = D.load(cfg, ctx.seed)
    m = cfg.get("model", {})
    reviews = rd.review_lists(int(m.get("max_features", 20000)), int(m.get("n_reviews", 10)),
                              int(m.get("review_len", 60)))
    model = NARRE(reviews, rd.ratings.n_users, rd.ratings.n_items,
                  **_text_kwargs(cfg, rd, ("emb_dim", "n_filters", "kernel", "att_dim", "latent", "dropout")))
    return _fit(model, rd, cfg, ctx)
