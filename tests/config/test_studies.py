"""Studies: a named variant is declared in YAML, is part of the config (so of the hash), writes its
records under <profile>/study-<name>/, and is its own leaderboard row; unknown names are errors."""
from __future__ import annotations

import json

import pytest

from reprorec import cli, registry, studies
from reprorec import config as C
from reprorec.records import results_dir

LOGREG = ["baselines", "logreg", "--dataset", "criteo-900", "--set", "train.max_epochs=1"]


@pytest.fixture
def study_dir(tmp_path, monkeypatch):
    d = tmp_path / "studies"
    d.mkdir()
    (d / "l2.yaml").write_text("name: l2\ndescription: stronger L2\napplies_to: {methods: [logreg]}\n"
                               "set: {model: {l2: 0.01}}\n")
    (d / "lr.yaml").write_text("name: lr\ndescription: two rates\ngrid: {train.lr: [0.01, 0.05]}\n")
    (d / "typo.yaml").write_text("name: typo\nset: {model: {l22: 1}}\n")
    monkeypatch.setattr(studies, "studies_dir", lambda paper: d)
    return d


def test_study_run_is_recorded_under_its_name_with_study_in_the_config(study_dir, capsys):
    assert cli.main(["run", *LOGREG, "--study", "l2"]) == 0
    (path,) = (results_dir() / "baselines" / "criteo-900" / "logreg" / "quick" / "study-l2").glob("*.json")
    rec = json.loads(path.read_text())
    assert rec["config"]["study"] == {"name": "l2"} and rec["config"]["model"]["l2"] == 0.01
    assert path.name == f"0-{rec['config_hash']}.json"
    main_cfg = C.resolve(C.load(registry.find_config("baselines", "criteo-900", "logreg")), "quick",
                         ["train.max_epochs=1"])
    assert "study" not in main_cfg
    assert C.config_hash(C.deep_merge(main_cfg, {"model": {"l2": 0.01}})) != rec["config_hash"]  # the name counts
    assert studies.label(rec) == "l2"


def test_grid_points_are_labelled_and_part_of_the_config(study_dir, capsys):
    st = studies.load("baselines", "lr")
    assert [studies.point_label(p) for p in st.points] == ["train.lr=0.01", "train.lr=0.05"]
    assert cli.main(["sweep", "baselines", "lr", "--dataset", "criteo-900", "--profile", "quick", "--list"]) == 0
    assert "criteo-900-logreg train.lr=0.05 seed=0" in capsys.readouterr().out
    cfg = C.resolve(C.load(registry.find_config("baselines", "criteo-900", "logreg")), "quick",
                    study=st.resolution("quick", st.point("train.lr=0.05")))
    assert cfg["train"]["lr"] == 0.05 and cfg["study"] == {"name": "lr", "point": {"train.lr": 0.05}}
    assert studies.label(cfg) == "lr: train.lr=0.05" and C.validate_config(cfg) == []
    with pytest.raises(C.ConfigError, match="choose --point from train.lr=0.01, train.lr=0.05"):
        st.point(None)
    with pytest.raises(C.ConfigError, match="no point 'train.lr=0.5'"):
        st.point("train.lr=0.5")


def test_unknown_study_and_bad_study_keys_are_one_line_errors(study_dir, capsys):
    for argv, expected in [(["run", *LOGREG, "--study", "nope"], "error: unknown study 'nope' for paper 'baselines'; "
                                                                  "known: l2, lr, typo"),
                           (["run", *LOGREG, "--study", "typo"], "error: model.l22 in "),
                           (["run", *LOGREG, "--study", "l2", "--point", "x=1"], "error: study 'l2' has no grid")]:
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(expected), err
    assert "(study typo)" in C.validate_config(C.resolve(
        C.load(registry.find_config("baselines", "criteo-900", "logreg")), "quick",
        study=studies.load("baselines", "typo").resolution("quick", None)))[0]


def test_declared_studies_load_and_apply_to_experiments():
    """Every study shipped with a paper parses, applies to at least one experiment, and every one of its
    runs validates under the method's schema."""
    found = 0
    for paper in registry.papers():
        for name in studies.names(paper):
            st = studies.load(paper, name)
            for path, point in studies.jobs(st):
                raw = C.load(path)
                for profile in C.profiles_of(raw):
                    assert C.validate_config(C.resolve(raw, profile, study=st.resolution(profile, point))) == []
                found += 1
    assert found > 0


def test_spider_rank_batch_points_match_the_old_sweep_cells():
    st = studies.load("spider", "rank-batch")
    cells = {(p["model.rank"], p["train.batch_size"]) for p in st.points}
    assert cells == {(r, 128) for r in (3, 5, 8, 10)} | {(8, b) for b in (64, 128, 256, 512)}


def test_experiments_narrow_a_study_to_some_experiments_of_a_method():
    """rand-kge replaces TransRA's KGE by random vectors of its shape: it runs only the kge-attention
    experiment whose KGE is TransRA, not those fed by TransE/TransR (method kge-attention all the same)."""
    st = studies.load("transra", "rand-kge")
    runs = studies.jobs(st)
    assert sorted(registry.experiment_name({**C.load(p), "_file": str(p)}) for p, _ in runs) == \
        ["kge-attention-transra"] * 2
    assert st.applies("ml-100k-ctr", "kge-attention", "kge-attention-transra")
    assert not st.applies("ml-100k-ctr", "kge-attention", "kge-attention-transr")
    assert studies.load("r3", "lambda").applies("amazon-musical-instruments", "r3", "r3")  # no list: every experiment


def test_run_refuses_an_experiment_the_study_does_not_apply_to(capsys):
    """`run --study` and `sweep` share one check: time-negatives is Amazon-only and not for TransE's (d);
    the refusal is one line naming the study's applies_to, before anything trains."""
    st = studies.load("transra", "time-negatives")
    for dataset, experiment in [("ml-100k-ctr", "backbone"), ("amazon-musical-instruments-ctr", "kge-attention-transe")]:
        assert cli.main(["run", "transra", experiment, "--dataset", dataset, "--study", "time-negatives"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: study 'time-negatives' does not apply to {experiment} on {dataset}: its applies_to is "
                       f"datasets amazon-musical-instruments-ctr; experiments {', '.join(st.experiments)}"], err
    ok = registry.find_config("transra", "amazon-musical-instruments-ctr", "kge-init")
    st.require(ok, C.load(ok))  # (c) runs under time-consistent negatives too
    assert ok in [p for p, _ in studies.jobs(st)]
    with pytest.raises(C.ConfigError, match="applies to no experiment"):
        studies.jobs(st, dataset="ml-100k-ctr")
