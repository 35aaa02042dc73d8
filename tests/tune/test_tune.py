"""The Optuna harness: a study finishes and exports a config that reproduces its best trial exactly,
a hard-killed worker loses only its running trial and the study resumes to N completed trials, two
workers share one study through a real PostgreSQL server without losing or duplicating a trial,
an invalid search space fails before any trial, and Lightning pruning reports the logged val metric.

The model is the real biased-MF baseline on ML-100K cut to 2 epochs (about 2 s a trial).
"""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from reprorec import config as C
from reprorec import registry
from reprorec.records import iter_records
from reprorec.tune.harness import TuneSpec, tune
from reprorec.tune.storage import SearchSpaceError, grid_of, make_sampler, make_storage, search_space

REPO = Path(__file__).resolve().parents[2]
BASE_CFG = REPO / "reprorec" / "papers" / "baselines" / "configs" / "ml-100k-biased-mf.yaml"
TINY = ["train.max_epochs=2"]


@pytest.fixture
def cfg_file(tmp_path, data_dir) -> Path:
    """A copy of the real config and its layers in tmp, so the tuned YAML lands in tmp/configs/tuned/."""
    path = tmp_path / "configs" / BASE_CFG.name
    path.parent.mkdir()
    for src in [BASE_CFG, *(p for p in BASE_CFG.parent.glob("*.yaml") if C.is_layer(p))]:
        (path.parent / src.name).write_text(src.read_text())
    return path


def _spec(cfg_file, **kw) -> TuneSpec:
    base = dict(paper="baselines", method="biased-mf", dataset="ml-100k", trials=6, profile="quick",
                overrides=list(TINY), config=str(cfg_file), pruner="none", plots=False)
    return TuneSpec(**{**base, **kw})


def _cli(cfg_file, *extra) -> list[str]:
    args = [sys.executable, "-m", "reprorec.cli", "tune", "baselines", "biased-mf", "--dataset", "ml-100k",
            "--config", str(cfg_file), "--no-plots", "--pruner", "none"]
    for t in TINY:
        args += ["--set", t]
    return args + list(extra)


def _env() -> dict:
    return {**os.environ, "REPRO_THREADS": "1", "PYTHONPATH": str(REPO)}


def _trial_records() -> list[dict]:
    return [r for r in iter_records() if r.get("trial") is not None]


def _sqlite(study: str) -> str:
    return f"sqlite:///{Path(os.environ['REPRO_RUNS_DIR']).resolve() / 'tuning' / f'{study}.db'}"


@pytest.mark.slow
def test_study_finishes_exports_best_config_and_reproduces_it(cfg_file):
    spec = _spec(cfg_file, study="six", final_seeds=1)
    out = tune(spec)
    assert out.completed == 6
    # Trials never touch the test split; each is a record tagged with its study and number.
    recs = sorted(_trial_records(), key=lambda r: r["trial"])
    assert [r["trial"] for r in recs] == list(range(6)) and {r["study"] for r in recs} == {"six"}
    assert all(set(r["metrics"]) == {"val"} for r in recs)
    # The CSV holds every trial with the record's value; the best is the minimum (rmse is minimised).
    rows = list(csv.DictReader(out.csv.open()))
    assert [r["state"] for r in rows] == ["COMPLETE"] * 6
    assert [float(r["value"]) for r in rows] == [r["metrics"]["val"]["rmse"] for r in recs]
    assert out.best_value == min(float(r["value"]) for r in rows)
    # The tuned YAML resolves under the tuning profile to exactly the best trial's config ...
    tuned = C.load(out.tuned_config)
    assert out.tuned_config == cfg_file.parent / "tuned" / "studies" / "six.yaml"  # stored under the study's name
    assert not (cfg_file.parent / "tuned" / "ml-100k-biased-mf.yaml").exists()  # promoted only by --promote
    best_rec = recs[out.best_trial]
    assert C.config_hash(C.resolve(tuned, "quick")) == best_rec["config_hash"]
    params, best_overrides = out.study.best_trial.params, out.study.best_trial.user_attrs["overrides"]
    assert (tuned["model"]["dim"], tuned["model"]["reg"], tuned["train"]["lr"]) == \
        (params["model.dim"], params["model.reg"], best_overrides["train"]["lr"])
    assert "lr" not in tuned["profiles"]["quick"]["train"]  # the quick profile no longer overrides the tuned lr
    assert "study six" in tuned["source"] and "6 completed trials" in tuned["source"]
    # ... so its final seed-0 run reproduces the best validation value exactly, and adds the test split.
    (final,) = out.final_records
    assert final["metrics"]["val"]["rmse"] == out.best_value and "rmse" in final["metrics"]["test"]
    # The YAML carries its provenance, so any run of it (tune, run --tuned, reproduce) is labelled tuned.
    assert final["tuned_from"] == tuned["tuned_from"]
    assert tuned["tuned_from"]["study"] == "six" and tuned["tuned_from"]["n_trials"] == 6
    assert tuned["tuned_from"]["storage"] == "sqlite" and tuned["tuned_from"]["best_value"] == out.best_value
    # --trials counts completed trials of the study: a rerun resumes, it does not add 6 more.
    again = tune(_spec(cfg_file, study="six"))
    assert again.completed == 6 and len(again.study.trials) == 6


@pytest.mark.slow
def test_tune_without_promote_leaves_the_committed_tuned_config_untouched(cfg_file, capsys):
    from reprorec.cli import main
    from reprorec.experiment import run_experiment

    committed = cfg_file.parent / "tuned" / "ml-100k-biased-mf.yaml"
    committed.parent.mkdir()
    committed.write_text((BASE_CFG.parent / "tuned" / committed.name).read_text())
    before = committed.read_bytes()
    out = tune(_spec(cfg_file, study="two", trials=2))
    assert committed.read_bytes() == before and out.tuned_config == committed.parent / "studies" / "two.yaml"
    # A new study (here: another storage) may not take the name of one whose artefacts exist.
    with pytest.raises(ValueError, match="study 'two' already has exported artefacts"):
        tune(_spec(cfg_file, study="two", trials=2, storage=_sqlite("elsewhere")))
    assert committed.read_bytes() == before
    # --promote makes the study's config the one --profile full uses; its runs name the study.
    assert main(["tune", "--promote", "two", "--config", str(cfg_file)]) == 0
    assert "promoted study two" in capsys.readouterr().out
    promoted = C.load(committed)
    assert promoted["tuned_from"]["study"] == "two"
    assert C.config_hash(C.resolve(promoted, "full")) == C.config_hash(C.resolve(C.load(out.tuned_config), "full"))
    rec = run_experiment(committed, profile="quick", seed=0, overrides=TINY, kind="tuned").record
    assert rec["tuned_from"]["study"] == "two"
    assert main(["tune", "--promote", "nope", "--config", str(cfg_file)]) == 2


@pytest.mark.slow
def test_hard_killed_worker_loses_only_its_running_trial_and_the_study_resumes(cfg_file):
    study = "killed"
    cmd = _cli(cfg_file, "--study", study, "--trials", "6", "--heartbeat", "1")
    worker = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    completed = 0
    for line in worker.stdout:
        completed += " COMPLETE " in line
        if completed == 2:
            break
    assert completed == 2, "worker ended before 2 trials"
    storage = make_storage(_sqlite(study), heartbeat=1)
    deadline = time.time() + 60
    # Kill only once the running trial has sampled its parameters: a trial killed before it
    # suggests anything has nothing to re-run, and its retry samples afresh.
    space = set(optuna.load_study(study_name=study, storage=storage).get_trials(states=(TrialState.COMPLETE,))[0].params)
    while not any(set(t.params) == space for t in optuna.load_study(study_name=study, storage=storage).get_trials(states=(TrialState.RUNNING,))):
        assert time.time() < deadline
        time.sleep(0.05)
    worker.send_signal(signal.SIGKILL)  # mid-trial: no chance to clean up
    worker.wait()
    (killed,) = optuna.load_study(study_name=study, storage=storage).get_trials(states=(TrialState.RUNNING,))
    assert set(killed.params) == space
    time.sleep(3.5)  # > 3 heartbeats: the resumed worker finds the trial stale

    done = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    trials = optuna.load_study(study_name=study, storage=storage).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 6
    assert [t.number for t in trials if t.state == TrialState.FAIL] == [killed.number]
    (retry,) = [t for t in complete if t.system_attrs.get("failed_trial") == killed.number]
    assert retry.params == killed.params  # the lost trial's parameters were run again
    recs = _trial_records()
    assert sorted(r["trial"] for r in recs) == sorted(t.number for t in complete)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_share_one_study_through_postgresql(cfg_file):
    url = os.environ.get("REPRO_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("REPRO_PG_URL is not set: .ci/postgres.sh must start PostgreSQL in CI")
        pytest.skip("REPRO_PG_URL not set (source .ci/postgres.sh; pg_start)")
    study, n = f"pg-{uuid.uuid4().hex[:8]}", 8
    cmd = _cli(cfg_file, "--study", study, "--trials", str(n), "--storage", url, "--sampler", "random")
    workers = [subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True) for _ in range(2)]
    outs = [w.communicate(timeout=400)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outs
    storage = make_storage(url, heartbeat=30)
    try:
        trials = optuna.load_study(study_name=study, storage=storage).get_trials()
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        assert len(complete) == n
        # nothing lost: every other trial is one closed unrun because the budget was already full
        assert all(t.user_attrs.get("skipped") for t in trials if t.state != TrialState.COMPLETE)
        assert len({t.number for t in trials}) == len(trials)
        assert len({t.user_attrs["worker"] for t in complete}) == 2, outs  # both workers did real work
        recs = _trial_records()
        assert sorted(r["trial"] for r in recs) == sorted(t.number for t in complete)  # one record per trial
    finally:
        optuna.delete_study(study_name=study, storage=storage)


@pytest.fixture
def bad_method(tmp_path):
    """A test-only method whose search space has an invalid range; its run must never be called."""
    calls = []

    def bad_space(trial):
        return {"train": {"lr": trial.suggest_float("train.lr", 0.1, 0.01)}}

    def log_from_zero(trial):
        return {"model": {"reg": trial.suggest_float("model.reg", 0.0, 1.0, log=True)}}

    spaces = {"_bad-range": bad_space, "_log-zero": log_from_zero}
    for name, space in spaces.items():
        registry.register("baselines", name, search_space=space)(lambda cfg, ctx: calls.append(cfg))
        cfg = {k: v for k, v in C.load(BASE_CFG).items() if not k.startswith("_")} | {"method": name}
        (tmp_path / f"ml-100k-{name}.yaml").write_text(yaml.safe_dump(cfg))
    yield calls
    for name in spaces:
        registry.unregister("baselines", name)


@pytest.mark.parametrize("method,param,words", [("_bad-range", "train.lr", "low"), ("_log-zero", "model.reg", "log")])
def test_invalid_search_space_fails_before_any_trial(bad_method, tmp_path, capsys, method, param, words):
    from reprorec.cli import main

    rc = main(["tune", "baselines", method, "--dataset", "ml-100k", "--trials", "3",
               "--config", str(tmp_path / f"ml-100k-{method}.yaml")])
    err = capsys.readouterr().err
    assert rc == 2
    assert f"search space of baselines/{method}: parameter {param!r}" in err and words in err
    assert bad_method == []  # no trial ran
    assert not (Path(os.environ["REPRO_RUNS_DIR"]) / "tuning" / f"baselines-ml-100k-{method}-quick.db").exists()
    with pytest.raises(SearchSpaceError, match="declares no search space"):
        registry.register("baselines", "_no-space")(lambda cfg, ctx: None)
        try:
            search_space("baselines", "_no-space")
        finally:
            registry.unregister("baselines", "_no-space")


class _PruneFirst(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return trial.number == 0


@pytest.mark.slow
def test_lightning_pruning_reports_the_logged_val_metric_and_writes_no_record(cfg_file, monkeypatch):
    import reprorec.tune.harness as T

    monkeypatch.setattr(T, "make_pruner", lambda name: _PruneFirst())
    out = tune(_spec(cfg_file, study="pruned", trials=1, pruner="median"))
    pruned, complete = out.study.trials
    assert pruned.state == TrialState.PRUNED and list(pruned.intermediate_values) == [0]  # stopped at epoch 0
    log = Path(os.environ["REPRO_RUNS_DIR"]) / "tuning" / "pruned" / "trial-0" / "logs" / "metrics.csv"
    logged = [float(r["val/rmse"]) for r in csv.DictReader(log.open()) if r.get("val/rmse")]
    assert len(logged) == 1 and pruned.intermediate_values[0] == pytest.approx(logged[0], rel=1e-6)
    assert complete.state == TrialState.COMPLETE and list(complete.intermediate_values) == [0, 1]
    assert [r["trial"] for r in _trial_records()] == [1]  # a pruned trial writes no record


def test_grid_from_distributions():
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    grid = grid_of({"a": FloatDistribution(1e-4, 1e-1, log=True), "b": IntDistribution(1, 4),
                    "c": IntDistribution(0, 100, step=10), "d": CategoricalDistribution([16, 32]),
                    "e": FloatDistribution(0.0, 1.0, step=0.25)}, points=4)
    assert grid["a"] == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1])  # geometric spacing on a log range
    assert grid["b"] == [1, 2, 3, 4] and grid["d"] == [16, 32]
    assert grid["c"] == [0, 30, 70, 100]  # 4 points of 0..100 rounded onto the step
    assert grid["e"] == [0.0, 0.25, 0.75, 1.0]


def test_sampler_seeds_by_trial_number_so_a_resumed_or_second_worker_draws_anew():
    def draws(seed, n, study=None):
        study = study or optuna.create_study(sampler=make_sampler("random", seed, {}, 5))
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=n)
        return [t.params["x"] for t in study.trials]

    first = draws(0, 4)
    assert first == draws(0, 4)  # one worker: reproducible
    assert len(set(first)) == 4
    study = optuna.create_study(sampler=make_sampler("random", 0, {}, 5))
    draws(0, 2, study)
    resumed = optuna.create_study(sampler=make_sampler("random", 0, {}, 5), storage=study._storage,
                                  study_name=study.study_name, load_if_exists=True)
    assert draws(0, 2, resumed) == first  # a fresh sampler continuing the study does not replay trials 0-1


def test_grid_sampler_visits_every_point_once_across_fresh_samplers():
    """Each trial gets a freshly seeded GridSampler: grid ids must still name the same points."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    dists = {"a": CategoricalDistribution([1, 2, 3]), "b": FloatDistribution(0.1, 10.0, log=True)}
    sampler = make_sampler("grid", 0, dists, grid_points=3)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: t.suggest_categorical("a", [1, 2, 3]) + t.suggest_float("b", 0.1, 10.0, log=True),
                   n_trials=9)
    seen = [(t.params["a"], round(t.params["b"], 9)) for t in study.trials]
    assert sorted(seen) == sorted((a, b) for a in (1, 2, 3) for b in (0.1, 1.0, 10.0))
    assert sampler.inner.is_exhausted(study)


def test_edge_warnings_flag_best_params_on_a_bound():
    from optuna.distributions import CategoricalDistribution, FloatDistribution
    from optuna.trial import create_trial

    from reprorec.tune.report import edge_warnings

    dists = {"reg": FloatDistribution(1e-3, 1.0, log=True), "lr": FloatDistribution(0.0, 1.0),
             "dim": CategoricalDistribution([16, 32, 64]), "opt": CategoricalDistribution(["adam", "sgd"])}
    on_edge = create_trial(params={"reg": 0.9, "lr": 0.5, "dim": 64, "opt": "adam"}, distributions=dists, value=1.0)
    texts = edge_warnings(on_edge)
    assert [t.split()[1] for t in texts] == ["reg", "dim"] and "high edge" in texts[0]
    low = create_trial(params={"reg": 1.1e-3, "lr": 0.01, "dim": 32, "opt": "sgd"}, distributions=dists, value=1.0)
    assert [t.split()[1] for t in edge_warnings(low)] == ["reg", "lr"]
    inside = create_trial(params={"reg": 0.03, "lr": 0.5, "dim": 32, "opt": "sgd"}, distributions=dists, value=1.0)
    assert edge_warnings(inside) == []


def test_exported_config_carries_the_edge_warnings_in_its_header(cfg_file):
    """The study's YAML is the report that outlives the console: a best value on a bound is written there."""
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    from reprorec.tune.report import edge_warnings, export_config

    spec = _spec(cfg_file, study="edgy")
    best = create_trial(params={"model.reg": 0.99}, distributions={"model.reg": FloatDistribution(1e-3, 1.0, log=True)},
                        value=0.9)
    tuned_from = {"study": "edgy", "n_trials": 1, "storage": "sqlite", "best_value": 0.9, "best_trial": 0,
                  "profile": "quick", "sampler": "tpe", "pruner": "none", "metric": "val/rmse"}
    path = export_config(cfg_file, {"model": {"reg": 0.99}}, tuned_from, spec, log=lambda *_: None,
                         warnings=edge_warnings(best))
    header = [line for line in path.read_text().splitlines() if line.startswith("# warning:")]
    assert len(header) == 1 and "model.reg = 0.99 is at the high edge" in header[0]
    assert C.load(path)["model"]["reg"] == 0.99  # a comment: the config (and its hash) is unchanged by it
    inside = export_config(cfg_file, {"model": {"reg": 0.05}}, {**tuned_from, "study": "inside"},
                           _spec(cfg_file, study="inside"), log=lambda *_: None)
    assert "# warning:" not in inside.read_text()
