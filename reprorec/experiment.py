"""The one path every number travels: config -> method.run -> result record.

`run_experiment` resolves a config for a profile and seed, skips the run if its record exists,
seeds everything, calls the registered method, and writes the record atomically.
`reproduce` does that for every experiment of the chosen papers, keeps going past failures and
returns the failures so the CLI can exit non-zero naming them.
"""
from __future__ import annotations

import json
import os
import time
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import lightning as L
import torch

from . import config as C
from . import registry
from .bootstrap import record_entry
from .records import REPO_ROOT, build_record, record_path, write_record
from .train import RunContext, is_global_zero, set_threads


@dataclass
class Outcome:
    name: str
    status: str  # 'done' | 'skipped' | 'failed'
    record: dict | None = None
    path: Path | None = None
    error: str | None = None


def runs_root() -> Path:
    return Path(os.environ.get("REPRO_RUNS_DIR", REPO_ROOT / "runs"))


def run_experiment(cfg_path: Path | str, *, profile: str = "quick", seed: int = 0, overrides=None,
                   ctx: RunContext | None = None, kind: str = "run", write: bool = True, rerun: bool = False,
                   tuned_from: dict | None = None, extra: dict | None = None, run_dir: Path | None = None) -> Outcome:
    """``run_dir`` (checkpoints, logs) defaults to one folder per config and seed; tuning trials pass
    their own so that two workers trying the same config at once never share a checkpoint folder.
    A configs/tuned/ file carries its study in ``tuned_from``; its records inherit it, so the leaderboard
    labels them tuned however they were started (reprorec tune, run --tuned, reproduce --profile full)."""
    raw = C.load(cfg_path)
    ctx = ctx or RunContext()
    cfg = C.resolve(raw, profile, overrides)
    if execution_settings(ctx):
        cfg["execution"] = execution_settings(ctx)
    chash = C.config_hash(cfg)
    name = f"{cfg['paper']}/{cfg['dataset']}/{cfg['method']} [{profile}, seed {seed}]"
    path = record_path(cfg["paper"], cfg["dataset"], cfg["method"], profile, seed, chash, kind)
    if write and path.exists() and not rerun:
        return Outcome(name, "skipped", json.loads(path.read_text()), path)
    method = registry.method(cfg["paper"], cfg["method"])
    run_dir = run_dir or runs_root() / cfg["paper"] / cfg["dataset"] / cfg["method"] / profile / \
        f"{kind}-{seed}-{chash}"
    ctx = replace(ctx, seed=seed, run_dir=run_dir)
    set_threads()
    L.seed_everything(seed, workers=True, verbose=False)
    torch.use_deterministic_algorithms(True, warn_only=True)
    t0 = time.perf_counter()
    result = method.run(cfg, ctx)
    wall = time.perf_counter() - t0
    record = build_record(cfg=cfg, config_hash=chash, seed=seed, metrics=result.metrics, data_files=result.data_files,
                          split_fingerprint=result.split_fingerprint, wall_time_s=wall, epochs=result.epochs,
                          tuned_from=tuned_from or raw.get("tuned_from"),
                          extra={**(extra or {}), **result.extra, "trainer": trainer_settings(ctx),
                                 **record_entry(result.test_rows, result.split_fingerprint,
                                                result.metrics.get("test"))})
    if not is_global_zero():  # DDP: the other ranks computed the same (gathered) metrics
        return Outcome(name, "done", record, None)
    if write:
        if rerun and path.exists():
            path.unlink()
        write_record(record, path)
    return Outcome(name, "done", record, path if write else None)


def trainer_settings(ctx: RunContext) -> dict:
    return {"accelerator": ctx.accelerator, "devices": ctx.devices, "strategy": ctx.strategy,
            "num_nodes": ctx.num_nodes, "precision": ctx.precision or "32-true"}


def execution_settings(ctx: RunContext) -> dict:
    """Trainer settings that change the numbers, for the config (and so the hash and the record path).

    Several processes (DDP) multiply the effective batch, and a lower precision changes every sum, so
    such a run is a different experiment: it must not be skipped as "already done" because an fp32
    single-process record exists, nor be mistaken for one. The reference setting adds nothing, so the
    hashes of ordinary runs do not change. The accelerator is hardware, recorded with the environment.
    """
    out = {}
    if ctx.devices not in (1, "1") or ctx.num_nodes != 1:
        out.update(devices=ctx.devices, num_nodes=ctx.num_nodes, strategy=ctx.strategy)
    if ctx.precision and ctx.precision not in ("32", "32-true"):
        out["precision"] = ctx.precision
    return out


def experiments(paper: str, use_tuned: bool = False) -> list[Path]:
    """Config files of a paper; with ``use_tuned``, a tuned config replaces its hand-written one."""
    files = registry.config_files(paper)
    if not use_tuned:
        return files
    out = []
    for f in files:
        cfg = C.load(f)
        tuned = registry.tuned_config_path(paper, cfg["dataset"], cfg["method"])
        out.append(tuned if tuned.exists() else f)
    return out


def reproduce(papers: list[str], profile: str, seeds: list[int], ctx: RunContext | None = None,
              rerun: bool = False, only: str | None = None, log=print) -> list[Outcome]:
    """Run every experiment (x seeds) of ``papers``; ``only`` keeps configs whose file name contains it."""
    jobs = [(cfg, s) for p in papers for cfg in experiments(p, use_tuned=(profile == "full"))
            if not only or only in Path(cfg).name for s in seeds]
    outcomes = []
    for i, (cfg_path, seed) in enumerate(jobs, 1):
        label = f"[{i}/{len(jobs)}] {os.path.relpath(cfg_path, REPO_ROOT)} seed={seed}"
        t0 = time.perf_counter()
        try:
            out = run_experiment(cfg_path, profile=profile, seed=seed, ctx=ctx, rerun=rerun,
                                 kind="tuned" if "/tuned/" in str(cfg_path) else "run")
            metric = _headline(out.record)
            log(f"{label}: {out.status} {metric} ({time.perf_counter() - t0:.1f}s)")
        except Exception as exc:  # keep going; the summary names every failure
            tb = traceback.format_exc()
            out = Outcome(label, "failed", error=f"{type(exc).__name__}: {exc}")
            log(f"{label}: FAILED {type(exc).__name__}: {exc}")
            errlog = runs_root() / "failures.log"
            errlog.parent.mkdir(parents=True, exist_ok=True)
            with open(errlog, "a") as f:
                f.write(f"=== {label}\n{tb}\n")
        outcomes.append(out)
    return outcomes


def _headline(record: dict | None) -> str:
    if not record:
        return ""
    name = C.get(record["config"], "metric.name")
    test = record["metrics"].get("test", {})
    return f"test {name}={test[name]:.4f}" if name in test else ""
