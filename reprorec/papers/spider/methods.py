"""Registered methods of the SPIDER reproduction. Streaming ADF methods implement run() directly (no
Trainer: there is no gradient loop); the point-estimate baselines are plain torch loops.

  spider            SBDT/SPIDER with the authors' update: the entries of a batch one at a time, then EP
  spider-gauss      its ablation: same update, plain Gaussian weight prior (no spike-and-slab EP)
  spider-vec        our variant: one vectorized update per batch (natural parameters of the sites add up)
  spider-gauss-vec  spider-vec's ablation with the plain Gaussian prior
  post              our proxy of the paper's POST baseline: streaming Bayesian CP on the same ADF engine
  nn-adam           our proxy of a streaming point-estimate baseline: the same NN, one pass of Adam
  cp-offline        our proxy of an offline CP baseline: Adam, many epochs over all training data
The update mode is the config's train.sequential (in the _spider*.yaml layers, so it is hashed); each
method refuses a config whose mode is not its own.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import resource
import time
from typing import Optional

import torch
from torch import nn

from reprorec import config as C
from reprorec.bootstrap import enabled as bootstrap_enabled
from reprorec.progress import bar
from reprorec.config import Fraction, NonNegFloat, PosFloat, PosInt, Section
from reprorec.registry import register
from reprorec.train import RunContext, RunResult

from .data import Stream, StreamData, build_stream, evaluate, holdout, subsample, test_rows
from . import native
from .models import Spider, StreamingCP, weight_stats

PAPER = "spider"


# -- schemas -------------------------------------------------------------------------------------------
class StreamTrain(Section):
    batch_size: PosInt = 128
    drop_last: bool = True
    max_batches: Optional[PosInt] = None
    sequential: bool = False                   # the authors' per-entry updates inside a batch


class ADFModel(Section):
    rank: PosInt = 8
    v0: PosFloat = 1.2                         # initial variance


class SpiderModel(ADFModel):
    hidden: tuple[PosInt, ...] = (50, 50)
    rho0: Fraction = 0.5   # spike-and-slab prior inclusion probability
    tau0: PosFloat = 1.0


class PostModel(ADFModel):
    factor_scale: PosFloat = 1.0


class PointModel(Section):
    rank: PosInt = 8
    hidden: tuple[PosInt, ...] = (50, 50)
    factor_scale: Optional[PosFloat] = None     # None: 1 / rank


class CPModel(PointModel):
    l2: NonNegFloat = 0.0


class AdamStreamTrain(StreamTrain):
    lr: PosFloat = 1e-3
    steps_per_batch: PosInt = 1


class OfflineTrain(Section):
    lr: PosFloat = 0.01
    batch_size: PosInt = 1024
    max_epochs: PosInt = 20


_schema = functools.partial(C.experiment_schema, data=StreamData, train=StreamTrain)  # + model (and train)


def _checkpoints(n_batches: int, every: float = 0.05) -> set[int]:
    """Batch counts after which the test metric is recorded: every 5% of the stream, and the end."""
    return {max(1, round(n_batches * every * j)) for j in range(1, int(round(1 / every)) + 1)} | {n_batches}


def _n_batches(stream: Stream, cfg: dict) -> int:
    t = C.section(cfg, "train", StreamTrain)
    bs = t.batch_size
    n = len(stream.y) // bs if t.drop_last else -(-len(stream.y) // bs)
    return min(n, t.max_batches) if t.max_batches else n


def _result(stream, metrics, curve, cfg, extra, t_update, n_entries, ctx, rows=None) -> RunResult:
    primary = C.metric(cfg).name
    extra = {"curve": curve, "curve_metric": primary, "entries_streamed": n_entries,
             "update_entries_per_s": n_entries / t_update if t_update else None,
             "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
             "curve_test_entries": C.section(cfg, "data", StreamData).curve_max_test or "all", **extra}
    return RunResult(metrics, stream.files, stream.fingerprint, None, extra, test_rows=rows)


def _streams(cfg: dict, ctx: RunContext) -> tuple[Stream, Stream | None]:
    """The training stream and, with data.val_fraction, the validation stream held out from its tail.
    A run that may not look at the test sets (a tuning trial) holds out 5% when the config says nothing."""
    stream = build_stream(cfg, ctx.seed)
    frac = C.section(cfg, "data", StreamData).val_fraction
    frac = (0 if ctx.evaluate_test else 0.05) if frac is None else frac
    return holdout(stream, frac) if frac else (stream, None)


def _final_metrics(predict, stream: Stream, val: Stream | None, ctx: RunContext):
    """-> (metrics, per-row test outputs for the record's bootstrap replicates, or None)."""
    if val is not None:
        metrics = {"val": evaluate(predict, val)}
    else:
        metrics = {} if ctx.evaluate_test else {"val": {}}
    kept: list = []
    if ctx.evaluate_test:
        metrics["test"] = evaluate(predict, stream, kept if bootstrap_enabled() else None)
    return metrics, test_rows(kept, stream)


def _curve_stream(stream: Stream, cfg: dict) -> Stream:
    """The stream whose test sets score the running curve: with data.curve_max_test, a fixed random
    subset of them (scoring POST-MovieLens' 4.46M test entries 20 times is too slow here); the final
    metric always uses the full test sets."""
    n = C.section(cfg, "data", StreamData).curve_max_test
    return dataclasses.replace(stream, test_sets=subsample(stream.test_sets, n)) if n else stream


def _stream_loop(cfg, ctx, stream, process, predict, val=None):
    """Feed batches to `process(idx, y)`; record the test metric every 5% (curve) and at the end
    (and the validation metric at the end when a validation stream is given)."""
    bs = C.section(cfg, "train", StreamTrain).batch_size
    n_b = _n_batches(stream, cfg)
    marks = _checkpoints(n_b)
    primary = C.metric(cfg).name
    curve, t_update, on = [], 0.0, _curve_stream(stream, cfg)
    for b in bar(range(n_b), desc=f"{cfg.get('method', 'spider')} stream", unit="batch", enable=None if ctx.progress else False):
        sl = slice(b * bs, (b + 1) * bs)
        t0 = time.perf_counter()
        process(stream.idx[sl], stream.y[sl])
        t_update += time.perf_counter() - t0
        if ctx.evaluate_test and (b + 1) in marks:
            curve.append([round((b + 1) / n_b, 4), evaluate(predict, on)[primary]])
    metrics, rows = _final_metrics(predict, stream, val, ctx)
    return metrics, curve, t_update, min(n_b * bs, len(stream.y)), rows


def _adf(cfg: dict, ctx: RunContext, kind: str, sequential: bool | None = None) -> RunResult:
    s = C.settings(cfg)
    if sequential is not None and s.train.sequential is not sequential:
        raise C.ConfigError(f"{cfg.get('method')}: train.sequential must be {str(sequential).lower()} "
                            "(the update mode is part of the method)")
    stream, val = _streams(cfg, ctx)
    m = s.model
    common = dict(seed=ctx.seed, v0=m.v0)
    if kind == "post":
        model = StreamingCP(stream.shape, m.rank, stream.binary, factor_scale=m.factor_scale, **common)
    else:
        model = Spider(stream.shape, m.rank, stream.binary, hidden=m.hidden, spike_slab=(kind == "spider"),
                       rho0=m.rho0, tau0=m.tau0, **common)
    sequential = s.train.sequential
    n_b = _n_batches(stream, cfg)
    marks, weights, done = _checkpoints(n_b), [], [0]

    def process(idx, y):
        model.process_batch(idx, y, sequential)
        done[0] += 1
        if kind != "post" and done[0] in marks:  # the network weights' posterior along the stream
            weights.append([round(done[0] / n_b, 4), weight_stats(model)])

    metrics, curve, t_update, n, rows = _stream_loop(cfg, ctx, stream, process, model.predict, val)
    extra = {"mode": "sequential" if sequential else "vectorized", "skipped_updates": model.skipped,
             "state_mb": model.memory_bytes() / 2 ** 20}
    if kind != "post":
        extra["weights_curve"] = weights
        extra["update_impl"] = "compiled" if sequential and native.module() is not None else "python"
    if not stream.binary:
        extra["noise_precision"] = float(model.a / model.b)
    if kind == "spider":
        extra["ep_updates"] = model.ep_updated
    return _result(stream, metrics, curve, cfg, extra, t_update, n, ctx, rows)


# -- Optuna search spaces (`reprorec tune spider <method> --dataset D --set data.val_fraction=0.05`) ----------
# Trials (evaluate_test=False) are scored on a held-out tail of the stream (data.val_fraction, 5% when
# unset), never on the test sets. Pass it with --set so that the tuned config keeps the holdout and its
# final seeds report val as well as test. The spaces only set keys the configs already have.
def _rank(trial) -> int:
    return trial.suggest_categorical("model.rank", [3, 5, 8, 10])


def spider_gauss_space(trial) -> dict:
    return {"model": {"rank": _rank(trial), "v0": trial.suggest_float("model.v0", 0.3, 3.0, log=True)}}


def spider_space(trial) -> dict:
    space = spider_gauss_space(trial)
    space["model"].update(rho0=trial.suggest_float("model.rho0", 0.05, 0.95),
                          tau0=trial.suggest_float("model.tau0", 0.1, 10.0, log=True))
    return space


def post_space(trial) -> dict:
    return {"model": {"rank": _rank(trial), "v0": trial.suggest_float("model.v0", 0.3, 3.0, log=True),
                      "factor_scale": trial.suggest_float("model.factor_scale", 0.1, 1.0)}}


def nn_adam_space(trial) -> dict:
    return {"model": {"rank": _rank(trial)},
            "train": {"lr": trial.suggest_float("train.lr", 1e-4, 3e-2, log=True),
                      "steps_per_batch": trial.suggest_categorical("train.steps_per_batch", [1, 2, 4])}}


def cp_offline_space(trial) -> dict:
    return {"model": {"rank": _rank(trial), "l2": trial.suggest_float("model.l2", 1e-6, 1e-2, log=True)},
            "train": {"lr": trial.suggest_float("train.lr", 1e-3, 1e-1, log=True)}}


# The four SPIDER update variants: (name, prior of the update, entry-by-entry, docstring). `spider` is the
# authors' update; the others are our ablations of it, each registered under its own name.
SPIDER_VARIANTS = (
    ("spider", "spider", True, "SPIDER/SBDT with the authors' update: each entry of a stream batch moment-matched in "
                               "turn (ADF), then the spike-and-slab EP step on the weights."),
    ("spider-gauss", "spider-gauss", True, "Ablation of spider: the same sequential update, plain Gaussian weight "
                                           "prior (no spike-and-slab EP)."),
    ("spider-vec", "spider", False, "Our variant of SPIDER: one vectorized ADF update per stream batch (sites "
                                    "multiplied in), then EP."),
    ("spider-gauss-vec", "spider-gauss", False, "Ablation of spider-vec: the vectorized update with the plain "
                                                "Gaussian weight prior."),
)


def _register_spider_variants() -> None:
    for name, prior, sequential, doc in SPIDER_VARIANTS:
        def run(cfg: dict, ctx: RunContext, prior=prior, sequential=sequential) -> RunResult:
            return _adf(cfg, ctx, prior, sequential=sequential)
        run.__doc__ = doc
        space = spider_gauss_space if prior == "spider-gauss" else spider_space
        register(PAPER, name, search_space=space, schema=_schema(model=SpiderModel))(run)


_register_spider_variants()


@register(PAPER, "post", search_space=post_space, schema=_schema(model=PostModel))
def run_post(cfg: dict, ctx: RunContext) -> RunResult:
    """Our proxy of the paper's POST baseline: streaming Bayesian CP (diagonal Gaussian factors, same ADF and
    likelihoods as spider)."""
    return _adf(cfg, ctx, "post")


# -- point-estimate baselines ---------------------------------------------------------------------

class PointTensorModel(nn.Module):
    """Factor tables + either SPIDER's MLP (inputs scaled by 1/sqrt(fan-in + 1), bias unit) or CP."""

    def __init__(self, shape, rank: int, hidden=(50, 50), cp: bool = False, factor_scale: float | None = None):
        super().__init__()
        self.cp, self.K, self.R = cp, len(shape), rank
        scale = 1.0 / rank if factor_scale is None else factor_scale
        self.factors = nn.ParameterList([nn.Parameter(torch.randn(n, rank, dtype=torch.float64) * scale) for n in shape])
        sizes = [len(shape) * rank, *hidden, 1]
        self.weights = nn.ParameterList([nn.Parameter(torch.randn(o, i + 1, dtype=torch.float64) / math.sqrt(i + 1))
                                         for i, o in zip(sizes[:-1], sizes[1:])]) if not cp else nn.ParameterList()

    def forward(self, idx):
        us = [self.factors[k][idx[:, k]] for k in range(self.K)]
        if self.cp:
            return torch.stack(us).prod(0).sum(1)
        h = torch.cat(us, 1)
        for li, W in enumerate(self.weights):
            h = torch.cat([h, h.new_ones(len(h), 1)], 1) / math.sqrt(W.shape[1]) @ W.T
            if li < len(self.weights) - 1:
                h = torch.relu(h)
        return h[:, 0]


def _loss(f, y, binary: bool):
    """Gaussian (MSE) or probit negative log-likelihood: the same likelihoods as the Bayesian models."""
    if binary:
        return -torch.special.log_ndtr((2 * y - 1) * f).mean()
    return ((f - y) ** 2).mean()


def _point_model(cfg, stream, ctx, cp: bool) -> PointTensorModel:
    torch.manual_seed(ctx.seed)
    m = C.settings(cfg).model
    return PointTensorModel(stream.shape, m.rank, m.hidden, cp=cp, factor_scale=m.factor_scale)


@register(PAPER, "nn-adam", search_space=nn_adam_space, schema=_schema(model=PointModel, train=AdamStreamTrain))
def run_nn_adam(cfg: dict, ctx: RunContext) -> RunResult:
    """Our proxy of a streaming point-estimate baseline: the SPIDER network with point estimates, trained by
    Adam in one pass over the stream."""
    stream, val = _streams(cfg, ctx)
    model = _point_model(cfg, stream, ctx, cp=False)
    opt = torch.optim.Adam(model.parameters(), lr=C.settings(cfg).train.lr)
    steps = C.settings(cfg).train.steps_per_batch

    def process(idx, y):
        for _ in range(steps):
            opt.zero_grad()
            _loss(model(idx), y, stream.binary).backward()
            opt.step()

    predict = torch.no_grad()(model)
    metrics, curve, t_update, n, rows = _stream_loop(cfg, ctx, stream, process, predict, val)
    return _result(stream, metrics, curve, cfg, {"mode": "adam-one-pass"}, t_update, n, ctx, rows)


@register(PAPER, "cp-offline", search_space=cp_offline_space, schema=_schema(model=CPModel, train=OfflineTrain))
def run_cp_offline(cfg: dict, ctx: RunContext) -> RunResult:
    """Our proxy of an offline CP baseline: Adam, many shuffled epochs over all training entries, L2 on
    looked-up rows."""
    stream, val = _streams(cfg, ctx)
    model = _point_model(cfg, stream, ctx, cp=True)
    st = C.settings(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=st.train.lr)
    bs, epochs, l2 = st.train.batch_size, st.train.max_epochs, st.model.l2
    g = torch.Generator().manual_seed(ctx.seed)
    curve, t0, on = [], time.perf_counter(), _curve_stream(stream, cfg)
    for ep in range(epochs):
        order = torch.randperm(len(stream.y), generator=g)
        for s in range(0, len(order), bs):
            b = order[s:s + bs]
            idx = stream.idx[b]
            opt.zero_grad()
            reg = sum((model.factors[k][idx[:, k]] ** 2).sum(1).mean() for k in range(model.K))
            (_loss(model(idx), stream.y[b], stream.binary) + l2 * reg).backward()
            opt.step()
        if ctx.evaluate_test:
            curve.append([ep + 1, evaluate(torch.no_grad()(model), on)[st.metric.name]])
    t_update = time.perf_counter() - t0
    metrics, rows = _final_metrics(torch.no_grad()(model), stream, val, ctx)
    res = _result(stream, metrics, curve, cfg, {"mode": "offline", "curve_x": "epoch"}, t_update,
                  epochs * len(stream.y), ctx, rows)
    res.epochs = epochs
    return res
