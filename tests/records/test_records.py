"""Trustworthy records: one row per config, tampering detected, provenance, locks, faults, resume,
the tolerance policy. Each test is a probe from issue 20 and fails when its behaviour breaks.

Runs use criteo-900 logistic regression (900 rows, about a second an epoch) or biased MF cut to 2 epochs.
"""
from __future__ import annotations

import fcntl
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reprorec import config as C
from reprorec import leaderboard
from reprorec.records import check_record, iter_records, write_record
from reprorec.registry import find_config

REPO = Path(__file__).resolve().parents[2]
LOGREG = ["run", "baselines", "logreg", "--dataset", "criteo-900", "--set", "train.max_epochs=2", "--no-progress"]


def _cli(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "reprorec.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "REPRO_THREADS": "1", **(env or {})})


def _popen(*args):
    return subprocess.Popen([sys.executable, "-m", "reprorec.cli", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "REPRO_THREADS": "1"})


def _record(root: Path, seed: int, rmse: float, overrides=()) -> Path:
    """A biased-MF record of the committed quick config (plus ``overrides``), written with its digest."""
    cfg = C.resolve(C.load(find_config("baselines", "ml-100k", "biased-mf")), "quick", list(overrides))
    cfg = {k: v for k, v in cfg.items() if not k.startswith("_") and k not in ("profiles", "reference")}
    h = C.config_hash(cfg)
    rec = {"schema": 1, "paper": "baselines", "dataset": "ml-100k", "method": "biased-mf", "profile": "quick",
           "seed": seed, "tuned_from": None, "metrics": {"test": {"rmse": rmse}, "val": {"rmse": rmse}},
           "config": cfg, "config_hash": h, "wall_time_s": 1.0}
    return write_record(rec, root / "baselines" / "ml-100k" / "biased-mf" / "quick" / f"{seed}-{h}.json")


# ---------------------------------------------------------------- one row = one config; tampering

def test_two_configs_under_one_method_are_two_rows_labelled_by_what_differs(tmp_path):
    for seed, v in enumerate([0.90, 0.92]):
        _record(tmp_path / "r", seed, v)
    _record(tmp_path / "r", 0, 0.95, ["train.lr=0.5"])
    rows = [r for r in leaderboard.rows(tmp_path / "r") if r["base_method"] == "biased-mf"]
    assert len(rows) == 2 and len({r["config_hash"] for r in rows}) == 2
    main, variant = sorted(rows, key=lambda r: bool(r["variant"]))
    assert main["method"] == "biased-mf" and main["n"] == 2 and main["seeds"] == [0, 1]
    assert main["stats"]["test/rmse"][0] == pytest.approx(0.91)  # never averaged with the variant's 0.95
    assert variant["variant"] == ["train.lr=0.5"] and variant["method"] == "biased-mf [train.lr=0.5]"
    assert variant["n"] == 1 and variant["stats"]["test/rmse"][0] == 0.95
    leaderboard.build(tmp_path / "r", tmp_path / "lb")
    md = (tmp_path / "lb" / "baselines.md").read_text()
    assert f"| 0 1 | `{main['config_hash']}` |" in md and f"| 0 | `{variant['config_hash']}` |" in md
    assert "| biased-mf [train.lr=0.5] | 1 |" in md


def test_a_study_is_its_own_row_named_by_the_study(tmp_path):
    _record(tmp_path / "r", 0, 0.90)
    _record(tmp_path / "r", 0, 0.93, ["study.name=lam", "study.point={model.reg: 0.5}", "model.reg=0.5"])
    rows = sorted((r for r in leaderboard.rows(tmp_path / "r") if r["base_method"] == "biased-mf"),
                  key=lambda r: r["study"] or "")
    assert [r["study"] for r in rows] == [None, "lam"]
    assert rows[1]["method"] == "biased-mf · study lam [model.reg=0.5]"


def test_tampered_metrics_or_config_are_refused_naming_the_file(tmp_path, capsys):
    good = _record(tmp_path / "r", 0, 0.90)
    bad = _record(tmp_path / "r", 1, 0.92)
    rec = json.loads(bad.read_text())
    rec["metrics"]["test"]["rmse"] = 0.80  # a better number, edited by hand
    bad.write_text(json.dumps(rec))
    assert check_record(json.loads(good.read_text())) == []
    assert any("digest mismatch" in p for p in check_record(rec))
    refused = []
    (row,) = [r for r in leaderboard.rows(tmp_path / "r", refused) if r["base_method"] == "biased-mf"]
    assert row["seeds"] == [0] and row["stats"]["test/rmse"][0] == 0.90
    assert [p for p, _ in refused] == [str(bad)]
    leaderboard.build(tmp_path / "r", tmp_path / "lb")
    err = capsys.readouterr().err
    assert f"refused {bad}: metrics digest mismatch" in err and len(err.strip().splitlines()) == 1
    rec = json.loads(good.read_text())
    rec["config"]["train"]["lr"] = 0.5  # the config no longer matches the hash it is filed under
    assert any("config does not match config_hash" in p for p in check_record(rec))
    del rec["metrics"]
    assert check_record(rec) == ["field 'metrics' missing or not dict"]


def test_legacy_records_without_digest_are_shown_but_marked(tmp_path):
    path = _record(tmp_path / "r", 0, 0.9)
    rec = json.loads(path.read_text())
    del rec["digest"]
    path.write_text(json.dumps(rec))
    (row,) = [r for r in leaderboard.rows(tmp_path / "r") if r["base_method"] == "biased-mf"]
    assert row["legacy"] == 1
    leaderboard.build(tmp_path / "r", tmp_path / "lb")
    md = (tmp_path / "lb" / "baselines.md").read_text()
    assert "| biased-mf ‡ | 1 |" in md and "1 of 1 records here are legacy" in md


# ---------------------------------------------------------------- faults

@pytest.mark.slow
def test_read_only_results_folder_fails_before_training(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if os.access(ro, os.W_OK):  # root ignores the mode: a path under a regular file is unwritable for anyone
        (tmp_path / "file").write_text("")
        ro = tmp_path / "file" / "results"
    out = _cli(*LOGREG, "--set", "train.max_epochs=50", env={"REPRO_RESULTS_DIR": str(ro),
                                                                "REPRO_RUNS_DIR": str(tmp_path / "w")})
    assert out.returncode == 2 and "is not writable" in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not list((tmp_path / "w").rglob("metrics.csv"))  # no epoch was trained


@pytest.mark.slow
def test_nonexistent_data_dir_is_one_line_error(tmp_path):
    out = _cli("--data-dir", str(tmp_path / "nope"), *LOGREG)
    assert out.returncode == 2 and out.stderr.strip() == f"error: --data-dir {tmp_path / 'nope'}: no such directory"
    sh = subprocess.run(["./reproduce.sh", "all", "--data-dir", str(tmp_path / "nope")], cwd=REPO, text=True,
                        capture_output=True, env={**os.environ, "REPRO_NO_VENV": "1", "PYTHON": sys.executable})
    assert sh.returncode == 2 and sh.stderr.strip() == f"error: --data-dir {tmp_path / 'nope'}: no such directory"
    assert sh.stdout == ""


def test_truncated_unpinned_gz_is_one_dataset_error_naming_the_file(tmp_path):
    from reprorec.data import DatasetError, set_data_dir
    from reprorec.data.amazon import load_reviews

    (tmp_path / "amazon").mkdir()
    blob = gzip.compress(b'{"reviewerID": "u", "asin": "i", "overall": 5, "unixReviewTime": 1}\n' * 2000)
    bad = tmp_path / "amazon" / "reviews_Made_Up_5.json.gz"
    bad.write_bytes(blob[: len(blob) // 2])
    set_data_dir(tmp_path)
    try:
        with pytest.raises(DatasetError, match="unreadable file .*reviews_Made_Up_5.json.gz"):
            load_reviews("amazon-made-up")
    finally:
        set_data_dir(None)


# ---------------------------------------------------------------- concurrency

def _run_dir_and_lock(runs: Path, seed: int, overrides: list[str]) -> Path:
    h = C.config_hash(C.resolve(C.load(find_config("baselines", "criteo-900", "logreg")), "quick", overrides))
    run_dir = runs / "baselines" / "criteo-900" / "logreg" / "quick" / f"run-{seed}-{h}"
    return run_dir.with_name(run_dir.name + ".lock")


@pytest.mark.slow
def test_second_process_of_one_experiment_waits_for_the_lock(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RESULTS_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("REPRO_RUNS_DIR", str(tmp_path / "w"))
    lock = _run_dir_and_lock(tmp_path / "w", 0, ["train.max_epochs=2"])
    lock.parent.mkdir(parents=True)
    with open(lock, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as if another process were training this experiment
        proc = _popen(*LOGREG)
        line = proc.stdout.readline()
        assert "another process is running this experiment" in line and "waiting for it" in line, line
        assert proc.poll() is None  # it waits; it does not crash or train alongside
    rest = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, rest[-2000:]
    assert len(list((tmp_path / "r").rglob("*.json"))) == 1


@pytest.mark.slow
def test_two_identical_runs_at_once_give_one_record_and_no_error(tmp_path, monkeypatch):
    monkeypatch.setenv("REPRO_RESULTS_DIR", str(tmp_path / "r"))
    monkeypatch.setenv("REPRO_RUNS_DIR", str(tmp_path / "w"))
    procs = [_popen(*LOGREG) for _ in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert not any("Traceback" in o or "error:" in o for o in outs), outs
    assert sum("already done" in o for o in outs) == 1  # the loser says so, whichever way it lost
    (rec,) = list(iter_records(tmp_path / "r"))
    assert check_record(rec) == []


# ---------------------------------------------------------------- reproduce: fresh output, resume, report

def _reproduce(tmp_path, *extra, env=None):
    env = {**os.environ, "REPRO_NO_VENV": "1", "PYTHON": sys.executable, "REPRO_THREADS": "1",
           "REPRO_RESULTS_DIR": str(tmp_path / "committed"), "REPRO_RUNS_DIR": str(tmp_path / "runs"), **(env or {})}
    return subprocess.run(["./reproduce.sh", "baselines", "--only", "criteo-900-logreg", "--seeds", "1",
                           "--out", str(tmp_path / "out"), *extra], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_killed_reproduce_resumes_mid_run_and_reports_against_committed(tmp_path):
    # A committed record made by an uninterrupted run ...
    made = _cli("run", "baselines", "logreg", "--dataset", "criteo-900", "--no-progress",
                env={"REPRO_RESULTS_DIR": str(tmp_path / "committed"), "REPRO_RUNS_DIR": str(tmp_path / "w0")})
    assert made.returncode == 0, made.stderr[-2000:]
    # ... and a reproduction killed at the start of epoch 3, then run again: it resumes there.
    killed = _reproduce(tmp_path, env={"REPRO_FAULT_AT_EPOCH": "3"})
    assert killed.returncode == 137, killed.stdout[-2000:] + killed.stderr[-2000:]
    assert not list((tmp_path / "out").rglob("*.json"))
    again = _reproduce(tmp_path)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    assert "resuming from" in again.stdout and "last.ckpt" in again.stdout
    (rec,) = list(iter_records(tmp_path / "out" / "results"))
    (committed,) = list(iter_records(tmp_path / "committed"))
    assert rec["metrics"] == committed["metrics"] and rec["epochs"] == committed["epochs"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## reproduced exactly (1)\n\n- baselines/criteo-900/logreg/quick/0-" in report
    assert "Totals: 1 reproduced exactly, 0 reproduced within tolerance, 0 NOT reproduced" in report
    assert json.loads((tmp_path / "out" / "report.json").read_text())["totals"]["exact"] == 1


@pytest.mark.slow
def test_reproduce_regenerates_even_when_committed_records_exist_and_names_the_cause(tmp_path):
    made = _cli("run", "baselines", "logreg", "--dataset", "criteo-900", "--no-progress",
                env={"REPRO_RESULTS_DIR": str(tmp_path / "committed"), "REPRO_RUNS_DIR": str(tmp_path / "w0")})
    assert made.returncode == 0
    (path,) = list((tmp_path / "committed").rglob("*.json"))
    rec = json.loads(path.read_text())
    rec["hardware"]["torch_threads"] = 2  # as if recorded with 2 threads, and a metric off by rounding
    rec["metrics"]["test"]["auc"] *= 1 + 3e-7
    path.write_text(json.dumps(rec))
    out = _reproduce(tmp_path)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "1 run, 0 already done" in out.stdout  # not skipped because a committed record exists
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## reproduced within tolerance (1)\n\n- baselines/criteo-900/logreg/quick/0-" in report
    assert "recorded with 2 threads, now 1" in report and "metrics digest mismatch" in report


# ---------------------------------------------------------------- verify's tolerance policy

@pytest.mark.slow
def test_verify_states_its_tolerance_and_why_a_record_differs(tmp_path):
    env = {"REPRO_RESULTS_DIR": str(tmp_path / "r"), "REPRO_RUNS_DIR": str(tmp_path / "w")}
    assert _cli(*LOGREG, env=env).returncode == 0
    (path,) = list((tmp_path / "r").rglob("*.json"))
    exact = _cli("verify", str(path), env=env)
    assert exact.returncode == 0 and "tolerance: exact: same platform, threads and package versions" in exact.stdout
    assert "verdict: reproduced exactly" in exact.stdout
    rec = json.loads(path.read_text())
    rec["hardware"]["torch_threads"] = 2
    rec["metrics"]["val"]["auc"] *= 1 + 1e-6  # thread-order rounding
    path.write_text(json.dumps(rec))
    within = _cli("verify", str(path), env=env)
    assert within.returncode == 0, within.stdout
    assert "tolerance: relative tolerance 0.0001, because recorded with 2 threads, now 1" in within.stdout
    assert "verdict: reproduced within tolerance" in within.stdout
    rec["metrics"]["val"]["auc"] += 0.01  # a real difference
    path.write_text(json.dumps(rec))
    off = _cli("verify", str(path), env=env)
    assert off.returncode == 1 and "verdict: NOT reproduced; likely cause:" in off.stdout
    assert "metrics digest mismatch" in off.stdout


# ---------------------------------------------------------------- provenance

def test_audit_classifies_commit_trees_and_dirty(tmp_path):
    from reprorec.audit import classify

    commits, objects = {"c1"}, {"t1", "t2"}
    ok = {"code": {"commit": "c1", "dirty": False, "trees": {"reprorec": "zz"}}}
    rebased = {"code": {"commit": "gone", "dirty": False, "trees": {"reprorec": "t1", "reprorec/papers/x": "t2"}}}
    lost = {"code": {"commit": "gone", "dirty": False, "trees": {"reprorec": "t1", "reprorec/papers/x": "nope"}}}
    dirty = {"code": {"commit": "c1", "dirty": True, "trees": {}, "dirty_files": ["reprorec/x.py"]}}
    assert classify(ok, commits, objects)[0] == "ok"
    assert classify(rebased, commits, objects) == ("ok", "commit not in history, code trees are")
    assert classify(lost, commits, objects)[0] == "unknown-commit"
    assert classify(dirty, commits, objects)[0] == "dirty" and "reprorec/x.py" in classify(dirty, commits, objects)[1]
    assert classify({}, commits, objects)[0] == "no-provenance"


def test_dirty_means_code_or_configs_not_outputs_or_prose(tmp_path):
    from reprorec import records

    repo = tmp_path / "repo"
    (repo / "reprorec" / "papers" / "p" / "configs").mkdir(parents=True)
    (repo / "results").mkdir()
    (repo / "reprorec" / "a.py").write_text("x = 1\n")
    (repo / "reprorec" / "papers" / "p" / "configs" / "c.yaml").write_text("a: 1\n")
    (repo / "README.md").write_text("hi\n")
    git = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    git("-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "x")
    old = records.REPO_ROOT
    records.REPO_ROOT = repo
    try:
        assert records.dirty_files() == []
        (repo / "README.md").write_text("edited\n")
        (repo / "results" / "r.json").write_text("{}")
        (repo / "reprorec" / "papers" / "p" / "README.md").write_text("new\n")
        assert records.dirty_files() == []  # outputs and prose do not count
        (repo / "reprorec" / "papers" / "p" / "configs" / "c.yaml").write_text("a: 2\n")
        (repo / "reprorec" / "b.py").write_text("new module\n")  # untracked code counts
        assert records.dirty_files() == ["reprorec/b.py", "reprorec/papers/p/configs/c.yaml"]
        tuned = repo / "reprorec" / "papers" / "p" / "configs" / "tuned" / "studies"
        tuned.mkdir(parents=True)
        (tuned / "s.yaml").write_text("a: 3\n")  # a tuning command's fresh export: its records carry it whole
        (repo / "reprorec" / "papers" / "p" / "configs" / "new.yaml").write_text("a: 4\n")  # a new config: counts
        assert records.dirty_files() == ["reprorec/b.py", "reprorec/papers/p/configs/c.yaml",
                                         "reprorec/papers/p/configs/new.yaml"]
        git("-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
        git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "y")
        (tuned / "s.yaml").write_text("a: 5\n")  # editing a committed tuned config counts
        assert records.dirty_files() == ["reprorec/papers/p/configs/tuned/studies/s.yaml"]
    finally:
        records.REPO_ROOT = old


def test_run_from_a_dirty_tree_writes_to_scratch_saying_so(monkeypatch, tmp_path):
    from reprorec import records

    monkeypatch.delenv("REPRO_RESULTS_DIR")
    monkeypatch.setattr(records, "code_state", lambda paper=None: {"dirty": True, "dirty_files": ["reprorec/x.py"]})
    said = []
    assert records.output_results_dir(said.append) == records.REPO_ROOT / "results-scratch"
    assert said == ["[records] uncommitted code or configs (reprorec/x.py): writing records to results-scratch/, "
                    "not results/ (commit, then re-run, for a committable record)"]
    monkeypatch.setattr(records, "code_state", lambda paper=None: {"dirty": False})
    assert records.output_results_dir(said.append) == records.REPO_ROOT / "results"


def test_a_ctr_record_keeps_its_data_checksums_and_split_beside_the_methods_data_info(data_dir):
    """CTR methods add row counts to the record's data block; that must not drop the files' checksums or
    the split fingerprint (the claims layer pairs runs by it)."""
    from reprorec.experiment import run_experiment

    cfg = find_config("transra", "ml-100k-ctr", "backbone")  # the CTR backbone's run path (reprorec.ctr.run)
    rec = run_experiment(cfg, profile="quick", seed=0, overrides=["train.max_epochs=1"], write=False).record
    assert rec["data"]["files"] and all(len(sha) == 64 for sha in rec["data"]["files"].values())
    assert rec["data"]["split"]
    assert rec["data"]["rows"]["test"] > 0  # the method's own data info, beside them


def test_a_method_cannot_overwrite_the_records_provenance():
    from reprorec.records import build_record

    cfg = {"paper": "p", "dataset": "d", "method": "m"}
    with pytest.raises(ValueError, match="may not set"):
        build_record(cfg=cfg, config_hash="h", seed=0, metrics={}, data_files={"a": "0" * 64}, split_fingerprint="s",
                     wall_time_s=0.0, epochs=None, extra={"data": {"split": "other"}})
