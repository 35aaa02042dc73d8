"""Foundation baselines: the two runs that prove the whole path (data -> split -> Lightning ->
record -> leaderboard). Biased MF on MovieLens 100K is also the baseline the tuning harness and
R3 compare against; logistic regression on the 900-row Criteo slice is a pipeline check only.

CTR backbone baselines: DCNv2 and a plain DNN on the shared CTR backbone (reprorec/ctr) give the
backbone its own numbers (ML-100K CTR proxy, Criteo 10k); the paper experiments that build on it
(pretrained ID embeddings) live in reprorec/papers/transra and reprorec/papers/mflet.
"""
from __future__ import annotations

from typing import Optional

from reprorec import config as C
from reprorec.config import Experiment, NonNegFloat, PosFloat, PosInt, Section, Split, SupervisedTrain
from reprorec.data import criteo, movielens
from reprorec.data.splits import fingerprint, make_split
from reprorec.lightning_glue import SupervisedModule, make_loader
from reprorec.rating import RatingData
from reprorec.data.ctr_features import CategoricalEncoder, criteo_numeric
from reprorec.ctr.run import CTRSchema, data_from_cfg, fit_ctr, model_from_cfg
from reprorec.registry import register
from reprorec.train import RunContext, RunResult, fit_evaluate

from .models import BiasedMF, LogisticRegression

class SplitData(Section):
    split: Split = C.RandomSplit()
    split_seed: Optional[int] = None   # None: the run seed (each seed draws its own split)


class CriteoData(SplitData):
    min_count: PosInt = 1              # ids seen fewer times in train share the OOV row


class MFModel(Section):
    dim: PosInt
    reg: NonNegFloat = 0.0
    init_std: PosFloat = 0.01          # N(0, init_std) factor rows; scikit-surprise's SVD draws them with 0.1


class LogRegModel(Section):
    l2: NonNegFloat = 0.0


class BiasedMFConfig(Experiment):
    data: SplitData = SplitData()
    model: MFModel
    train: SupervisedTrain


class LogRegConfig(Experiment):
    data: CriteoData = CriteoData()
    model: LogRegModel = LogRegModel()
    train: SupervisedTrain


def _loaders(tensors: dict, cfg: dict, seed: int) -> dict:
    s = C.settings(cfg).train
    return {name: make_loader(t, s.batch_size if name == "train" else s.eval_batch_size, shuffle=(name == "train"),
                              seed=seed)
            for name, t in tensors.items()}


def _split(cfg: dict, n: int, seed: int, frame=None):
    data = C.settings(cfg).data
    spec = data.split.model_dump()
    kind = spec.pop("kind")
    split_seed = seed if data.split_seed is None else data.split_seed
    users = frame["user_id"].to_numpy() if frame is not None and "user_id" in frame else None
    times = frame["timestamp"].to_numpy() if frame is not None and "timestamp" in frame else None
    return make_split(kind, n=n, users=users, times=times, seed=split_seed, **spec)


def mf_search_space(trial) -> dict:
    """Plain SGD, parametrised like scikit-surprise's SVD so that its settings lie inside the space.

    Why SGD: on seed 0's validation split, SGD at surprise's effective step (0.01 per rating, reg 0.05,
    init 0.01, dim 100) reaches val RMSE 0.903, while Adam, tuned by a 20-trial full-profile study over
    dim 8-256, reg 1e-3-3, lr 3e-4-5e-2, batch 256-2048 (study baselines-ml-100k-biased-mf-full-wide),
    stops at 0.911. Adam's dense moment updates also move rows a batch did not touch.

    ``lr_per_rating`` is the step one rating's gradient takes, surprise's ``lr_all``: our loss is the
    batch mean of (err² + reg·‖touched rows‖²), twice surprise's per-rating objective, so an SGD step of
    ``lr`` moves a row touched once by 2·lr/batch_size times surprise's gradient; hence
    lr = lr_per_rating · batch_size / 2. ``reg`` is surprise's ``reg_all`` in the same form (L2 on the
    rows each rating touches). The ranges hold surprise's defaults (lr_all 0.005, reg_all 0.02, init
    std 0.1, 100 factors) and the grid values around them."""
    batch = trial.suggest_categorical("train.batch_size", [256, 512, 1024])
    step = trial.suggest_float("lr_per_rating", 1e-3, 5e-2, log=True)
    return {"model": {"dim": trial.suggest_categorical("model.dim", [32, 64, 128, 256, 512]),
                      "reg": trial.suggest_float("model.reg", 3e-3, 1.0, log=True),
                      "init_std": trial.suggest_float("model.init_std", 1e-3, 0.3, log=True)},
            "train": {"optimizer": "sgd", "batch_size": batch, "lr": step * batch / 2}}


@register("baselines", "biased-mf", search_space=mf_search_space, schema=BiasedMFConfig)
def run_biased_mf(cfg: dict, ctx: RunContext) -> RunResult:
    """Biased matrix factorisation (Koren et al. 2009) for explicit ratings."""
    table = movielens.load_ratings(cfg["dataset"])
    split = _split(cfg, len(table.frame), ctx.seed, table.frame)
    data = RatingData.build(table.frame, split)
    s = C.settings(cfg)
    model = BiasedMF(data.n_users, data.n_items, s.model.dim, data.global_mean, reg=s.model.reg,
                     init_std=s.model.init_std)
    module = SupervisedModule(model, "regression", lr=s.train.lr, weight_decay=s.train.weight_decay,
                              optimizer=s.train.optimizer)
    metrics, epochs = fit_evaluate(module, _loaders(data.tensors, cfg, ctx.seed), cfg, ctx)
    return RunResult(metrics, table.files, fingerprint(split), epochs, test_rows=module.test_rows)


def lr_search_space(trial) -> dict:
    return {"model": {"l2": trial.suggest_float("model.l2", 1e-6, 1e-1, log=True)},
            "train": {"lr": trial.suggest_float("train.lr", 1e-3, 1e-1, log=True)}}


@register("baselines", "logreg", search_space=lr_search_space, schema=LogRegConfig)
def run_logreg(cfg: dict, ctx: RunContext) -> RunResult:
    """Logistic regression on one-hot categorical ids + log1p numeric counts."""
    s = C.settings(cfg)
    parts = criteo.load(cfg["dataset"])
    frame = parts["train"].frame
    files = {k: v for p in parts.values() for k, v in p.files.items()}
    split = _split(cfg, len(frame), ctx.seed)
    enc = CategoricalEncoder(min_count=s.data.min_count).fit(frame.iloc[split["train"]], criteo.CAT_FIELDS)
    cat, num = enc.transform(frame), criteo_numeric(frame, criteo.INT_FIELDS)
    y = frame["label"].to_numpy()
    import torch

    tensors = {name: {"cat": cat[idx], "num": num[idx], "y": torch.as_tensor(y[idx], dtype=torch.float32)}
               for name, idx in split.items()}
    model = LogisticRegression(enc.size, len(criteo.INT_FIELDS), l2=s.model.l2)
    module = SupervisedModule(model, "binary", lr=s.train.lr, weight_decay=s.train.weight_decay,
                              optimizer=s.train.optimizer)
    metrics, epochs = fit_evaluate(module, _loaders(tensors, cfg, ctx.seed), cfg, ctx)
    return RunResult(metrics, files, fingerprint(split), epochs, test_rows=module.test_rows)


def ctr_search_space(trial) -> dict:
    return {"model": {"embed_dim": trial.suggest_categorical("model.embed_dim", [8, 16, 32]),
                      "dropout": trial.suggest_float("model.dropout", 0.0, 0.5)},
            "train": {"lr": trial.suggest_float("train.lr", 3e-4, 1e-2, log=True),
                      "weight_decay": trial.suggest_float("train.weight_decay", 1e-7, 1e-3, log=True)}}


def _run(arch: str, cfg: dict, ctx: RunContext) -> RunResult:
    data = data_from_cfg(cfg)
    return fit_ctr(model_from_cfg(cfg, data.schema, arch), data, cfg, ctx)


@register("baselines", "dcnv2", search_space=ctr_search_space, schema=CTRSchema)
def run_dcnv2(cfg: dict, ctx: RunContext) -> RunResult:
    """DCNv2 (Wang et al. 2021), parallel cross network + MLP, with sparse large ID tables."""
    return _run("dcnv2", cfg, ctx)


@register("baselines", "dnn", search_space=ctr_search_space, schema=CTRSchema)
def run_dnn(cfg: dict, ctx: RunContext) -> RunResult:
    """Plain MLP over the same embeddings: the interaction-free baseline for DCNv2."""
    return _run("dnn", cfg, ctx)
