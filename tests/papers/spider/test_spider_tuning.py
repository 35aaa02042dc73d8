"""SPIDER methods are tunable by the shared Optuna harness: every search space samples valid config
overrides, and a trial (evaluate_test=False) is scored on a held-out stream tail, never the test sets."""
from __future__ import annotations

import math

import optuna
import pytest
import torch

from reprorec import registry
from reprorec.experiment import run_experiment
from reprorec.registry import PAPERS_DIR
from reprorec.train import RunContext
from reprorec.tune.storage import dry_run, search_space
from reprorec.papers.spider.data import Stream, holdout

METHODS = ["spider", "spider-vec", "spider-gauss", "spider-gauss-vec", "post", "nn-adam", "cp-offline"]


@pytest.mark.parametrize("method", METHODS)
def test_every_method_declares_a_search_space_that_samples(method):
    space = search_space("spider", method)
    overrides, dists = dry_run(space, f"spider/{method}")
    assert "model.rank" in dists and overrides["model"]["rank"] in (3, 5, 8, 10)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(20):  # every sample stays inside the declared ranges
        trial = study.ask()
        o = space(trial)
        for name, value in trial.params.items():
            assert dists[name]._contains(dists[name].to_internal_repr(value))
        study.tell(trial, 0.0)
    if method in ("spider", "spider-vec"):
        assert 0.05 <= o["model"]["rho0"] <= 0.95 and 0.1 <= o["model"]["tau0"] <= 10


def test_holdout_splits_the_stream_tail_without_overlap():
    idx = torch.arange(60).reshape(20, 3)
    s = Stream("x", (60, 60, 60), False, idx, torch.arange(20.0), [], 0.0, 1.0, {}, "fp")
    train, val = holdout(s, 0.25)
    assert len(train.y) == 15 and torch.equal(train.idx, idx[:15])
    (vi, vy), = val.test_sets
    assert torch.equal(vi, idx[15:]) and torch.equal(vy, torch.arange(15.0, 20.0))
    with pytest.raises(ValueError, match="val_fraction"):
        holdout(s, 0.001)


@pytest.mark.parametrize("method,over,n_train", [("spider", ["data.val_fraction=0.2"], 512), ("nn-adam", [], 576)])
def test_a_tuning_trial_reports_only_a_validation_metric(method, over, n_train, data_dir):
    """evaluate_test=False: scored on the stream's tail (data.val_fraction, 5% by default), no test."""
    assert registry.method("spider", method).search_space is not None
    cfg = PAPERS_DIR / "spider" / "configs" / f"alog-{method}.yaml"
    over = ["data.max_stream=640", "train.batch_size=64", *over]
    out = run_experiment(cfg, profile="quick", seed=0, overrides=over, ctx=RunContext(evaluate_test=False), write=False)
    m = out.record["metrics"]
    assert "test" not in m and math.isfinite(m["val"]["rmse"]) and m["val"]["mse"] == pytest.approx(m["val"]["rmse"] ** 2)
    assert out.record["entries_streamed"] == n_train and out.record["curve"] == []  # 608 -> 9 batches of 64


def test_curve_subset_is_fixed_and_the_final_metric_uses_every_test_entry():
    """data.curve_max_test scores the running curve on a fixed subset; the final metric on all entries."""
    from reprorec.papers.spider.methods import _curve_stream, _stream_loop

    g = torch.Generator().manual_seed(0)
    tests = [(torch.randint(0, 5, (400, 3), generator=g), torch.randn(400, generator=g, dtype=torch.float64))
             for _ in range(2)]
    s = Stream("x", (5, 5, 5), False, torch.zeros(64, 3, dtype=torch.long), torch.zeros(64, dtype=torch.float64),
               tests, 0.0, 1.0, {}, "fp")
    cfg = {"metric": {"name": "rmse"}, "data": {"curve_max_test": 100}, "train": {"batch_size": 32}}
    a, b = _curve_stream(s, cfg), _curve_stream(s, cfg)
    assert [len(y) for _, y in a.test_sets] == [50, 50]
    assert all(torch.equal(x[0], y[0]) for x, y in zip(a.test_sets, b.test_sets))
    predict = lambda idx: idx[:, 0].double() / 5  # noqa: E731
    metrics, curve, _, n, _ = _stream_loop(cfg, RunContext(), s, lambda i, y: None, predict)
    full = torch.cat([(predict(i) - y) ** 2 for i, y in tests]).mean().sqrt()
    sub = torch.cat([(predict(i) - y) ** 2 for i, y in a.test_sets]).mean().sqrt()
    assert metrics["test"]["rmse"] == pytest.approx(float(full)) and curve[-1][1] == pytest.approx(float(sub))
    assert n == 64 and [c[0] for c in curve] == [0.5, 1.0]
