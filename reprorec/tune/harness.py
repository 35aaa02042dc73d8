"""Optuna hyperparameter sweeps, one harness for every paper: ``reprorec tune PAPER METHOD --dataset D``.

Why it is built this way:
- A trial is an ordinary run through `run_experiment` (same config resolution, seeding and record
  provenance) with ``evaluate_test=False``: hyperparameters are chosen on the validation metric and
  the test split is never touched. Each trial writes a record tagged ``trial``/``study``.
- Search spaces live beside their methods (``register(..., search_space=fn)``); nothing here knows
  a paper. A space is dry-run on an in-memory study before any trial, so a bad range fails at once.
- The study lives in an Optuna RDB storage: a SQLite file under runs/tuning/ by default, or a
  PostgreSQL URL that workers on several machines share. Heartbeats turn a killed worker's trial
  into a failed one and `RetryFailedTrialCallback` queues its parameters again: a kill loses at most
  the running trial, and rerunning the command resumes the study.
- ``--trials N`` counts COMPLETED trials of the whole study, so every worker stops at the same N.
- Finally the best config is exported under the study's name (YAML in configs/tuned/studies/, trials
  CSV + plots in results/tuning/) and optionally re-run on ``--final-seeds`` seeds with the test split,
  as records marked ``tuned_from`` that the leaderboard labels. A new study never takes the name of one
  whose artefacts exist, and only ``--promote STUDY`` changes the config ``--profile full`` uses.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import statistics
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import optuna
from optuna.trial import TrialState

from .. import config as C
from .. import registry
from .storage import (PRUNERS, SAMPLERS, _NamedErrors, dry_run, make_pruner, make_sampler, make_storage, masked,
                          pruning_callback, search_space, storage_kind)
from .report import _fixed, _rel

WORKER = f"{socket.gethostname()}:{os.getpid()}"
MAX_CONSECUTIVE_FAILURES = 3


def _say(msg: str) -> None:
    print(msg, flush=True)


class BudgetReached(Exception):
    """Another worker's trials already fill ``--trials``: this trial is closed without running."""


@dataclass
class TuneSpec:
    paper: str
    method: str
    dataset: str
    trials: int = 20
    profile: str = "quick"
    seed: int = 0  # the run seed of every trial (split + init), and the sampler's base seed
    timeout: float | None = None
    storage: str | None = None
    study: str | None = None
    sampler: str = "tpe"
    pruner: str = "median"
    final_seeds: int = 0
    overrides: list[str] = field(default_factory=list)  # fixed --set values applied to every trial
    config: str | None = None
    heartbeat: int = 30
    grid_points: int = 5
    plots: bool = True

    @property
    def study_name(self) -> str:
        return self.study or f"{self.paper}-{self.dataset}-{self.method}-{self.profile}"

    def config_path(self) -> Path:
        return Path(self.config) if self.config else registry.find_config(self.paper, self.dataset, self.method)


def storage_url(spec: TuneSpec) -> str:
    if spec.storage:
        return spec.storage
    from ..experiment import runs_root

    path = (runs_root() / "tuning" / f"{spec.study_name}.db").resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


# ---------------------------------------------------------------- the study

@dataclass
class TuneOutcome:
    study: optuna.Study
    completed: int
    best_value: float | None = None
    best_trial: int | None = None
    tuned_config: Path | None = None
    csv: Path | None = None
    final_records: list = field(default_factory=list)


def _quiet() -> None:
    import lightning.pytorch  # noqa: F401  (importing it sets its loggers to INFO: import first, then quiet)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("lightning"):
            logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message=".*litlogger.*")


def open_study(spec: TuneSpec, cfg: dict, distributions: dict, cfg_path: Path | None = None
               ) -> tuple[optuna.Study, str]:
    from .report import _rel, study_artefacts

    url = storage_url(spec)
    mode = C.settings(cfg).metric.mode
    direction = "minimize" if mode == "min" else "maximize"
    storage = make_storage(url, spec.heartbeat)
    if cfg_path is not None and spec.study_name not in optuna.get_all_study_names(storage):
        existing = study_artefacts(cfg_path, spec)
        if existing:  # e.g. a fresh clone: the committed study's storage is not here, its exports are
            raise ValueError(f"study {spec.study_name!r} already has exported artefacts "
                             f"({', '.join(_rel(p) for p in existing)}) but is not in {masked(url)}; "
                             f"choose another --study name (or pass that study's --storage to resume it)")
    study = optuna.create_study(study_name=spec.study_name, storage=storage,
                                sampler=make_sampler(spec.sampler, spec.seed, distributions, spec.grid_points),
                                pruner=make_pruner(spec.pruner), direction=direction, load_if_exists=True)
    # Every worker and every resume must tune the same thing: same experiment, fixed overrides, base config.
    identity = {"paper": spec.paper, "dataset": spec.dataset, "method": spec.method, "profile": spec.profile,
                "seed": spec.seed, "metric": C.metric(cfg).name, "base_config_hash": C.config_hash(cfg)}
    found = study.user_attrs.get("reprorec")
    if found is None:
        study.set_user_attr("reprorec", identity)
    elif found != identity:
        diff = {k: (found.get(k), v) for k, v in identity.items() if found.get(k) != v}
        raise ValueError(f"study {spec.study_name!r} in {masked(url)} was made for another experiment "
                         f"(stored vs now: {diff}); pick another --study name")
    if study.direction.name.lower() != direction:
        raise ValueError(f"study {spec.study_name!r} optimises {study.direction.name.lower()}, config says {direction}")
    return study, url


def _count(study: optuna.Study) -> dict:
    counts = {s: 0 for s in TrialState}
    for t in study.get_trials(deepcopy=False):
        counts[t.state] += 1
    return counts


def _best(study: optuna.Study):
    try:
        return study.best_trial
    except ValueError:
        return None


def make_objective(spec: TuneSpec, study: optuna.Study, cfg_path: Path, cfg: dict, ctx, space):
    from ..experiment import run_experiment, runs_root
    from ..records import RecordExists

    metric = C.metric(cfg).name
    where = f"{spec.paper}/{spec.method}"
    fixed = _fixed(spec.overrides)

    def objective(trial: optuna.Trial) -> float:
        ahead = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING,
                                                                      TrialState.WAITING)) if t.number < trial.number]
        if len(ahead) >= spec.trials:  # another worker started the last trial between our count and our ask
            trial.set_user_attr("skipped", "budget filled by other workers")
            raise BudgetReached(f"{len(ahead)} trials ahead already fill --trials {spec.trials}")
        overrides = C.deep_merge(fixed, space(_NamedErrors(trial, where)))
        trial.set_user_attr("overrides", overrides)
        trial.set_user_attr("worker", WORKER)
        callbacks = list(ctx.callbacks)
        if spec.pruner != "none":
            callbacks.append(pruning_callback(trial, monitor=f"val/{metric}"))
        trial_ctx = replace(ctx, evaluate_test=False, resume=False, progress=False, callbacks=callbacks)
        run_dir = runs_root() / "tuning" / spec.study_name / f"trial-{trial.number}"
        kind = f"trial-{spec.study_name}"
        try:
            out = run_experiment(cfg_path, profile=spec.profile, seed=spec.seed, overrides=overrides, ctx=trial_ctx,
                                 kind=kind, extra={"trial": trial.number, "study": spec.study_name}, run_dir=run_dir)
            record, path = out.record, out.path
            if out.status == "skipped":  # an earlier trial of this study ran the identical config and seed
                trial.set_user_attr("reused", True)
        except RecordExists as exc:  # a concurrent trial with the identical config finished first
            path = Path(str(exc).rsplit(" ", 1)[-1])
            record = json.loads(path.read_text())
        finally:
            shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        trial.set_user_attr("record", _rel(path) if path else None)
        val = record["metrics"].get("val", {})
        if metric not in val:
            raise KeyError(f"{where} returned no val/{metric} (val metrics: {sorted(val)})")
        return float(val[metric])

    return objective


def optimize(spec: TuneSpec, ctx=None, log=_say) -> tuple[optuna.Study, str, Path, dict]:
    """Run trials until the study holds ``spec.trials`` completed ones (or the timeout/grid ends)."""
    from ..train import RunContext

    if spec.trials < 1:
        raise ValueError("--trials must be at least 1")
    _quiet()
    ctx = ctx or RunContext(progress=False)
    cfg_path = spec.config_path()
    raw = C.load(cfg_path)
    if (raw["paper"], raw["dataset"]) != (spec.paper, spec.dataset) or \
            spec.method not in (raw["method"], registry.experiment_name(raw)):
        raise ValueError(f"{cfg_path} is for {raw['paper']}/{raw['dataset']}/{raw['method']}, "
                         f"not {spec.paper}/{spec.dataset}/{spec.method}")
    cfg = C.resolve(raw, spec.profile, spec.overrides)
    where = f"{spec.paper}/{spec.method}"
    space = search_space(spec.paper, raw["method"])
    sample, distributions = dry_run(space, where)  # fails here, before any trial, on a bad range
    C.check(cfg)
    bad = C.validate_config(C.deep_merge(cfg, sample))
    if bad:  # a misspelt key would tune nothing and return the untuned number as 'best'
        raise C.ConfigError(f"search space of {where}: {bad[0]}")
    study, url = open_study(spec, cfg, distributions, cfg_path)
    metric = C.metric(cfg).name
    log(f"study {spec.study_name!r} in {masked(url)}: {spec.sampler} sampler, {spec.pruner} pruner, "
        f"objective val/{metric} ({study.direction.name.lower()}), target {spec.trials} completed trials, "
        f"worker {WORKER}")
    objective = make_objective(spec, study, cfg_path, cfg, ctx, space)
    t0 = time.perf_counter()
    failures: list[str] = []

    def progress(study: optuna.Study, t: optuna.trial.FrozenTrial) -> None:
        counts, best = _count(study), _best(study)
        last = "last " if t.state == TrialState.PRUNED else ""
        value = f"{last}val/{metric}={t.value:.5f}" if t.value is not None else ""
        note = t.user_attrs.get("skipped") or t.user_attrs.get("error") or ""
        if t.state == TrialState.PRUNED:
            last = max(t.intermediate_values) if t.intermediate_values else None
            note = f"at epoch {last}" if last is not None else note
        best_txt = f"best {best.value:.5f} (#{best.number})" if best else "best —"
        log(f"trial {t.number:>3} {t.state.name:<8} {value:<20} {best_txt}  completed {counts[TrialState.COMPLETE]}"
            f"/{spec.trials}  elapsed {time.perf_counter() - t0:.0f}s" + (f"  {note}" if note else ""))
        if t.state == TrialState.FAIL and not t.user_attrs.get("skipped"):
            failures.append(note)
        elif t.state != TrialState.FAIL:
            failures.clear()

    def guarded(trial):
        try:
            return objective(trial)
        except (optuna.TrialPruned, BudgetReached):
            raise
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:500])
            raise

    while True:
        optuna.storages.fail_stale_trials(study)  # a dead worker's RUNNING trial -> FAIL -> queued again
        counts = _count(study)
        if counts[TrialState.COMPLETE] >= spec.trials:
            break
        if spec.sampler == "grid" and study.sampler.inner.is_exhausted(study):
            log("grid exhausted")
            break
        if spec.timeout is not None and time.perf_counter() - t0 > spec.timeout:
            log(f"timeout after {spec.timeout:.0f}s")
            break
        if counts[TrialState.COMPLETE] + counts[TrialState.RUNNING] >= spec.trials:
            time.sleep(min(5.0, max(0.5, spec.heartbeat / 4)))  # other workers are running the last trials
            continue
        try:
            study.optimize(guarded, n_trials=1, catch=(Exception,), callbacks=[progress], gc_after_trial=False)
        except optuna.exceptions.UpdateFinishedTrialError as exc:  # our trial was declared stale meanwhile
            log(f"warning: {exc}")
        if len(failures) >= MAX_CONSECUTIVE_FAILURES:
            raise RuntimeError(f"{len(failures)} trials in a row failed; last error: {failures[-1]}")
    return study, url, cfg_path, cfg


def tune(spec: TuneSpec, ctx=None, log=_say) -> TuneOutcome:
    """Optimise, export the best config, the trials CSV and plots, then run the final seeds."""
    from ..experiment import run_experiment
    from ..records import RecordExists
    from ..train import RunContext
    from .report import edge_warnings, export_config, export_trials

    study, url, cfg_path, cfg = optimize(spec, ctx, log)
    counts, best = _count(study), _best(study)
    outcome = TuneOutcome(study, counts[TrialState.COMPLETE])
    if best is None:
        log("no completed trial: nothing to export")
        return outcome
    outcome.best_value, outcome.best_trial = best.value, best.number
    metric = C.metric(cfg).name
    log(f"best val/{metric} = {best.value:.5f} at trial #{best.number} ({outcome.completed} completed trials): "
        f"{json.dumps(best.params, sort_keys=True)}")
    edges = edge_warnings(best)
    for text in edges:
        log(f"warning: {text}")
    tuned_from = {"study": spec.study_name, "n_trials": outcome.completed, "storage": storage_kind(url),
                  "best_value": best.value, "best_trial": best.number, "profile": spec.profile,
                  "sampler": spec.sampler, "pruner": spec.pruner, "metric": f"val/{metric}"}
    outcome.csv = export_trials(study, spec.study_name, plots=spec.plots, log=log)
    outcome.tuned_config = export_config(cfg_path, best.user_attrs["overrides"], tuned_from, spec, log=log,
                                         warnings=edges)
    final_ctx = replace(ctx or RunContext(progress=False), evaluate_test=True, resume=False, callbacks=[])
    for seed in range(spec.final_seeds):  # the records take tuned_from from the tuned YAML
        try:
            out = run_experiment(outcome.tuned_config, profile=spec.profile, seed=seed, ctx=final_ctx, kind="tuned")
        except RecordExists:
            log(f"final seed {seed}: done by another worker")
            continue
        outcome.final_records.append(out.record)
        ms = out.record["metrics"]
        log(f"final seed {seed}: {out.status}  val/{metric}={ms['val'][metric]:.5f}  "
            f"test/{metric}={ms.get('test', {}).get(metric, float('nan')):.5f}  {out.path}")
    if len(outcome.final_records) > 1:
        for split in ("val", "test"):
            vals = [r["metrics"][split][metric] for r in outcome.final_records if metric in r["metrics"].get(split, {})]
            if len(vals) > 1:
                log(f"tuned {split}/{metric} over {len(vals)} seeds: {statistics.mean(vals):.5f} ± "
                    f"{statistics.stdev(vals):.5f}")
    return outcome


# ---------------------------------------------------------------- command line

def add_parser(sub) -> None:
    from ..run_options import add_trainer_args as _trainer_args

    p = sub.add_parser("tune", help="Optuna sweep of one method on one dataset (validation metric only)",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("paper", nargs="?")
    p.add_argument("method", nargs="?")
    p.add_argument("--dataset")
    p.add_argument("--promote", metavar="STUDY", help="make STUDY's tuned config the one --profile full uses "
                   "(configs/tuned/<dataset>-<method>.yaml); runs nothing")
    p.add_argument("--trials", type=int, default=20, help="completed trials the study should hold in total")
    p.add_argument("--timeout", type=float, default=None, help="stop starting trials after S seconds (this worker)")
    p.add_argument("--storage", default=os.environ.get("REPRO_TUNE_STORAGE"),
                   help="Optuna storage URL, e.g. postgresql://user:pw@host/db (default: runs/tuning/<study>.db)")
    p.add_argument("--study", help="study name (default: <paper>-<dataset>-<method>-<profile>)")
    p.add_argument("--sampler", default="tpe", choices=SAMPLERS.names())
    p.add_argument("--pruner", default="median", choices=PRUNERS.names())
    p.add_argument("--final-seeds", type=int, default=0, help="re-run the best config on seeds 0..N-1 with test")
    p.add_argument("--profile", default="quick", choices=["quick", "full"])
    p.add_argument("--seed", type=int, default=0, help="run seed of every trial, and the sampler's seed")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="fix a config value in every trial (repeatable)")
    p.add_argument("--config", help="config file (default: the paper's config); tuned YAML goes to its tuned/")
    p.add_argument("--heartbeat", type=int, default=30, help="seconds between worker heartbeats; a trial silent "
                   "for 3 heartbeats is failed and retried")
    p.add_argument("--grid-points", type=int, default=5, help="values per float range for --sampler grid")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="skip the PNG plots")
    _trainer_args(p)
    p.set_defaults(func=cmd_tune)


def cmd_tune(args) -> int:
    from ..run_options import context_from_args as _ctx
    from .report import promote

    if args.promote:
        promote(args.promote, args.config)
        return 0
    if not (args.paper and args.method and args.dataset):
        raise ValueError("tune needs PAPER METHOD --dataset D (or --promote STUDY)")

    spec = TuneSpec(paper=args.paper, method=args.method, dataset=args.dataset, trials=args.trials,
                    profile=args.profile, seed=args.seed, timeout=args.timeout, storage=args.storage,
                    study=args.study, sampler=args.sampler, pruner=args.pruner, final_seeds=args.final_seeds,
                    overrides=args.overrides, config=args.config, heartbeat=args.heartbeat,
                    grid_points=args.grid_points, plots=args.plots)
    out = tune(spec, replace(_ctx(args), progress=False, resume=False))
    return 0 if out.completed else 1
