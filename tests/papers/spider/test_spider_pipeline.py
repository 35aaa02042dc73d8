"""SPIDER streams and the run path: zero sampling, stream formation, records with curves, exact seeding."""
from __future__ import annotations

import numpy as np
import pytest

from reprorec.config import ConfigError
from reprorec.experiment import run_experiment
from reprorec.registry import PAPERS_DIR
from reprorec.papers.spider.data import build_stream, sample_zeros
from reprorec.papers.spider.methods import _checkpoints


def test_sampled_zeros_are_distinct_uniform_and_avoid_excluded_entries():
    shape = (6, 5, 4)
    rng = np.random.default_rng(0)
    exclude = np.unique(np.stack([rng.integers(0, d, 60) for d in shape], 1), axis=0)
    z = sample_zeros(shape, 50, exclude, seed=1)
    assert z.shape == (50, 3) and (z >= 0).all() and (z < np.array(shape)).all()
    assert len(np.unique(z, axis=0)) == 50
    assert not ({tuple(r) for r in z} & {tuple(r) for r in exclude})
    assert np.array_equal(z, sample_zeros(shape, 50, exclude, seed=1))  # fixed data seed -> same zeros


def test_alog_stream_standardised_and_seed_permutes_order_only(data_dir):
    cfg = {"dataset": "alog", "data": {}}
    a, b = build_stream(cfg, 0), build_stream(cfg, 1)
    assert len(a.y) == 21076 and a.shape == (200, 100, 200)
    assert abs(float(a.y.mean())) < 1e-9 and abs(float(a.y.std(unbiased=False)) - 1) < 1e-9
    assert a.fingerprint != b.fingerprint
    assert sorted(map(tuple, a.idx.tolist())) == sorted(map(tuple, b.idx.tolist()))


def test_checkpoints_every_five_percent():
    assert _checkpoints(100) == set(range(5, 101, 5))
    assert max(_checkpoints(7)) == 7 and len(_checkpoints(1000)) == 20


def test_quick_run_records_a_running_curve_and_both_metric_scales(data_dir):
    """What a SPIDER record adds to the shared contract (tests/cases.py: a record, same seed -> same metrics)."""
    cfg = PAPERS_DIR / "spider" / "configs" / "alog-spider-vec.yaml"
    rec = run_experiment(cfg, profile="quick", seed=3, overrides=["data.max_stream=768", "train.batch_size=64"],
                         write=False).record
    curve = rec["curve"]
    assert [c[0] for c in curve][-1] == 1.0 and len(curve) == 12  # 12 batches: every 5% rounds to each batch
    assert curve[-1][1] == pytest.approx(rec["metrics"]["test"]["rmse"])
    test = rec["metrics"]["test"]
    assert test["mse"] == pytest.approx(test["rmse"] ** 2) and test["mse_orig"] == pytest.approx(test["rmse_orig"] ** 2)
    assert 1.8 < test["rmse_orig"] / test["rmse"] < 2.5  # the training-stream std of Alog's ln(1+count) (~2.16)
    assert rec["ep_updates"] > 0 and rec["mode"] == "vectorized"
    weights = rec["weights_curve"]  # the weights' posterior at every curve checkpoint
    assert [w[0] for w in weights] == [c[0] for c in curve]
    assert all(sum(w[1]["incl_hist"]) == w[1]["n_weights"] == 3851 for w in weights)
    assert all(0 <= w[1]["frac_incl_below_half"] <= 1 for w in weights)


@pytest.mark.parametrize("method,mode", [("spider", "sequential"), ("spider-gauss", "sequential"),
                                         ("spider-vec", "vectorized"), ("spider-gauss-vec", "vectorized")])
def test_the_update_mode_belongs_to_the_method(method, mode, data_dir):
    """The mode is hashed config (train.sequential in the _spider*.yaml layers); a config that contradicts
    its method is refused with one line, before any data is read."""
    cfg = PAPERS_DIR / "spider" / "configs" / f"alog-{method}.yaml"
    over = ["data.max_stream=256", "train.batch_size=64"]
    rec = run_experiment(cfg, profile="quick", seed=0, overrides=over, write=False).record
    assert rec["mode"] == mode and rec["config"]["train"]["sequential"] is (mode == "sequential")
    flipped = "false" if mode == "sequential" else "true"
    with pytest.raises(ConfigError, match=f"{method}: train.sequential must be {str(mode == 'sequential').lower()}"):
        run_experiment(cfg, profile="quick", seed=0, overrides=[*over, f"train.sequential={flipped}"], write=False)


def test_the_authors_reference_sits_in_its_metric_and_only_in_the_full_setting():
    """The authors' ACC MSE (original units) has one source, configs/references/authors-acc.yaml: the
    leaderboard shows it beside acc/spider labelled with its metric, in the full profile only (never a
    quick/prefix run, a study or a --set variant)."""
    from reprorec import leaderboard as lb
    from reprorec.papers.spider import report

    refs = lb.references("spider")[("acc", "spider")]
    assert [r["value"] for r in refs] == [r["value"] for r in report.reference()] == [0.116652, 0.117964]
    assert lb.reference_texts(refs, "rmse")[0].startswith("mse_orig 0.1167 — ")
    row = {"profile": "full", "study": None, "variant": [], "tuned_from": None}
    assert lb.same_setting(row)
    assert not lb.same_setting({**row, "profile": "quick"}) and not lb.same_setting({**row, "study": "authors-protocol"})
    assert not lb.same_setting({**row, "variant": ["model.rank=3"]})
    assert lb.same_setting({**row, "variant": ["model.rank=3"], "tuned_from": {"study": "t"}})


def _weights_rec(method, dataset, seed, below, median):
    stats = {"abs_mean_q10_q50_q90": [0.0, median, 1.0], "n_weights": 10}
    if method == "spider":
        stats.update(frac_incl_below_half=below)
    return {"paper": "spider", "dataset": dataset, "method": method, "profile": "full", "seed": seed,
            "config": {"method": method}, "metrics": {"test": {"rmse": 1.0}}, "created": "x",
            "weights_curve": [[1.0, stats]]}


def test_c5_is_a_coded_claim_decided_by_the_preregistered_rule():
    """`reprorec claims spider` reports C5 from report.c5_claim: selection (share below 0.5) and inhibition
    (paired log ratio of median |mean|, Holm over datasets); too few seeds or no records are not a verdict."""
    from reprorec import claims

    recs = [_weights_rec("spider", "alog", s, 0.3 + 0.01 * s, 0.1) for s in range(3)]
    recs += [_weights_rec("spider-gauss", "alog", s, None, 0.2 + 0.01 * s) for s in range(3)]
    recs += [_weights_rec("spider", "dblp", s, 0.01, 0.1) for s in range(3)]  # no selection, no gauss pairs
    recs += [_weights_rec("spider", "acc", 0, 0.5, 0.1)]  # one seed
    res = {r.dataset: r for r in claims.evaluate("spider", records=recs) if r.claim == "C5"}
    assert res["alog"].outcome == "reproduced" and res["alog"].effect > 0 and res["alog"].n == 3
    assert res["dblp"].outcome == "not reproduced" and "selection not reproduced" in res["dblp"].note
    assert res["acc"].outcome == "inconclusive"
    assert res["post-movielens"].outcome == "not testable"


def test_readme_report_block_is_the_generated_one(data_dir, monkeypatch):
    """The README's tables between the report markers are regenerated from the committed records (and the
    ACC test sets, for the constant predictors); a drift means records changed without --write-readme."""
    from reprorec.papers.spider import report
    from reprorec.records import REPO_ROOT

    monkeypatch.setenv("REPRO_RESULTS_DIR", str(REPO_ROOT / "results"))
    block = report.README.read_text().split(report.START)[1].split(report.END)[0]
    assert block == f"\n{report.results_section()}\n", "run: python -m reprorec.papers.spider.report --write-readme"
