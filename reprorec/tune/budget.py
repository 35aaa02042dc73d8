"""``reprorec tune-budget PAPER``: the paper's equal tuning budget (``papers/<paper>/tuning.yaml``), run.

The spec states the budget once (completed trials, sampler, pruner, profile, trial seed, final seeds)
and the (method, dataset) pairs it applies to; every pair gets exactly that budget through the shared
harness (reprorec/tune/harness.py: validation only, test untouched until the final seeds). ``--list``
prints the equivalent `reprorec tune` commands and a cost estimate from the default records' wall time.
A finished pair is skipped (the harness counts completed trials in its study and re-runs nothing).
"""
from __future__ import annotations

import statistics
from pathlib import Path

from .. import config as C
from .. import registry


def spec_path(paper: str) -> Path:
    return registry.PAPERS_DIR / paper / "tuning.yaml"


def load_spec(paper: str) -> dict:
    path = spec_path(paper)
    if not path.exists():
        raise C.ConfigError(f"paper {paper!r} has no tuning budget ({path})")
    spec = C.read_yaml(path)
    b = spec["budget"]
    if int(b["completed_trials"]) < 1 or int(b["final_seeds"]) < 0:
        raise C.ConfigError(f"{path}: budget needs completed_trials >= 1 and final_seeds >= 0")
    return spec


def pairs(spec: dict, method: str | None = None, dataset: str | None = None) -> list[tuple[str, str]]:
    return [(m, d) for d in spec["datasets"] for m in spec["methods"]
            if (not method or m == method) and (not dataset or d == dataset)]


def study_name(spec: dict, paper: str, method: str, dataset: str) -> str:
    return spec["study"].format(paper=paper, method=method, dataset=dataset, **spec["budget"])


def tune_args(spec: dict, paper: str, method: str, dataset: str) -> list[str]:
    b = spec["budget"]
    return [paper, method, "--dataset", dataset, "--profile", b["profile"], "--trials", str(b["completed_trials"]),
            "--sampler", b["sampler"], "--pruner", b["pruner"], "--seed", str(b["trial_seed"]),
            "--final-seeds", str(b["final_seeds"]), "--study", study_name(spec, paper, method, dataset)]


def default_wall(paper: str, method: str, dataset: str, profile: str) -> float | None:
    """Mean wall time of the default config's records (no study, not tuned), or None."""
    from ..records import iter_records, results_dir

    walls = [r["wall_time_s"] for r in iter_records(results_dir() / paper / dataset / method)
             if r.get("profile") == profile and not r.get("tuned_from") and not (r["config"].get("study"))
             and r.get("trial") is None and r.get("wall_time_s")]
    return statistics.mean(walls) if walls else None


def finished(paper: str, method: str, dataset: str, study: str, spec: dict) -> bool:
    """Whether ``study`` already has its final-seed records in results/: then the campaign skips it, so it
    resumes on a machine that holds only the committed records (the study's Optuna storage stays behind)."""
    from ..records import iter_records, results_dir

    want = set(range(int(spec["budget"]["final_seeds"])))
    seeds = {r["seed"] for r in iter_records(results_dir() / paper / dataset / method)
             if (r.get("tuned_from") or {}).get("study") == study and r.get("trial") is None
             and r.get("profile") == spec["budget"]["profile"]}
    return bool(want) and want <= seeds


def add_parser(sub) -> None:
    p = sub.add_parser("tune-budget", help="a paper's equal tuning budget (papers/<paper>/tuning.yaml), run")
    p.add_argument("paper")
    p.add_argument("--method")
    p.add_argument("--dataset")
    p.add_argument("--list", action="store_true", help="print the `reprorec tune` commands and a cost estimate")
    p.add_argument("--storage", help="Optuna storage URL shared by workers (default: one SQLite file per study)")
    p.set_defaults(func=cmd_budget)


def cmd_budget(args) -> int:
    registry.papers()
    spec = load_spec(args.paper)
    b = spec["budget"]
    todo = pairs(spec, args.method, args.dataset)
    if not todo:
        raise C.ConfigError(f"no (method, dataset) of {spec_path(args.paper)} matches")
    if args.list:
        total = 0.0
        for m, d in todo:
            wall = default_wall(args.paper, m, d, b["profile"])
            runs = int(b["completed_trials"]) + int(b["final_seeds"])
            est = f"~{wall * runs / 60:.0f} min" if wall else "no default records to estimate from"
            total += wall * runs if wall else 0.0
            print(f"reprorec tune {' '.join(tune_args(spec, args.paper, m, d))}   # {est}")
        print(f"# estimate: {total / 3600:.1f} h of one core (default-config wall time x (trials + final seeds); "
              f"pruned trials cost less, larger sampled models more)")
        return 0
    from .harness import add_parser as add_tune
    import argparse

    parser = argparse.ArgumentParser()
    add_tune(parser.add_subparsers(dest="cmd"))
    failed = 0
    for m, d in todo:
        extra = ["--storage", args.storage] if args.storage else []
        targs = parser.parse_args(["tune", *tune_args(spec, args.paper, m, d), *extra])
        name = study_name(spec, args.paper, m, d)
        if finished(args.paper, m, d, name, spec):
            print(f"== {m} on {d}: {name} done (its final-seed records are in results/); skipped", flush=True)
            continue
        print(f"== {m} on {d}: {name}", flush=True)
        failed += bool(targs.func(targs))
    return 1 if failed else 0
