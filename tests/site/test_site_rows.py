"""Rows, cite, export and the site builder on a small synthetic results/ tree (no browser)."""
from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path

import pytest

from reprorec import config as C
from reprorec.site import build, cite
from reprorec.wording import link_labels, split_notes
from reprorec.site.rows import rows, t_interval


def _rec(root: Path, seed: int, mse: float, *, method="r3", profile="full", dim=8, study=None, tuned=None,
         trial=False, note="") -> Path:
    cfg = {"paper": "r3", "dataset": "ml-100k", "method": method, "profile": profile, "model": {"max_features": dim}, "train": {"lr": 0.01},
           "metric": {"name": "mse", "mode": "min"}, "leaderboard_note": note}
    if study:
        cfg["study"] = {"name": study, "point": {"model.max_features": dim}}
    chash = C.config_hash(cfg)
    sub = f"study-{study}/" if study else ("tuned/" if tuned else ("trial-s/" if trial else ""))
    path = root / "r3" / "ml-100k" / method / profile / sub / f"{seed}-{chash}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = {"schema": 1, "paper": "r3", "dataset": "ml-100k", "method": method, "profile": profile, "seed": seed,
           "tuned_from": tuned, "metrics": {"test": {"mse": mse, "mae": mse / 2}, "val": {"mse": mse + 0.1}},
           "config": cfg, "config_hash": chash, "config_file": f"reprorec/papers/r3/configs/ml-100k-{method}.yaml",
           "data": {"files": {"movielens/ml-100k/u.data": "ab" * 32}, "split": "f00d"},
           "code": {"commit": "c0ffee", "dirty": False}, "wall_time_s": 1.0, "epochs": 3}
    if trial:
        rec["trial"] = 0
    path.write_text(json.dumps(rec))
    return path


HASH = {}


@pytest.fixture
def results(tmp_path):
    root = tmp_path / "res"
    for s, v in enumerate([0.90, 0.92, 0.94]):
        HASH["main"] = _rec(root, s, v, note="(a) backbone: the plain model. Same data for all.").name.split("-")[1][:12]
    for s, v in enumerate([0.80, 0.84]):
        _rec(root, s, v, method="deepconn", note="(b) (a) plus reviews. Same data for all.")
    HASH["study"] = _rec(root, 0, 0.70, study="wide", dim=64).name.split("-")[1][:12]
    HASH["tuned"] = _rec(root, 0, 0.60, tuned={"study": "opt", "n_trials": 5}, dim=32).name.split("-")[1][:12]
    _rec(root, 0, 0.10, trial=True, dim=16)
    return root


def test_t_interval_matches_the_textbook_formula():
    s = t_interval([1.0, 2.0, 4.0])
    mean, sd = 7 / 3, math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)
    half = 4.302652729911275 * sd / math.sqrt(3)  # t_{0.975, 2}
    assert (s.mean, s.n) == (pytest.approx(mean), 3) and s.std == pytest.approx(sd)
    assert (s.lo, s.hi) == (pytest.approx(mean - half), pytest.approx(mean + half))
    assert t_interval([5.0]).lo is None


def test_rows_split_by_study_tuned_and_hash_and_drop_trials(results):
    rs = rows(results_root=results)
    keys = sorted((r.method, r.study or "", bool(r.tuned), len(r.records)) for r in rs)
    assert keys == [("deepconn", "", False, 2), ("r3", "", False, 3), ("r3", "", True, 1), ("r3", "wide", False, 1)]
    main = next(r for r in rs if r.config_hash == HASH["main"])
    assert main.stats["test/mse"].mean == pytest.approx(0.92) and main.seeds == [0, 1, 2]
    s = t_interval([0.90, 0.92, 0.94])
    assert (main.stats["test/mse"].lo, main.stats["test/mse"].hi) == (pytest.approx(s.lo), pytest.approx(s.hi))
    study = next(r for r in rs if r.study).regenerate()
    assert study == [f"reprorec verify {study[0].split()[-1]}"] and study[0].endswith(".json")
    assert main.regenerate()[1] == "reprorec verify " + " ".join(main.record_paths) and len(main.record_paths) == 3
    assert "--tuned" in next(r for r in rs if r.tuned).regenerate()[0]
    assert all(r.records for r in rs) and {h for r in rs for h in [r.config_hash]} >= set(HASH.values())


def test_notes_share_their_tail_and_labels_name_methods():
    per_row, shared = split_notes(["(a) backbone: plain. Same data.", "(b) (a) plus reviews. Same data."])
    assert per_row == ["(a) backbone: plain.", "(b) (a) plus reviews."] and shared == "Same data."
    html = link_labels("(b) (a) plus reviews <x>", {"a": "r3", "b": "deepconn"}, "html")
    assert "(a = <code>r3</code>)" in html and "(b = <code>deepconn</code>)" in html and "&lt;x&gt;" in html


def test_cite_gives_value_interval_provenance_regenerate_and_bibtex(results, monkeypatch):
    monkeypatch.setenv("REPRO_RESULTS_DIR", str(results))
    out = cite.cite("r3", "ml-100k", "r3")  # prefers the tuned full row
    assert HASH["tuned"] in out and "one seed" in out
    out = cite.cite("r3", "ml-100k", "r3", tuned=False, config_hash=HASH["main"])
    s = t_interval([0.90, 0.92, 0.94])
    assert f"test/mse = {s.mean:.4f} ± {(s.hi - s.lo) / 2:.4f}" in out
    assert ("Student-t" in out or "claims engine" in out) and "`0 1 2`" in out and "c0ffee" in out and "ab" * 32 in out
    assert "for s in 0 1 2; do reprorec run r3 r3 --dataset ml-100k --profile full --seed $s; done" in out
    assert "@inproceedings{pan2020r3" in out and "2008.13527" in out and "@software{reprorec" in out
    assert "doi" not in out.lower()
    assert cite.cite("r3", "ml-100k", "deepconn", metric="mae", fmt="bibtex").count("@") == 2
    tex = cite.cite("r3", "ml-100k", "deepconn", metric="mae", fmt="latex")
    assert r"\cite{pan2020r3,reprorec}" in tex and "$0.4100 \\pm" in tex
    with pytest.raises(KeyError):
        cite.cite("r3", "ml-100k", "nope")


def test_export_one_row_per_record(results, tmp_path):
    import pandas as pd

    from reprorec.export import export_results, results_dataset

    p = export_results(tmp_path / "r.parquet", "parquet", results_root=results)
    f = pd.read_parquet(p)
    assert len(f) == 8 and f["kind"].value_counts().to_dict() == {"run": 6, "tuned": 1, "trial": 1}
    assert {"test/mse", "test/mae", "val/mse", "config_hash", "commit", "record_path"} <= set(f.columns)
    ds = results_dataset(results)
    assert ds.num_rows == 8 and sorted(ds["test/mse"]) == sorted(f["test/mse"])


def test_site_pages_provenance_and_claims(results, tmp_path, monkeypatch):
    bad = _rec(results, 7, 0.5, dim=99)
    rec = json.loads(bad.read_text())
    rec["config"]["model"]["dim"] = 98  # edited after writing: the hash no longer matches
    bad.write_text(json.dumps(rec))
    out = tmp_path / "site"
    monkeypatch.setitem(sys.modules, "reprorec.claims", None)  # first without a claims engine
    pages = build(out, results_root=results)
    html = (out / "paper-r3.html").read_text()
    assert {p.name for p in pages} >= {"index.html", "paper-r3.html", "dataset-ml-100k.html"}
    assert f'id="prov-r3-ml-100k-r3-full-main-default-{HASH["main"]}"' in html and "reprorec verify" in html
    assert "0.1000" not in html and 'id="claims"' not in html  # no trials; no claims engine, no section
    assert "0.5000" not in html and bad.name in (out / "index.html").read_text()  # refused, and said so
    fake = types.ModuleType("reprorec.claims")
    fake.evaluate = lambda paper, dataset=None: [
        {"claim": "C1", "paper_says": "R3 beats DeepCoNN", "outcome": "supported", "effect": 0.1, "ci": (0.05, 0.15),
         "dataset": "ml-100k", "metric": "mse", "n": 3, "p_adj": 0.01},
        {"claim": "C2", "paper_says": "untestable here", "outcome": "not testable", "effect": math.nan,
         "ci": (math.nan, math.nan), "dataset": "ml-100k"}]
    monkeypatch.setitem(sys.modules, "reprorec.claims", fake)
    build(out, results_root=results)
    html = (out / "paper-r3.html").read_text()
    assert 'id="claims"' in html and "R3 beats DeepCoNN" in html and html.count("<svg") == 1
    assert '<a href="#ml-100k-full">ml-100k · full</a>' in html and 'id="ml-100k-full"' in html


def test_site_reference_cell_follows_the_leaderboards_rule(results):
    """A published number sits beside the experiment's own full-setting row only (not a study, quick run or
    --set variant), labelled with its metric when that is not the ranked one: the same rule as the markdown."""
    import importlib

    site_build = importlib.import_module("reprorec.site.build")  # the package re-exports the function `build`
    refs = {("ml-100k", "r3"): [{"metric": "mse", "value": 0.85, "source": "paper T2"},
                                 {"metric": "rmse_gain_pct", "value": 3.0, "source": "paper T3"}]}
    rs = {(r.study or "", bool(r.tuned)): r for r in rows(results_root=results) if r.method == "r3"}
    main, study, tuned = rs[("", False)], rs[("wide", False)], rs[("", True)]
    assert site_build._ref_cell(main, refs) == "0.8500 — paper T2<br>rmse_gain_pct 3.0000 — paper T3"
    assert site_build._ref_cell(study, refs) == ""
    assert site_build._ref_cell(tuned, refs).startswith("0.8500")
    main.profile = "quick"
    assert site_build._ref_cell(main, refs) == ""
