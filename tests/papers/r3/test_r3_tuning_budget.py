"""The equal tuning budget: stated once (papers/r3/tuning.yaml), the same for every (method, dataset),
turned into `reprorec tune` commands; claims use tuned rows only where every arm has them; the
leaderboard shows tuned rows in their own sections."""
import argparse

from reprorec import registry
from reprorec.claims import evaluate, parse_claims
from reprorec.leaderboard import render_paper
from reprorec.tune import budget as B
from reprorec.tune.harness import add_parser as add_tune


def test_every_tunable_method_and_dataset_gets_the_same_budget():
    spec = B.load_spec("r3")
    assert spec["budget"]["completed_trials"] >= 30 and spec["budget"]["sampler"] == "tpe"
    assert spec["budget"]["pruner"] != "none" and spec["budget"]["final_seeds"] == 5
    tunable = {m.name for m in registry.methods("r3") if m.search_space}
    assert set(spec["methods"]) == tunable  # every method with a search space, baselines included
    datasets = {cfg["dataset"] for _, cfg in registry.experiment_configs("r3")}
    assert set(spec["datasets"]) == datasets
    parser = argparse.ArgumentParser()
    add_tune(parser.add_subparsers(dest="cmd"))
    seen = set()
    for m, d in B.pairs(spec):
        args = parser.parse_args(["tune", *B.tune_args(spec, "r3", m, d)])
        seen.add((args.trials, args.sampler, args.pruner, args.profile, args.seed, args.final_seeds))
        assert args.study == f"r3-{d}-{m}-budget30" and registry.find_config("r3", d, m)
    assert len(seen) == 1  # one budget for all


def _rec(method, seed, mse, tuned=False):
    return {"paper": "r3", "dataset": "d", "method": method, "profile": "full", "seed": seed, "created": "",
            "config": {"metric": {"name": "mse", "mode": "min"}}, "config_hash": f"{method}{int(tuned)}",
            "metrics": {"test": {"mse": mse}, "val": {"mse": mse}},
            **({"tuned_from": {"study": f"s-{method}", "n_trials": 30}} if tuned else {})}


CLAIMS = {"defaults": {"compare": {"metric": "mse", "direction": "lower", "profile": "full", "tuned": "prefer",
                                   "datasets": ["d"]}},
          "claims": [{"id": "C", "kind": "superiority", "compare": {"a": "r3", "b": "neumf"}}]}


def test_claims_prefer_tuned_rows_only_when_every_arm_has_them():
    claims = parse_claims(CLAIMS, "r3")
    default = [_rec("r3", s, 1.0 + 0.01 * s) for s in range(3)] + [_rec("neumf", s, 1.1 + 0.01 * s) for s in range(3)]
    tuned_r3 = [_rec("r3", s, 0.5 + 0.01 * s, tuned=True) for s in range(3)]
    (half,) = evaluate("r3", records=default + tuned_r3, claims=claims)
    assert "tuned" not in half.uncertainty and abs(half.effect - 0.1) < 1e-9  # neumf untuned: defaults decide
    tuned_neumf = [_rec("neumf", s, 0.4 + 0.01 * s, tuned=True) for s in range(3)]
    (full,) = evaluate("r3", records=default + tuned_r3 + tuned_neumf, claims=claims)
    assert "tuned configs" in full.uncertainty and abs(full.effect + 0.1) < 1e-9
    (before,) = evaluate("r3", records=default + tuned_r3 + tuned_neumf, claims=claims, configs="default")
    assert "tuned" not in before.uncertainty and abs(before.effect - 0.1) < 1e-9  # the verdict before tuning
    (only_tuned,) = evaluate("r3", records=default + tuned_r3, claims=claims, configs="tuned")
    assert only_tuned.n == 0  # neumf has no tuned rows: nothing to compare, not a silent fall-back


def test_leaderboard_shows_tuned_rows_apart():
    recs = [_rec("neumf", s, 1.0) for s in range(2)] + [_rec("neumf", s, 0.9, tuned=True) for s in range(2)]
    md, _, _ = render_paper("r3", recs)
    default_at, tuned_at = md.index("## d · profile `full`\n"), md.index("## d · profile `full` · tuned configs")
    assert default_at < tuned_at and md[default_at:tuned_at].count("| neumf") == 1


def test_the_campaign_skips_a_study_whose_final_records_are_committed(tmp_path, monkeypatch):
    """A campaign resumed on another machine has the committed records but not the study's storage."""
    import json

    from reprorec.records import SCHEMA

    monkeypatch.setenv("REPRO_RESULTS_DIR", str(tmp_path))
    spec = B.load_spec("r3")
    name = B.study_name(spec, "r3", "neumf", "d")
    folder = tmp_path / "r3" / "d" / "neumf" / "full" / "tuned"
    folder.mkdir(parents=True)
    for seed in range(spec["budget"]["final_seeds"] - 1):
        rec = {**_rec("neumf", seed, 1.0), "schema": SCHEMA, "tuned_from": {"study": name, "n_trials": 30}}
        (folder / f"{seed}-h.json").write_text(json.dumps(rec))
    assert not B.finished("r3", "neumf", "d", name, spec)  # one final seed missing: run (resume) it
    last = spec["budget"]["final_seeds"] - 1
    (folder / f"{last}-h.json").write_text(json.dumps({**_rec("neumf", last, 1.0), "schema": SCHEMA,
                                                       "tuned_from": {"study": name}}))
    assert B.finished("r3", "neumf", "d", name, spec)
    assert not B.finished("r3", "neumf", "d", name + "-other", spec)
