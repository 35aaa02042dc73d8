"""Record-time bootstrap replicates: formulas, shared row draws, speed, and untouched metrics."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from reprorec.bootstrap import TestRows, metrics_of, replicates, row_draws
from reprorec.experiment import run_experiment
from reprorec.metrics import binary_metrics, ranking_metrics, regression_metrics
from reprorec.registry import find_config
from reprorec.train import RunContext


def _binary(n=3000, seed=0, ties=True):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.float64)
    p = 1 / (1 + np.exp(-(rng.normal(size=n) + y)))
    return (np.round(p, 2) if ties else p), y


def _torch_binary(p, y):
    m = binary_metrics()
    m.update(torch.tensor(p).float(), torch.tensor(y).long())
    return {k: float(v) for k, v in m.compute().items()}


def test_unweighted_formulas_match_the_recorded_metrics():
    p, y = _binary()
    ours = metrics_of(TestRows("binary", {"prob": p, "y": y}), ["auc", "logloss"])
    ref = _torch_binary(p, y)
    assert ours == pytest.approx(ref, abs=1e-6)
    rng = np.random.default_rng(1)
    pred, t = rng.normal(size=500), rng.normal(size=500)
    m = regression_metrics()
    m.update(torch.tensor(pred).float(), torch.tensor(t).float())
    ref = {k: float(v) for k, v in m.compute().items()}
    assert metrics_of(TestRows("regression", {"pred": pred, "y": t}), ["mae", "mse", "rmse"]) == \
        pytest.approx(ref, rel=1e-5)
    ranks = torch.tensor(rng.integers(1, 30, 400)).double()
    assert metrics_of(TestRows("ranks", {"rank": ranks.numpy()}), ["mrr", "hits@1", "hits@10"]) == \
        pytest.approx(ranking_metrics(ranks, ks=(1, 10)), rel=1e-12)


def test_a_replicate_is_the_metric_of_the_drawn_rows():
    """Grouped binary rows (SPIDER's test sets): the replicate equals the mean over sets of the AUC
    torchmetrics gives on the explicitly resampled rows of each set."""
    p, y = _binary(900)
    groups = np.repeat([0, 1, 2], 300)
    rows = TestRows("binary", {"prob": p, "y": y}, groups=groups)
    draw = next(row_draws("fp", len(y), 1, groups))
    assert all((groups[draw] == groups).tolist())  # every draw stays in its row's set
    ours = metrics_of(rows, ["auc"], draw)["auc"]
    ref = np.mean([_torch_binary(p[draw][groups == g], y[draw][groups == g])["auc"] for g in range(3)])
    assert ours == pytest.approx(ref, abs=1e-6)


def test_draws_depend_only_on_split_and_size():
    a = [d.tolist() for d in row_draws("split-A", 50, 3)]
    assert a == [d.tolist() for d in row_draws("split-A", 50, 3)]
    assert a != [d.tolist() for d in row_draws("split-B", 50, 3)]
    assert a[0] != a[1]


def test_paired_replicates_cancel_shared_row_noise():
    """Two methods on the same split: the replicate differences vary far less than each method's
    replicates (the point of sharing row indices)."""
    rng = np.random.default_rng(3)
    y = rng.normal(size=2000)
    a = y + rng.normal(scale=0.8, size=2000)
    b = a + rng.normal(scale=0.1, size=2000)
    ra = replicates(TestRows("regression", {"pred": a, "y": y}), "s", ["mse"])["metrics"]["mse"]
    rb = replicates(TestRows("regression", {"pred": b, "y": y}), "s", ["mse"])["metrics"]["mse"]
    assert np.std(np.subtract(ra, rb)) < 0.5 * np.std(ra)


def test_auc_replicates_are_fast_on_large_test_sets():
    p, y = _binary(100_000, ties=False)
    t0 = time.perf_counter()
    out = replicates(TestRows("binary", {"prob": p, "y": y}), "fp", ["auc", "logloss"])
    assert time.perf_counter() - t0 < 15  # ~1.5 s on one shared core
    assert len(out["metrics"]["auc"]) == out["B"] == 200
    assert abs(np.mean(out["metrics"]["auc"]) - _torch_binary(p, y)["auc"]) < 0.005


def test_bootstrap_leaves_the_metrics_bit_identical(monkeypatch, one_thread):
    cfg = find_config("baselines", "ml-100k", "biased-mf")
    tiny = ["model.dim=8", "train.max_epochs=2", "train.patience=0", "train.batch_size=4096"]
    ctx = RunContext(progress=False)
    with_b = run_experiment(cfg, seed=5, overrides=tiny, ctx=ctx, write=False).record
    monkeypatch.setenv("REPRO_BOOTSTRAP", "0")
    without = run_experiment(cfg, seed=5, overrides=tiny, ctx=ctx, write=False).record
    assert with_b["metrics"] == without["metrics"]
    assert "bootstrap" not in without
    boot = with_b["bootstrap"]["test"]
    assert set(boot["metrics"]) == set(with_b["metrics"]["test"]) and boot["B"] == 200
    assert boot["n"] > 0
    rmse = with_b["metrics"]["test"]["rmse"]
    assert abs(np.mean(boot["metrics"]["rmse"]) - rmse) < 3 * np.std(boot["metrics"]["rmse"])


def test_stream_records_resample_within_each_test_set():
    from reprorec.registry import PAPERS_DIR

    cfg = PAPERS_DIR / "spider" / "configs" / "alog-spider.yaml"
    rec = run_experiment(cfg, profile="quick", seed=1, overrides=["data.max_stream=512", "train.batch_size=64"],
                         write=False).record
    boot = rec["bootstrap"]["test"]
    assert boot["groups"] >= 1 and set(boot["metrics"]) == set(rec["metrics"]["test"])
    reps = np.array(boot["metrics"]["mse"])
    assert np.allclose(np.array(boot["metrics"]["rmse"]), np.sqrt(reps), rtol=1e-5)
    assert abs(reps.mean() - rec["metrics"]["test"]["mse"]) < 3 * reps.std() + 1e-9


def test_seeds_on_the_same_test_rows_share_their_draws():
    """SPIDER's stream fingerprint changes with the seed (stream order) but its test sets do not: the
    rows' own key seeds the draws, so the claims layer can see that the seeds share their row noise."""
    from reprorec.bootstrap import record_entry

    y = np.linspace(0, 1, 40)
    a = record_entry(TestRows("regression", {"pred": y + 0.1, "y": y}, key="test-rows"), "stream-seed-0", {"mse": 0})
    b = record_entry(TestRows("regression", {"pred": y + 0.1, "y": y}, key="test-rows"), "stream-seed-1", {"mse": 0})
    assert a == b and a["bootstrap"]["test"]["rows"] == "test-rows"
