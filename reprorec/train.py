"""One Trainer factory and one fit/evaluate routine for every Lightning reproduction.

`RunContext` carries what the command line decides (seed, where to write, resume, devices,
wandb, whether the test split may be touched); `fit_evaluate` trains with checkpoints every
epoch, early stopping on the config's metric, then measures val and test on the best checkpoint.
"""
from __future__ import annotations

import contextlib
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from .config import FitTrain, section
from .config import metric as metric_of


@dataclass
class RunContext:
    seed: int = 0
    run_dir: Path = Path("runs/scratch")
    resume: bool = False
    accelerator: str = "cpu"
    devices: Any = 1
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str | None = None
    wandb: bool = False
    progress: bool = True
    evaluate_test: bool = True  # False in tuning trials: the objective never sees the test split
    callbacks: list = field(default_factory=list)  # e.g. an Optuna pruning callback


@dataclass
class RunResult:
    """What a method returns; the runner adds provenance and writes the record."""

    metrics: dict[str, dict[str, float]]  # {'val': {...}, 'test': {...}}
    data_files: dict[str, str]
    split_fingerprint: str | None
    epochs: int | None = None
    extra: dict = field(default_factory=dict)  # e.g. {'curve': [...]} — stored in the record
    test_rows: Any = None  # reprorec.bootstrap.TestRows: per-row test outputs -> record['bootstrap'] (not stored)


class FaultInjection(Callback):
    """Kill the process hard at the start of an epoch (REPRO_FAULT_AT_EPOCH): used by the resume test."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            os._exit(137)


def _loggers(cfg: dict, ctx: RunContext):
    loggers = [CSVLogger(str(ctx.run_dir), name="logs", version="")]
    if ctx.wandb:
        from lightning.pytorch.loggers import WandbLogger

        configured = os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE") == "online"
        loggers.append(WandbLogger(project=os.environ.get("WANDB_PROJECT", "reprorec"), save_dir=str(ctx.run_dir),
                                   name=f"{cfg['paper']}-{cfg['dataset']}-{cfg['method']}-s{ctx.seed}",
                                   offline=not configured, config={k: v for k, v in cfg.items() if not k.startswith("_")}))
    return loggers


def build_trainer(cfg: dict, ctx: RunContext, max_epochs: int | None = None) -> L.Trainer:
    """Trainer from a config: deterministic, CSV (+wandb) logs, checkpoint each epoch, early stopping."""
    metric, fit = metric_of(cfg), section(cfg, "train", FitTrain)
    monitor, mode = f"val/{metric.name}", metric.mode
    ckpt = ModelCheckpoint(dirpath=ctx.run_dir / "checkpoints", filename="best", monitor=monitor, mode=mode,
                           save_top_k=1, save_last=True, every_n_epochs=1)
    callbacks: list = [ckpt, *ctx.callbacks]
    if fit.patience:
        callbacks.append(EarlyStopping(monitor=monitor, mode=mode, patience=fit.patience))
    if os.environ.get("REPRO_FAULT_AT_EPOCH"):
        callbacks.append(FaultInjection(int(os.environ["REPRO_FAULT_AT_EPOCH"])))
    return L.Trainer(
        max_epochs=max_epochs or fit.max_epochs,
        accelerator=ctx.accelerator,
        devices=ctx.devices,
        strategy=ctx.strategy,
        num_nodes=ctx.num_nodes,
        precision=ctx.precision or fit.precision,
        deterministic=True,
        logger=_loggers(cfg, ctx),
        callbacks=callbacks,
        enable_progress_bar=ctx.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        gradient_clip_val=fit.gradient_clip,
        default_root_dir=str(ctx.run_dir),
        use_distributed_sampler=False,  # EpochBatchSampler shards itself, without padding (see there)
    )


def fit_evaluate(module: L.LightningModule, loaders: dict, cfg: dict, ctx: RunContext) -> tuple[dict, int]:
    """Fit (resuming from last.ckpt when asked), then val (+ test) on the best checkpoint.

    Returns ({'val': {...}, 'test': {...}}, epochs trained).
    """
    last = ctx.run_dir / "checkpoints" / "last.ckpt"
    if not ctx.resume and ctx.run_dir.exists() and is_global_zero():
        shutil.rmtree(ctx.run_dir)  # a fresh run never inherits a stale "best" checkpoint
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    trainer = build_trainer(cfg, ctx)
    trainer.fit(module, loaders["train"], loaders["val"], ckpt_path=str(last) if ctx.resume and last.exists() else None)
    if trainer.interrupted:
        raise KeyboardInterrupt("training interrupted")
    best = trainer.checkpoint_callback.best_model_path or None
    quiet = dict(verbose=False)
    metrics = {"val": _strip(trainer.validate(module, loaders["val"], ckpt_path=best, **quiet)[0], "val/")}
    if ctx.evaluate_test and "test" in loaders:
        metrics["test"] = _strip(trainer.test(module, loaders["test"], ckpt_path=best, **quiet)[0], "test/")
    return metrics, trainer.current_epoch


@contextlib.contextmanager
def isolated_rng(seed: int):
    """Run a block on its own seeded torch/numpy/random streams and leave the global ones untouched.

    For work whose result is cached (facet/KGE pretraining): whether the cache hits must not change
    what the rest of the run draws (init, dropout), or a record would depend on which runs came before
    it in the same process and on the state of the cache, and `reprorec verify` could not reproduce it.
    """
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed % 2 ** 32)
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


def is_global_zero() -> bool:
    """True in a single process and in DDP's global rank 0 (Lightning sets the rank from the launcher's
    environment before a spawned worker imports us, and from the strategy once training starts)."""
    from lightning.pytorch.utilities.rank_zero import rank_zero_only

    return getattr(rank_zero_only, "rank", 0) == 0


def _strip(d: dict, prefix: str) -> dict[str, float]:
    return {k[len(prefix):]: float(v) for k, v in sorted(d.items()) if k.startswith(prefix)}


DEFAULT_THREADS = 1


def set_threads() -> None:
    """Torch intra-op threads: $REPRO_THREADS, default 1 (0 or ``auto``: torch's own default).

    One thread is the default because these models are small: on a shared 2-core machine extra
    threads mostly spin and wait (a biased-MF full run: 150 s with torch's default vs 10 s with one
    thread under load), and a fixed count keeps float sums in one order, so records made on different
    machines can match exactly. The count in effect is recorded (hardware.torch_threads)."""
    n = os.environ.get("REPRO_THREADS", str(DEFAULT_THREADS)).strip().lower()
    if n not in ("0", "auto", ""):
        torch.set_num_threads(int(n))
