import json
import os

import pytest

from reprorec import config as C
from reprorec.records import RecordExists, record_path, write_record


def test_override_parsing_and_profile_merge(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("paper: p\ndataset: d\nmethod: m\ntrain: {lr: 0.1, max_epochs: 10}\n"
                    "profiles: {quick: {train: {max_epochs: 2}}}\nreference: [{metric: rmse, value: 1}]\n")
    raw = C.load(path)
    cfg = C.resolve(raw, "quick", ["train.lr=0.01", "model.dims=[8, 4]"])
    assert cfg["train"] == {"lr": 0.01, "max_epochs": 2} and cfg["model"]["dims"] == [8, 4]
    full = C.resolve(raw, "full")
    assert full["train"]["max_epochs"] == 10
    assert C.config_hash(cfg) != C.config_hash(full)
    # the hash ignores key order and the reference block
    shuffled = dict(reversed(list(cfg.items())))
    shuffled["reference"] = [{"metric": "rmse", "value": 2}]
    assert C.config_hash(shuffled) == C.config_hash(cfg)
    with pytest.raises(ValueError, match="key.path=value"):
        C.parse_override("train.lr")


def test_record_is_atomic_and_never_overwritten(tmp_path):
    path = record_path("p", "d", "m", "quick", 0, "abc", root=tmp_path)
    write_record({"x": 1}, path)
    with pytest.raises(RecordExists):
        write_record({"x": 2}, path)
    assert {k: v for k, v in json.loads(path.read_text()).items() if k != "digest"} == {"x": 1}
    assert [p.name for p in path.parent.iterdir()] == ["0-abc.json"]  # no temp files left behind
    assert path.stat().st_mode & 0o777 == 0o644  # shared files: readable by everyone


def test_source_fingerprint_changes_with_the_code_it_covers(tmp_path, monkeypatch):
    from reprorec import records

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "other.py").write_text("y = 1\n")
    monkeypatch.setattr(records, "REPO_ROOT", tmp_path)
    before = records.source_fingerprint("pkg")
    (tmp_path / "other.py").write_text("y = 2\n")
    assert records.source_fingerprint("pkg") == before  # code outside the paths does not matter
    (tmp_path / "pkg" / "a.py").write_text("x = 2\n")
    assert records.source_fingerprint("pkg") != before
