"""SPIDER streams and the run path: zero sampling, stream formation, records with curves, exact seeding."""
from __future__ import annotations

import numpy as np
import pytest

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
    cfg = PAPERS_DIR / "spider" / "configs" / "alog-spider.yaml"
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
