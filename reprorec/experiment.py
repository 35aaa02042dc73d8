"""The one path every number travels: config -> method.run -> result record.

`run_experiment` resolves a config for a profile and seed, skips the run if its record exists,
checks the results folder is writable, takes the experiment's lock, seeds everything, calls the
registered method, and writes the record atomically.
`reproduce` does that for every experiment of the chosen papers, keeps going past failures and
returns the failures so the CLI can exit non-zero naming them.

Lock and resume: next to each run folder (runs/.../<kind>-<seed>-<hash>/) sits ``<name>.lock``, an
fcntl lock held for the whole run, whose JSON content says whether the last run there finished and
which code (a fingerprint of reprorec/'s source) wrote its checkpoints. A second process of the same
experiment waits on the lock, then finds the record written and skips; a resume is taken only from a
run that did not finish and was made by the same code, so a checkpoint never mixes two versions.
"""
from __future__ import annotations

import contextlib
import fcntl
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
from .eligibility import check as check_eligibility
from .records import (REPO_ROOT, RecordExists, build_record, check_writable, output_results_dir, record_path,
                      source_fingerprint, write_record)
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
                   tuned_from: dict | None = None, extra: dict | None = None, run_dir: Path | None = None,
                   results_root: Path | None = None, say=print, study: dict | None = None) -> Outcome:
    """``run_dir`` (checkpoints, logs) defaults to one folder per config and seed; tuning trials pass
    their own so that two workers trying the same config at once never share a checkpoint folder.
    A configs/tuned/ file carries its study in ``tuned_from``; its records inherit it, so the leaderboard
    labels them tuned however they were started (reprorec tune, run --tuned, reproduce --profile full).
    ``results_root``: where the record goes (default: `records.output_results_dir`).
    ``ctx.resume``: continue from the last checkpoint when the last run there was killed by the same code.
    ``study`` (reprorec.studies.Study.resolution) makes it a run of a named study: its record goes under
    ``<profile>/study-<name>/``."""
    raw = C.load(cfg_path)
    ctx = ctx or RunContext()
    cfg = C.resolve(raw, profile, overrides, study=study)
    if study:
        kind = f"study-{study['name']}"
    if execution_settings(ctx):
        cfg["execution"] = execution_settings(ctx)
    C.check(cfg)  # unknown keys, wrong types and ranges fail here, in one line, before anything runs
    eligibility = check_eligibility(cfg)  # the paper's dataset rules (reprorec/eligibility.py), refused here too
    chash = C.config_hash(cfg)
    name = f"{cfg['paper']}/{cfg['dataset']}/{cfg['method']} [{profile}, seed {seed}]"
    root = results_root or (output_results_dir(_say_once(say)) if write else None)
    path = record_path(cfg["paper"], cfg["dataset"], cfg["method"], profile, seed, chash, kind, root=root)
    if write and path.exists() and not rerun:
        return Outcome(name, "skipped", json.loads(path.read_text()), path)
    method = registry.method(cfg["paper"], cfg["method"])
    run_dir = run_dir or runs_root() / cfg["paper"] / cfg["dataset"] / cfg["method"] / profile / \
        f"{kind}-{seed}-{chash}"
    if write and is_global_zero():
        check_writable(path.parent)  # before training: a result that cannot be saved is lost
    with experiment_lock(run_dir, name, say) as lock:
        if write and path.exists() and not rerun:  # another process finished it while we waited
            say(f"{name}: already done by another process: {path}")
            return Outcome(name, "skipped", json.loads(path.read_text()), path)
        ctx = replace(ctx, seed=seed, run_dir=run_dir, resume=lock.may_resume(ctx.resume, say))
        lock.mark("running")
        set_threads()
        L.seed_everything(seed, workers=True, verbose=False)
        torch.use_deterministic_algorithms(True, warn_only=True)
        t0 = time.perf_counter()
        result = method.run(cfg, ctx)
        wall = time.perf_counter() - t0
        record = build_record(cfg=cfg, config_hash=chash, seed=seed, metrics=result.metrics,
                              data_files=result.data_files, split_fingerprint=result.split_fingerprint,
                              wall_time_s=wall, epochs=result.epochs, tuned_from=tuned_from or raw.get("tuned_from"),
                              extra={**(extra or {}), **result.extra, "trainer": trainer_settings(ctx),
                                     **({"eligibility": eligibility} if eligibility else {}),
                                     **record_entry(result.test_rows, result.split_fingerprint,
                                                    result.metrics.get("test"))})
        if not is_global_zero():  # DDP: the other ranks computed the same (gathered) metrics
            return Outcome(name, "done", record, None)
        if write:
            if rerun and path.exists():
                path.unlink()
            try:
                write_record(record, path)
            except RecordExists:  # a process outside this lock (another runs/ folder) wrote it first
                say(f"{name}: a record was written meanwhile by another process; kept it: {path}")
                lock.mark("done")
                return Outcome(name, "skipped", json.loads(path.read_text()), path)
        lock.mark("done")
    return Outcome(name, "done", record, path if write else None)


def _say_once(say):
    def once(msg: str) -> None:
        if msg not in _SAID:
            _SAID.add(msg)
            say(msg)
    return once


_SAID: set[str] = set()


class _RunLock:
    """The state beside a run folder (see the module docstring); only rank 0 of a DDP run holds it."""

    def __init__(self, run_dir: Path, fd: int | None):
        self.run_dir, self.fd = run_dir, fd
        self.code = source_fingerprint("reprorec")
        self.state: dict = {}
        if fd is not None:
            os.lseek(fd, 0, os.SEEK_SET)
            try:
                self.state = json.loads(os.read(fd, 1 << 16) or b"{}")
            except ValueError:
                self.state = {}

    def may_resume(self, asked: bool, say) -> bool:
        last = self.run_dir / "checkpoints" / "last.ckpt"
        if not asked or self.fd is None:
            return asked
        if not last.exists():
            return False  # nothing to resume: start clean (a killed first epoch leaves logs behind)
        if self.state.get("status") == "done":
            return False  # that run finished: a new one starts from scratch
        if self.state.get("code") != self.code:
            why = "the code changed since it was written" if self.state else "no note of the code that wrote it"
            say(f"not resuming {last}: {why}; starting from epoch 0")
            return False
        say(f"resuming from {last}")
        return True

    def mark(self, status: str) -> None:
        if self.fd is None:
            return
        blob = json.dumps({"status": status, "code": self.code, "pid": os.getpid()}).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, blob, 0)


@contextlib.contextmanager
def experiment_lock(run_dir: Path, name: str = "", say=print):
    """Hold ``<run_dir>.lock`` (fcntl) for the block; a second process waits, saying so in one line."""
    if not is_global_zero():  # DDP workers run inside rank 0's lock
        yield _RunLock(run_dir, None)
        return
    lock_path = run_dir.with_name(run_dir.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"{name or run_dir}: another process is running this experiment ({lock_path}); waiting for it")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield _RunLock(run_dir, fd)
    finally:
        os.close(fd)  # releases the lock


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
        tuned = f.parent / "tuned" / f.name  # = registry.tuned_config_path(paper, dataset, experiment name)
        out.append(tuned if tuned.exists() else f)
    return out


def reproduce(papers: list[str], profile: str, seeds: list[int], ctx: RunContext | None = None,
              rerun: bool = False, only: str | None = None, log=print,
              results_root: Path | None = None) -> list[Outcome]:
    """Run every experiment (x seeds) of ``papers``; ``only`` keeps configs whose file name contains it;
    records go to ``results_root`` (default: `records.output_results_dir`). A profile other than quick and
    full (SPIDER's ``prefix``) runs the experiments whose config defines it."""
    files = [cfg for p in papers for cfg in experiments(p, use_tuned=(profile == "full"))
             if (not only or only in Path(cfg).name)
             and (profile in C.BUILTIN_PROFILES or profile in (C.load(cfg).get("profiles") or {}))]
    if not files and profile not in C.BUILTIN_PROFILES:
        raise C.ConfigError(f"unknown profile {profile!r}: no experiment of {', '.join(papers)} defines it")
    jobs = [(cfg, s) for cfg in files for s in seeds]
    outcomes = []
    for i, (cfg_path, seed) in enumerate(jobs, 1):
        label = f"[{i}/{len(jobs)}] {os.path.relpath(cfg_path, REPO_ROOT)} seed={seed}"
        t0 = time.perf_counter()
        try:
            out = run_experiment(cfg_path, profile=profile, seed=seed, ctx=ctx, rerun=rerun, say=log,
                                 kind="tuned" if "/tuned/" in str(cfg_path) else "run", results_root=results_root)
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
    name = C.metric(record["config"]).name
    test = record["metrics"].get("test", {})
    return f"test {name}={test[name]:.4f}" if name in test else ""
