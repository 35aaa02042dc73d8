"""The whole path: determinism, kill + resume, reproduce.sh end to end, byte-identical leaderboards."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reprorec import leaderboard, wording
from reprorec.experiment import run_experiment
from reprorec.records import iter_records
from reprorec.registry import find_config
from reprorec.train import RunContext

REPO = Path(__file__).resolve().parents[2]
TINY_MF = ["model.dim=8", "train.max_epochs=4", "train.patience=0", "train.batch_size=4096"]


def _cli(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "reprorec.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_same_seed_gives_identical_metrics():
    cfg = find_config("baselines", "ml-100k", "biased-mf")
    ctx = RunContext(progress=False)
    a = run_experiment(cfg, seed=7, overrides=TINY_MF, ctx=ctx, write=False)
    b = run_experiment(cfg, seed=7, overrides=TINY_MF, ctx=ctx, write=False)
    c = run_experiment(cfg, seed=8, overrides=TINY_MF, ctx=ctx, write=False)
    assert a.record["metrics"] == b.record["metrics"]
    assert a.record["data"]["split"] == b.record["data"]["split"] != c.record["data"]["split"]
    assert a.record["metrics"]["test"]["rmse"] != c.record["metrics"]["test"]["rmse"]


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_numbers(tmp_path):
    sets = [a for s in TINY_MF for a in ("--set", s)]
    base = ["run", "baselines", "biased-mf", "--dataset", "ml-100k", "--seed", "3", *sets]
    full = _cli(*base, env={"REPRO_RESULTS_DIR": str(tmp_path / "r1"), "REPRO_RUNS_DIR": str(tmp_path / "w1")})
    assert full.returncode == 0, full.stderr[-2000:]
    killed_env = {"REPRO_RESULTS_DIR": str(tmp_path / "r2"), "REPRO_RUNS_DIR": str(tmp_path / "w2")}
    killed = _cli(*base, env={**killed_env, "REPRO_FAULT_AT_EPOCH": "2"})
    assert killed.returncode == 137  # died at the start of epoch 2, after epoch 1's checkpoint
    assert not list((tmp_path / "r2").rglob("*.json"))  # no record from a killed run
    assert list((tmp_path / "w2").rglob("last.ckpt"))
    resumed = _cli(*base, "--resume", env=killed_env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    (r1,), (r2,) = list(iter_records(tmp_path / "r1")), list(iter_records(tmp_path / "r2"))
    assert r1["metrics"] == r2["metrics"] and r1["epochs"] == r2["epochs"] == 4


def test_record_has_full_provenance():
    out = run_experiment(find_config("baselines", "criteo-900", "logreg"), seed=0, ctx=RunContext(progress=False),
                         overrides=["train.max_epochs=2"])
    rec = json.loads(out.path.read_text())
    assert set(rec["metrics"]) == {"val", "test"} and {"auc", "logloss"} <= set(rec["metrics"]["test"])
    assert rec["data"]["files"] == {"criteo/pytorch_deepfm_raw/train.txt":
                                    "cf3ba5d474719356a45adc042c31c54a8ef4093093b7bf9e146237fa789d66c7"}
    assert len(rec["data"]["split"]) == 16 and len(rec["config_hash"]) == 12
    assert rec["config"]["train"]["max_epochs"] == 2 and rec["config_file"].endswith("criteo-900-logreg.yaml")
    assert {"commit", "dirty"} <= set(rec["code"]) and rec["env"]["torch"] and rec["hardware"]["cpu"]
    assert rec["wall_time_s"] > 0 and rec["epochs"] == 2 and rec["profile"] == "quick"
    again = run_experiment(find_config("baselines", "criteo-900", "logreg"), seed=0, overrides=["train.max_epochs=2"])
    assert again.status == "skipped"  # an existing record means the run is done


@pytest.mark.slow
def test_reproduce_sh_runs_one_experiment_end_to_end(tmp_path):
    env = {**os.environ, "REPRO_NO_VENV": "1", "PYTHON": sys.executable,
           "REPRO_RESULTS_DIR": str(tmp_path / "results"), "REPRO_RUNS_DIR": str(tmp_path / "runs"),
           "REPRO_LEADERBOARDS_DIR": str(tmp_path / "leaderboards")}
    proc = subprocess.run(["./reproduce.sh", "baselines", "--only", "criteo-900-logreg", "--seeds", "2", "--reuse"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "2 run, 0 already done, 0 failed" in proc.stdout
    recs = list(iter_records(tmp_path / "results"))
    assert sorted(r["seed"] for r in recs) == [0, 1]
    assert "criteo-900" in (tmp_path / "leaderboards" / "baselines.md").read_text()  # not the repo's leaderboards/
    help_ = subprocess.run(["./reproduce.sh", "--help"], cwd=REPO, capture_output=True, text=True)
    assert help_.returncode == 0 and "--profile quick|full" in help_.stdout


def test_reproduce_keeps_going_and_names_failures(tmp_path, monkeypatch):
    from reprorec import experiment

    cfgs = [find_config("baselines", "criteo-900", "logreg"), tmp_path / "broken.yaml"]
    (tmp_path / "broken.yaml").write_text("paper: baselines\ndataset: criteo-900\nmethod: no-such-method\n")
    monkeypatch.setattr(experiment, "experiments", lambda paper, use_tuned=False: cfgs)
    outs = experiment.reproduce(["baselines"], "quick", [0], ctx=RunContext(progress=False), log=lambda *_: None)
    assert [o.status for o in outs] == ["done", "failed"]
    assert "no-such-method" in outs[1].error


def _fake_record(root: Path, seed: int, rmse: float, method="biased-mf", overrides=(), profile="quick") -> Path:
    """A record of the committed config of biased-mf (``profile``, plus ``overrides``), or of a method without one."""
    from reprorec import config as C
    from reprorec.records import write_record

    if method == "biased-mf":
        cfg = C.resolve(C.load(find_config("baselines", "ml-100k", method)), profile, list(overrides))
        cfg = {k: v for k, v in cfg.items() if not k.startswith("_") and k not in ("profiles", "reference")}
    else:
        cfg = {"metric": {"name": "rmse", "mode": "min"}, "method": method}
    rec = {"schema": 1, "paper": "baselines", "dataset": "ml-100k", "method": method, "profile": profile, "seed": seed,
           "tuned_from": None, "metrics": {"test": {"rmse": rmse, "mae": rmse - 0.2}, "val": {"rmse": rmse - 0.01}},
           "config": cfg, "config_hash": C.config_hash(cfg), "wall_time_s": 1.0}
    return write_record(rec, root / "baselines" / "ml-100k" / method / profile / f"{seed}-{C.config_hash(cfg)}.json")


def test_leaderboard_stats_reference_and_byte_identical_rebuild(tmp_path):
    for seed, v in enumerate([0.90, 0.92, 0.94]):
        _fake_record(tmp_path / "results", seed, v)
    _fake_record(tmp_path / "results", 0, 0.80, method="better")
    _fake_record(tmp_path / "results", 0, 0.91, profile="full")
    out = tmp_path / "lb"
    leaderboard.build(tmp_path / "results", out)
    first = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    shutil.rmtree(out)
    leaderboard.build(tmp_path / "results", out)
    second = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert first == second and "baselines-ml-100k-quick.png" in first
    md = first["baselines.md"].decode()
    assert "| 1 | better | 1 | 0.8000 |" in md  # ranked first, lower RMSE
    assert "| 2 | biased-mf | 3 | 0.9200 ± 0.0200 |" in md  # mean ± sample std
    quick, full = md.split("## ml-100k · profile `quick`")[1], md.split("## ml-100k · profile `full`")[1].split("## ")[0]
    # the reference, from the config file, in its own column; only beside the setting it describes (full)
    assert "0.9340 — scikit-surprise SVD" in full and "scikit-surprise" not in quick
    csv_text = first["baselines.csv"].decode()
    assert "baselines,ml-100k,quick,biased-mf,test,rmse,0.92,0.02,3,0 1 2," in csv_text
    # the site's wording (reprorec.wording): what the profile means, what it changed per experiment, and that
    # the notes describe the full setting
    assert f"- `quick`: {wording.PROFILE_MEANING['quick']}" in md and "`quick`" in first["README.md"].decode()
    assert "- `train.batch_size=2048, train.lr=0.01, train.max_epochs=8`: biased-mf" in md
    assert "- none (the config as written): better" in md
    assert wording.NOTES_FULL_SETTING.format(profile="quick") in md
    assert "> `biased-mf`: Our split is a random 8:1:1 split" in md


def test_leaderboard_notes_share_their_tail_and_tie_labels_to_experiments():
    sect = [{"base_method": "backbone", "note": "(a) backbone: plain. Same data."},
            {"base_method": "backbone-pretrain", "note": "(a') control: (a) on more rows. Same data."},
            {"base_method": "backbone-pretrain", "note": "(a') control: (a) on more rows. Same data."}]
    assert leaderboard._notes(sect) == ["\nAll rows: Same data.", "\n> `backbone`: (a) backbone: plain.",
                                        "\n> `backbone-pretrain`: (a') control: (a = `backbone`) on more rows."]


@pytest.mark.slow
def test_verify_reruns_a_record_and_matches(tmp_path):
    sets = [a for s in ["train.max_epochs=2"] for a in ("--set", s)]
    env = {"REPRO_RESULTS_DIR": str(tmp_path / "r"), "REPRO_RUNS_DIR": str(tmp_path / "w")}
    made = _cli("run", "baselines", "logreg", "--dataset", "criteo-900", "--seed", "1", *sets, env=env)
    assert made.returncode == 0, made.stderr[-2000:]
    (rec,) = list((tmp_path / "r").rglob("*.json"))
    check = _cli("verify", str(rec), env=env)
    assert check.returncode == 0, check.stdout + check.stderr[-2000:]
    assert "config hash matches; max |diff| = 0" in check.stdout
    # a folder: one record per method by default, every record with --all; a wrong number is named
    assert _cli("run", "baselines", "logreg", "--dataset", "criteo-900", "--seed", "2", *sets, env=env).returncode == 0
    (other,) = [p for p in (tmp_path / "r").rglob("*.json") if p != rec]
    data = json.loads(other.read_text())
    data["metrics"]["test"]["auc"] += 0.01
    other.chmod(0o644)
    other.write_text(json.dumps(data))
    one = _cli("verify", str(tmp_path / "r"), env=env)
    assert one.returncode == 0 and "1/1 records reproduced" in one.stdout, one.stdout[-2000:]
    every = _cli("verify", str(tmp_path / "r"), "--all", env=env)
    assert every.returncode == 1 and "1/2 records reproduced" in every.stdout
    assert f"NOT reproduced: {other} (max |diff| 0.01)" in every.stdout


def test_leaderboard_shows_references_on_every_metric():
    from reprorec.leaderboard import reference_texts

    refs = [{"metric": "auc", "value": 0.8, "source": "A"},
            {"metric": "auc_gain_pct", "value": 0.09, "source": "B", "note": "relative gain"}]
    assert reference_texts(refs, "auc") == ["0.8000 — A", "auc_gain_pct 0.0900 — B (relative gain)"]


def test_reproduce_a_profile_some_configs_define_runs_those_experiments_only(monkeypatch):
    from reprorec import config as C
    from reprorec import experiment as E
    from reprorec.registry import config_files

    ran = []
    monkeypatch.setattr(E, "run_experiment", lambda cfg, profile, seed, **kw: ran.append((Path(cfg), profile, seed))
                        or E.Outcome(Path(cfg).name, "done"))
    E.reproduce(["spider"], "prefix", [0, 1], log=lambda *a: None)
    defines = [p for p in config_files("spider") if "prefix" in (C.load(p).get("profiles") or {})]
    assert defines and len(defines) < len(config_files("spider"))
    assert ran == [(p, "prefix", s) for p in defines for s in (0, 1)]
    with pytest.raises(C.ConfigError, match="unknown profile 'nope': no experiment of spider defines it"):
        E.reproduce(["spider"], "nope", [0], log=lambda *a: None)
