"""Validated, layered configs: every mistake a user can make in a YAML file or a --set is refused in one
line naming the key, where it came from and what is allowed; a broken file never breaks other commands;
layering never changes the hash of an existing experiment."""
from __future__ import annotations

import shutil

import pytest

from reprorec import cli, registry
from reprorec import config as C

PAPERS = registry.PAPERS_DIR
MF = PAPERS / "baselines" / "configs" / "ml-100k-biased-mf.yaml"
RUN_MF = ["run", "baselines", "biased-mf", "--dataset", "ml-100k", "--no-record"]


def _one_error(capsys, argv) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("path", [p for paper in registry.papers() for p in registry.config_files(paper)],
                         ids=lambda p: f"{p.parent.parent.name}/{p.stem}")
def test_every_experiment_is_valid_under_every_profile(path):
    assert C.check_file(path) == []


def test_unknown_key_in_set_is_refused_naming_key_and_allowed(capsys):
    line = _one_error(capsys, RUN_MF + ["--set", "train.lrr=0.5"])
    assert line.startswith("error: train.lrr in --set train.lrr=0.5: unknown key; allowed: ")
    assert " lr, " in line and "weight_decay" in line


def _edited_mf(tmp_path, old: str, new: str):
    """The biased-MF experiment with one edit, copied with its folder's layers (defaults.yaml, _*.yaml)."""
    for layer in (p for p in MF.parent.glob("*.yaml") if C.is_layer(p)):
        (tmp_path / layer.name).write_text(layer.read_text())
    path = tmp_path / MF.name
    assert old in MF.read_text()
    path.write_text(MF.read_text().replace(old, new))
    return path


def test_unknown_key_in_yaml_names_the_file(tmp_path, capsys):
    path = _edited_mf(tmp_path, "train: {optimizer: adam,", "train: {lrr: 0.5, optimizer: adam,")
    line = _one_error(capsys, RUN_MF + ["--config", str(path)])
    assert line.startswith(f"error: train.lrr in {path}: unknown key; allowed: max_epochs")


def test_type_error_names_the_key_and_expected_type(capsys):
    line = _one_error(capsys, RUN_MF + ["--set", "train.lr=abc"])
    assert "train.lr in --set train.lr=abc" in line and "valid number" in line and "'abc'" in line


def test_range_and_choice_errors(capsys):
    line = _one_error(capsys, RUN_MF + ["--set", "train.batch_size=0"])
    assert "train.batch_size in --set train.batch_size=0" in line and "greater than or equal to 1" in line
    raw = C.load(MF)
    (msg,) = C.validate_config(C.resolve(raw, "quick", ["train.optimizer=rmsprop"]))
    assert msg.startswith("train.optimizer in --set train.optimizer=rmsprop: should be 'adam', 'adamw'")
    (msg,) = C.validate_config(C.resolve(raw, "quick", ["model.dim=1.5"]))
    assert msg.startswith("model.dim in ") and "integer" in msg


def test_profile_value_is_blamed_on_the_profile_block(tmp_path):
    path = _edited_mf(tmp_path, "quick: {train: {max_epochs: 8,", "quick: {train: {max_epochs: -1,")
    (msg,) = C.validate_config(C.resolve(C.load(path), "quick"))
    assert msg.startswith(f"train.max_epochs in {path} (profiles.quick): should be greater than or equal to 1")
    assert C.validate_config(C.resolve(C.load(path), "full")) == []


def test_malformed_yaml_is_one_line_and_list_still_works(tmp_path, capsys, monkeypatch):
    bad = tmp_path / "zz-broken.yaml"
    bad.write_text("paper: baselines\ndataset: ml-100k\nmethod: [biased-mf\ntrain: {lr: 1}\n")
    with pytest.raises(C.ConfigError) as exc:
        C.load(bad)
    assert str(exc.value).startswith(f"{bad}:4:") and "malformed YAML" in str(exc.value)
    assert "\n" not in str(exc.value)
    real = registry.config_files
    monkeypatch.setattr(registry, "config_files", lambda paper: real(paper) + ([bad] if paper == "baselines" else []))
    assert cli.main(["list"]) == 0
    out, err = capsys.readouterr()
    assert "experiment ml-100k-biased-mf" in out and "experiment criteo-900-logreg" in out
    assert err.strip().splitlines() == [f"warning: skipped {exc.value}"]
    # a run of another experiment of the same paper is not affected by the broken file
    assert registry.find_config("baselines", "ml-100k", "biased-mf") == MF


def test_unknown_profile_is_an_error(capsys):
    with pytest.raises(C.ConfigError, match="unknown profile 'sweep-R8-B128'.*known: full, quick"):
        C.resolve(C.load(MF), "sweep-R8-B128")
    assert C.resolve(C.load(PAPERS / "spider" / "configs" / "dblp-spider-vec.yaml"), "prefix")["profile"] == "prefix"


def test_recorded_config_carries_no_schema_defaults():
    """Defaults live in the schema and are filled in when code reads the config, never written into it:
    the recorded (hashed) config is exactly layers + profile + overrides."""
    cfg = C.resolve(C.load(MF), "quick")
    assert "eval_batch_size" not in cfg["train"] and "split_seed" not in cfg["data"]
    s = C.settings(cfg)
    assert s.train.eval_batch_size == 8192 and s.data.split_seed is None and s.train.lr == 0.01


# Hashes of committed records (results/<paper>/<dataset>/<method>/<profile>/<seed>-<hash>.json): the
# config files that made them must still resolve to them, whatever layering the files use.
PINNED = [("baselines", "ml-100k-biased-mf", "quick", "05437ca5ce25"),
          ("baselines", "ml-100k-biased-mf", "full", "b3b5d02a5cb0"),
          ("r3", "amazon-musical-instruments-r3", "full", "487ff716f14e"),
          ("transra", "ml-100k-ctr-kge-init", "full", "bdfdb7df0249"),
          ("spider", "dblp-post", "prefix", "b98577753625"),
          ("mflet", "ml-100k-ctr-both", "full", "451a61b29786")]


@pytest.mark.parametrize("paper,name,profile,expected", PINNED)
def test_committed_record_hashes_still_resolve(paper, name, profile, expected):
    assert C.config_hash(C.resolve(C.load(PAPERS / paper / "configs" / f"{name}.yaml"), profile)) == expected


def test_layers_and_extends_resolve_like_the_flat_file(tmp_path):
    flat = C.load(MF)
    (tmp_path / "defaults.yaml").write_text("paper: baselines\nmetric: {name: rmse, mode: min}\n"
                                            "train: {optimizer: adam, patience: 3}\nprofiles: {full: {}}\n")
    (tmp_path / "_mf.yaml").write_text("model: {dim: 64, reg: 0.05}\ntrain: {lr: 0.005, batch_size: 1024}\n"
                                       "data: {split: {kind: random, ratios: [0.8, 0.1, 0.1]}}\n")
    child = {k: flat[k] for k in ("dataset", "method", "source", "leaderboard_note", "reference")}
    child["train"] = {"max_epochs": 40}
    child["profiles"] = {"quick": {"train": {"max_epochs": 8, "batch_size": 2048, "lr": 0.01}}}
    import yaml

    (tmp_path / "ml-100k-biased-mf.yaml").write_text("extends: _mf.yaml\n" + yaml.safe_dump(child))
    layered = C.load(tmp_path / "ml-100k-biased-mf.yaml")
    assert not C.is_layer(tmp_path / "ml-100k-biased-mf.yaml") and C.is_layer(tmp_path / "_mf.yaml")
    for profile in ("quick", "full"):
        assert C.config_hash(C.resolve(layered, profile)) == C.config_hash(C.resolve(flat, profile))
    # a value set in a layer is blamed on that layer
    (tmp_path / "_mf.yaml").write_text((tmp_path / "_mf.yaml").read_text().replace("dim: 64", "dim: 0"))
    (msg,) = C.validate_config(C.resolve(C.load(tmp_path / "ml-100k-biased-mf.yaml"), "full"))
    assert msg.startswith(f"model.dim in {tmp_path / '_mf.yaml'}: should be greater than or equal to 1")


def test_extends_cycle_is_one_line(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\npaper: p\ndataset: d\nmethod: m\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(C.ConfigError, match="extends itself"):
        C.load(tmp_path / "a.yaml")


def test_a_record_config_failing_its_schema_is_reported():
    """validate_config is what the leaderboard and verify call on a record's stored config."""
    rec_cfg = C.hashed_part(C.resolve(C.load(MF), "quick"))
    assert C.validate_config(rec_cfg) == []
    rec_cfg["train"] = {**rec_cfg["train"], "lrr": 1}
    (msg,) = C.validate_config(rec_cfg)
    assert msg.startswith("train.lrr in ") and "unknown key" in msg
    (msg,) = C.validate_config({**rec_cfg, "method": "nope"})
    assert "unknown" in msg and "'nope'" in msg


def test_copied_configs_folder_does_not_need_the_repo(tmp_path):
    """A layered experiment copied with its layers elsewhere resolves the same (layers are relative)."""
    src = PAPERS / "baselines" / "configs"
    dst = tmp_path / "configs"
    shutil.copytree(src, dst)
    for path in registry.config_files("baselines"):
        a, b = C.load(path), C.load(dst / path.name)
        assert C.config_hash(C.resolve(a, "full")) == C.config_hash(C.resolve(b, "full"))


def test_every_committed_record_hash_resolves_from_its_experiment():
    """A committed record's config hash is reproducible from the experiment file it names (and its study):
    a config edit that would silently orphan records fails here. Tuning trials and tuned runs belong to
    their tuning study and are checked by the tuning tests instead."""
    from reprorec import studies
    from reprorec.records import REPO_ROOT, iter_records

    checked, wrong, loaded = 0, [], {}
    for rec in iter_records(REPO_ROOT / "results"):
        if "config" not in rec or rec.get("trial") is not None or rec.get("tuned_from"):
            continue  # trials and tuned runs: their configs are the tuning study's (tests/tune/test_tune.py)
        cfg = rec["config"]
        study = None
        if cfg.get("study"):
            st = studies.load(rec["paper"], cfg["study"]["name"])
            study = st.resolution(rec["profile"], cfg["study"].get("point"))
        path = REPO_ROOT / rec["config_file"]
        if not path.exists():  # records made before papers/ moved into the package
            path = REPO_ROOT / "reprorec" / rec["config_file"]
        if path not in loaded:
            loaded[path] = C.load(path)
        resolved = C.resolve(loaded[path], rec["profile"], study=study)
        if cfg.get("execution"):
            resolved["execution"] = cfg["execution"]
        checked += 1
        if C.config_hash(resolved) != rec["config_hash"]:
            wrong.append(rec["_path"])
    assert checked > 500 and not wrong, wrong[:5]
