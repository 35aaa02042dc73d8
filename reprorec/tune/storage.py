"""Optuna plumbing for the tuning harness: storage, per-trial-seeded samplers, pruners, the Lightning
pruning callback, and the dry run that validates a search space before any trial.

Kept apart from `reprorec/tune/harness.py` (the study loop and the command line) because none of it knows about
experiments or records; each piece is small enough to test on its own.
"""
from __future__ import annotations

import random
import re
import time
import warnings

import optuna

from .. import registry



class SearchSpaceError(ValueError):
    """A method's search space is missing or invalid (raised before any trial runs)."""


def storage_kind(url: str) -> str:
    """'sqlite', 'postgresql', ... — what records say; the URL itself may hold a password."""
    return url.split(":", 1)[0].split("+", 1)[0]


def masked(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@/]*@", r"//\1:***@", url)


def with_driver(url: str) -> str:
    """``postgresql://`` means psycopg 3 to SQLAlchemy >= 2.1; use psycopg2 when only psycopg2 is installed."""
    import importlib.util

    scheme, sep, rest = url.partition("://")
    if scheme in ("postgresql", "postgres") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return f"postgresql+psycopg2://{rest}"
    return url


def make_storage(url: str, heartbeat: int) -> optuna.storages.RDBStorage:
    """RDB storage with heartbeats: a trial whose worker stops beating for 3 intervals is failed and retried."""
    from sqlalchemy.exc import DBAPIError

    kw: dict = {"heartbeat_interval": heartbeat, "grace_period": 3 * heartbeat}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):  # optuna >= 4.9
            kw["heartbeat_stale_trial_callback"] = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2)
        else:
            kw["failed_trial_callback"] = optuna.storages.RetryFailedTrialCallback(max_retry=2)

    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(with_driver(url), **kw)
        except DBAPIError:  # workers started together race to create the schema: the loser retries
            if attempt == 4:
                raise
            time.sleep(0.5 + random.random())


class PerTrialSeed(optuna.samplers.BaseSampler):
    """Rebuilds the sampler before each trial with a seed derived from (seed, trial number).

    One sampler seeded once would replay the same "random" draws in a resumed worker or in a
    second worker started with the same command (duplicate trials); seeding by trial number keeps
    a single worker's study reproducible while every trial of a shared study draws differently.
    """

    def __init__(self, factory, seed: int):
        self._factory, self._seed = factory, seed
        self.inner = factory(seed)

    def before_trial(self, study, trial):
        self.inner = self._factory((self._seed * 1_000_003 + trial.number) % 2**32)
        self.inner.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self.inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self.inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self.inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values):
        self.inner.after_trial(study, trial, state, values)

    def reseed_rng(self):
        self.inner.reseed_rng()


def grid_of(distributions: dict, points: int) -> dict[str, list]:
    """A grid for GridSampler from the dry-run distributions: choices, integer steps, or `points`
    values spread evenly (geometrically for log ranges) over a float range."""
    import numpy as np

    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    grid = {}
    for name, d in distributions.items():
        if isinstance(d, CategoricalDistribution):
            grid[name] = list(d.choices)
        elif isinstance(d, IntDistribution):
            values = list(range(d.low, d.high + 1, d.step))
            if len(values) > points:
                spread = np.geomspace(d.low, d.high, points) if d.log else np.linspace(d.low, d.high, points)
                values = sorted({d.low + d.step * round((v - d.low) / d.step) for v in spread})
            grid[name] = [int(v) for v in values]
        elif isinstance(d, FloatDistribution):
            if d.step:
                values = np.arange(d.low, d.high + d.step / 2, d.step)
                values = values[np.linspace(0, len(values) - 1, min(points, len(values))).round().astype(int)]
            else:
                values = np.geomspace(d.low, d.high, points) if d.log else np.linspace(d.low, d.high, points)
            grid[name] = [float(v) for v in values]
        else:
            raise SearchSpaceError(f"cannot build a grid for parameter {name!r} ({type(d).__name__})")
    return grid


def _grid_sampler(grid: dict, seed: int, pick_seed: int) -> optuna.samplers.GridSampler:
    """GridSampler whose grid order is fixed by `seed` — a grid id stored with a trial must name the same
    point in every worker and every resume (GridSampler shuffles its grid with its seed) — while the
    pick among the unvisited points follows `pick_seed`, so concurrent workers rarely pick alike."""
    sampler = optuna.samplers.GridSampler(grid, seed=seed)
    rng = getattr(getattr(sampler, "_rng", None), "rng", None)
    if rng is not None:
        rng.seed(pick_seed)
    else:
        sampler.reseed_rng()
    return sampler


# (base seed, distributions, grid points) -> a sampler whose inner sampler is reseeded per trial
SAMPLERS = registry.Resolver("sampler", {
    "tpe": lambda seed, dists, points: PerTrialSeed(lambda s: optuna.samplers.TPESampler(seed=s), seed),
    "random": lambda seed, dists, points: PerTrialSeed(lambda s: optuna.samplers.RandomSampler(seed=s), seed),
    "grid": lambda seed, dists, points: _per_trial_grid(grid_of(dists, points), seed),
})
# Median: stop a trial whose epoch-k validation value is worse than the median of earlier trials at
# epoch k (after 5 trials, from epoch 2). Hyperband: successive halving over epochs.
PRUNERS = registry.Resolver("pruner", {
    "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2),
    "hyperband": lambda: optuna.pruners.HyperbandPruner(min_resource=1, max_resource="auto", reduction_factor=3),
    "none": optuna.pruners.NopPruner,
})


def _per_trial_grid(grid: dict, seed: int) -> PerTrialSeed:
    return PerTrialSeed(lambda s: _grid_sampler(grid, seed, s), seed)


def make_sampler(name: str, seed: int, distributions: dict, grid_points: int) -> PerTrialSeed:
    return SAMPLERS.make(name, seed, distributions, grid_points)


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    return PRUNERS.make(name)


def pruning_callback(trial: optuna.Trial, monitor: str):
    """optuna-integration's Lightning pruning callback, reporting validation *during fit* only.

    `fit_evaluate` re-validates the best checkpoint after fitting; the stock callback would report
    that as one more epoch (and could prune a trial that has already finished training).
    """
    from lightning.pytorch.trainer.states import TrainerFn
    from optuna_integration import PyTorchLightningPruningCallback

    class FitPruning(PyTorchLightningPruningCallback):
        def on_validation_end(self, trainer, pl_module):
            if trainer.state.fn == TrainerFn.FITTING:
                super().on_validation_end(trainer, pl_module)

    return FitPruning(trial, monitor)


class _NamedErrors:
    """Wraps a trial so that a suggest_* call with an invalid range names the method and parameter."""

    def __init__(self, trial, where: str):
        self._trial, self._where = trial, where

    def __getattr__(self, name):
        attr = getattr(self._trial, name)
        if not name.startswith("suggest_"):
            return attr

        def suggest(*args, **kwargs):
            param = kwargs.get("name", args[0] if args else "?")
            try:
                return attr(*args, **kwargs)
            except ValueError as exc:
                raise SearchSpaceError(f"search space of {self._where}: parameter {param!r}: {exc}") from None
        return suggest


def search_space(paper: str, method_name: str):
    m = registry.method(paper, method_name)
    if m.search_space is None:
        raise SearchSpaceError(f"{paper}/{method_name} declares no search space: pass search_space=fn(trial) -> "
                               f"overrides to reprorec.registry.register")
    return m.search_space


def dry_run(space, where: str) -> tuple[dict, dict]:
    """Run the search space once on a throw-away in-memory study: returns (overrides, distributions)."""
    probe = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    try:
        overrides = space(_NamedErrors(probe, where))
    except SearchSpaceError:
        raise
    except Exception as exc:
        raise SearchSpaceError(f"search space of {where} failed on a dry run: {type(exc).__name__}: {exc}") from exc
    if not isinstance(overrides, dict):
        raise SearchSpaceError(f"search space of {where} must return a dict of config overrides, "
                               f"got {type(overrides).__name__}")
    if not probe.distributions:
        raise SearchSpaceError(f"search space of {where} suggests no parameter")
    return overrides, dict(probe.distributions)
