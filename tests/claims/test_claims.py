"""The claims layer: Holm, TOST, interval coverage, the sanity guard, claim files, generated READMEs."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from reprorec import claims as C
from reprorec.records import REPO_ROOT, iter_checked_records


# ------------------------------------------------------------------------------------------ Holm
def test_holm_matches_a_hand_computation():
    p = [0.01, 0.04, 0.03, 0.005, math.nan]
    # sorted: 0.005*4 = 0.02; 0.01*3 = 0.03; 0.03*2 = 0.06; 0.04*1 = 0.04 -> monotone 0.06
    assert C.holm(p)[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(C.holm(p)[4])
    assert C.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_holm_against_libraries():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, 12) ** 2
    ours = np.array(C.holm(p))
    bh = stats.false_discovery_control(p, method="bh")  # Holm controls FWER: never below BH, never above Bonferroni
    assert np.all(ours >= bh - 1e-12) and np.all(ours <= np.minimum(1, p * len(p)) + 1e-12)
    try:
        from statsmodels.stats.multitest import multipletests
    except ImportError:
        return
    assert ours == pytest.approx(multipletests(p, method="holm")[1])


# ------------------------------------------------------------------------------------------ TOST
def test_tost_matches_its_closed_form_and_the_interval_rule():
    rng = np.random.default_rng(1)
    for _ in range(20):
        d = rng.normal(rng.uniform(-0.01, 0.01), 0.004, size=6)
        m = 0.005
        est = C.estimate(d)  # no replicates: the paired t setting
        se = d.std(ddof=1) / math.sqrt(len(d))
        hand = max(stats.t.sf((d.mean() + m) / se, len(d) - 1), stats.t.cdf((d.mean() - m) / se, len(d) - 1))
        p = C.tost(est.effect, est.se, est.df, m)
        assert p == pytest.approx(hand, rel=1e-9)
        lo, hi = est.ci(0.90)
        assert (p < 0.05) == (-m < lo and hi < m)  # TOST at 5% <=> the 90% CI inside the margins
    assert est.p_two_sided() == pytest.approx(stats.ttest_1samp(d, 0).pvalue)


# ------------------------------------------------------------------------------------------ coverage
def _simulate(rng, shared_split: bool, S=5, n=300, B=200, delta=0.02, su=0.01, sr=0.3):
    """Per-seed effects and paired replicates of a difference whose truth is ``delta``: test rows of
    per-row differences N(delta, sr^2) (shared by all seeds or drawn per seed), training noise N(0, su^2)."""
    d, reps = np.empty(S), np.empty((S, B))
    rows = rng.normal(delta, sr, n)
    idx = rng.integers(0, n, (B, n))
    for s in range(S):
        if not shared_split:
            rows = rng.normal(delta, sr, n)
            idx = rng.integers(0, n, (B, n))
        u = rng.normal(0, su)
        d[s] = rows.mean() + u
        reps[s] = rows[idx].mean(1) + u
    return d, reps, ([0] * S if shared_split else list(range(S)))


@pytest.mark.parametrize("shared_split", [True, False])
def test_intervals_cover_the_true_effect(shared_split):
    rng = np.random.default_rng(2 + shared_split)
    hits = seed_only_hits = 0
    for _ in range(200):
        d, reps, splits = _simulate(rng, shared_split)
        lo, hi = C.estimate(d, reps, splits).ci(0.95)
        hits += lo <= 0.02 <= hi
        lo, hi = C.estimate(d).ci(0.95)
        seed_only_hits += lo <= 0.02 <= hi
    assert hits / 200 >= 0.90
    if shared_split:  # one test set for every seed: the seed-only t interval misses the row noise
        assert seed_only_hits / 200 < 0.75


def test_clipped_seed_variance_keeps_the_seeds_degrees_of_freedom():
    """A split per seed and no training noise: su^2 often clips to 0, and the variance is then the rows'
    alone; its df must still reflect the S seeds the clipping came from, not the B - 1 of the replicates
    alone (which made five seeds look like a z interval)."""
    rng = np.random.default_rng(7)
    S, B, n, clipped, hits = 5, 200, 400, 0, 0
    for _ in range(300):
        d, reps = np.empty(S), np.empty((S, B))
        for s in range(S):
            rows = rng.normal(0.02, 1.0, n)
            d[s] = rows.mean()
            reps[s] = rows[rng.integers(0, n, (B, n))].mean(1)
        est = C.estimate(d, reps, list(range(S)))
        if d.var(ddof=1) <= reps.var(axis=1, ddof=1).mean():
            clipped += 1
            assert est.df < B - 1
        lo, hi = est.ci(0.95)
        hits += lo <= 0.02 <= hi
    assert clipped > 50  # the case under test occurred
    assert hits / 300 >= 0.92


# ------------------------------------------------------------------------------------------ records
def _rec(method, seed, value, split="s", reps=None, dataset="d1", paper="p", metric="mse", created="2026"):
    r = {"schema": 1, "paper": paper, "dataset": dataset, "method": method, "profile": "full", "seed": seed,
         "metrics": {"test": {metric: value}}, "data": {"split": split}, "config": {}, "created": created}
    if reps is not None:
        r["bootstrap"] = {"test": {"B": len(reps), "scheme": "paired-rows-v1", "n": 100, "metrics": {metric: list(reps)}}}
    return r


CLAIMS = {"defaults": {"compare": {"metric": "mse", "direction": "lower", "profile": "full", "datasets": ["d1"]}},
          "claims": [{"id": "W", "paper_says": "A beats B", "source": "abstract", "compare": {"a": "A", "b": "B"},
                      "kind": "superiority", "family": "f", "sanity": {"trivial": "T"}}]}


def test_sanity_guard_never_reports_a_win_over_a_broken_baseline():
    recs = [_rec("A", s, 0.80 + 0.001 * s) for s in range(4)] + [_rec("B", s, 1.00 + 0.002 * s) for s in range(4)]
    claims = C.parse_claims(CLAIMS, "p")
    broken = recs + [_rec("T", s, 0.95) for s in range(4)]          # trivial beats B
    (res,) = C.evaluate("p", records=broken, claims=claims)
    assert res.outcome == "baseline fails sanity" and res.effect > 0 and res.p_adj < 0.05
    healthy = recs + [_rec("T", s, 1.10) for s in range(4)]
    (res,) = C.evaluate("p", records=healthy, claims=claims)
    assert res.outcome == "reproduced" and res.uncertainty.startswith("seeds only")


def test_pairing_by_seed_and_split_and_holm_within_the_family():
    raw = {"defaults": CLAIMS["defaults"], "claims": [
        {"id": f"X{i}", "compare": {"a": "A", "b": f"B{i}"}, "kind": "superiority", "family": "f"} for i in range(3)]}
    rng = np.random.default_rng(5)
    recs = []
    for s in range(5):
        recs.append(_rec("A", s, 0.9 + rng.normal(0, 0.01)))
        for i in range(3):
            recs.append(_rec(f"B{i}", s, 0.9 + 0.006 * i + rng.normal(0, 0.01), split="other" if s == 4 else "s"))
    res = C.evaluate("p", records=recs, claims=C.parse_claims(raw, "p"))
    assert all(r.n == 4 and "seeds [4] dropped" in r.note for r in res)   # seed 4: different split
    assert [r.p_adj for r in res] == pytest.approx(C.holm([r.p for r in res]))


def test_claim_files_are_valid_and_every_kind_is_explained():
    for paper in C.papers_with_claims():
        claims = C.load_claims(paper)
        assert claims, paper
        for c in claims:
            assert c.paper_says and c.source, (paper, c.id)
            assert c.kind != "not-testable" or c.reason
    with pytest.raises(ValueError, match="margin"):
        C.parse_claims({"claims": [{"id": "E", "kind": "equivalence",
                                    "compare": {"a": "A", "b": "B", "metric": "auc", "direction": "higher"}}]}, "p")


def test_end_to_end_from_tiny_real_records(one_thread):
    """Two R3 methods on the smallest Amazon category, two seeds each: the engine pairs them by seed and
    split, uses the records' bootstrap replicates, and its effect is the mean of the recorded differences."""
    from reprorec.experiment import run_experiment
    from reprorec.registry import find_config

    ds = "amazon18-gift-cards"
    recs = []
    for seed in (0, 1):
        recs.append(run_experiment(find_config("r3", ds, "global-mean"), seed=seed, write=False).record)
        recs.append(run_experiment(find_config("r3", ds, "bias"), seed=seed, write=False,
                                   overrides=["train.max_epochs=2", "train.patience=0"]).record)
    raw = {"claims": [{"id": "bias-beats-mean", "paper_says": "x", "source": "test", "kind": "superiority",
                       "family": "t", "compare": {"a": "bias", "b": "global-mean", "metric": "mse",
                                                  "direction": "lower", "datasets": [ds], "profile": "quick"}}]}
    (res,) = C.evaluate("r3", records=recs, claims=C.parse_claims(raw, "r3"))
    by = {(r["method"], r["seed"]): r["metrics"]["test"]["mse"] for r in recs}
    assert res.n == 2 and res.uncertainty == "seeds + test rows"
    assert res.effect == pytest.approx(np.mean([by[("global-mean", s)] - by[("bias", s)] for s in (0, 1)]))
    assert res.ci[0] < res.effect < res.ci[1]
    assert res.outcome in C.OUTCOMES


def test_readme_verdict_blocks_are_the_generated_ones():
    """No verdict sentence is hand-written: each paper README's block is what `reprorec claims --write`
    makes from the committed records. If this fails, run `reprorec claims --write` and commit."""
    index = C.RecordIndex(iter_checked_records(REPO_ROOT / "results"))
    for path, text in C.generated(index).items():
        assert path.read_text() == text, f"{path.relative_to(REPO_ROOT)}: run `reprorec claims --write`"


def test_claims_command_prints_the_table(capsys):
    from reprorec.cli import main

    if "mflet" not in C.papers_with_claims():
        pytest.skip("no claims.yaml for mflet yet")
    assert main(["claims", "mflet", "--dataset", "ml-100k-ctr"]) == 0
    out = capsys.readouterr().out
    assert "| claim | dataset |" in out and "amazon-musical-instruments-ctr" not in out


def test_an_arm_may_be_a_study_of_a_method():
    """'A@s' is method A's runs of study s: a study arm against a main experiment (capacity controls)."""
    raw = {"defaults": CLAIMS["defaults"], "claims": [
        {"id": "S", "compare": {"a": "A", "b": "A@ctl"}, "kind": "superiority", "family": "f"}]}
    main = [_rec("A", s, 0.80 + 0.001 * s) for s in range(4)]
    study = [dict(_rec("A", s, 0.90 + 0.002 * s), config={"study": {"name": "ctl"}}) for s in range(4)]
    (res,) = C.evaluate("p", records=main + study, claims=C.parse_claims(raw, "p"))
    assert res.n == 4 and res.effect == pytest.approx(0.1 + 0.001 * 1.5) and res.outcome == "reproduced"
    (res,) = C.evaluate("p", records=main, claims=C.parse_claims(raw, "p"))
    assert res.outcome == "not testable" and "A@ctl" in res.note
