"""reprorec — command line.

  reprorec run PAPER METHOD --dataset D [--seed S] [--profile quick|full] [--set k=v ...] [--resume]
  reprorec reproduce [all | PAPER ...] [--profile quick|full] [--seeds N]
  reprorec tune PAPER METHOD --dataset D --trials N [--storage URL] [--final-seeds N]   Optuna sweep
  reprorec leaderboard
  reprorec data list | verify [NAME ...] | info NAME
  reprorec verify RECORD.json        re-run a record's config and seed; compare the metrics
  reprorec list                      papers, methods and experiments
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from .run_options import add_trainer_args, context_from_args

DEFAULT_SEEDS = {"quick": 3, "full": 5}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="reprorec", description="Reproducible recommendation benchmarks.",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--data-dir", help="dataset directory (default: $REPRO_DATA_DIR, then ~/.cache/reprorec)")
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("run", help="one experiment, one seed")
    p.add_argument("paper")
    p.add_argument("method")
    p.add_argument("--dataset", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", default="quick", choices=["quick", "full"])
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.lr=0.01 (repeatable)")
    p.add_argument("--config", help="config file (default: the paper's config for this dataset and method)")
    p.add_argument("--tuned", action="store_true", help="use configs/tuned/ when present")
    p.add_argument("--rerun", action="store_true", help="run even if a record exists, replacing it")
    p.add_argument("--no-record", action="store_true", help="do not write a result record")
    add_trainer_args(p)

    p = sub.add_parser("reproduce", help="every experiment of the chosen papers, then the leaderboards")
    p.add_argument("papers", nargs="*", default=["all"])
    p.add_argument("--profile", default="quick", choices=["quick", "full"])
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default: 3 quick, 5 full)")
    p.add_argument("--rerun", action="store_true", help="re-run experiments whose records exist")
    p.add_argument("--only", help="only experiments whose config file name contains this text")
    add_trainer_args(p)

    sub.add_parser("leaderboard", help="rebuild leaderboards/ from results/")
    sub.add_parser("list", help="papers, methods and experiments")

    p = sub.add_parser("data", help="datasets: list, verify, info")
    p.add_argument("action", choices=["list", "verify", "info"])
    p.add_argument("names", nargs="*")

    p = sub.add_parser("verify", help="re-run result records and compare their metrics")
    p.add_argument("records", nargs="+", help="record files, or folders (one record per dataset and method in it)")
    p.add_argument("--all", action="store_true", help="with a folder: every record in it, not one per method")
    p.add_argument("--tolerance", type=float, default=0.0)
    add_trainer_args(p)

    try:
        from .tune.harness import add_parser as add_tune  # the Optuna harness (optional until built)

        add_tune(sub)
    except ImportError:
        pass
    return ap


def quiet_lightning() -> None:
    """Keep Lightning's banners and known-harmless warnings out of the user's way."""
    import logging

    import lightning.pytorch  # noqa: F401  (Lightning sets its own logger level on import: override after)

    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for msg in (".*does not have many workers.*", ".*GPU available but not used.*", ".*LeafSpec.*",
                ".*smaller than the logging interval.*", ".*litlogger.*", ".*TreeSpec.*"):
        warnings.filterwarnings("ignore", message=msg)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .data import DatasetError, set_data_dir

    if args.data_dir:
        set_data_dir(args.data_dir)
    quiet_lightning()
    try:
        func = getattr(args, "func", None) or globals()[f"cmd_{args.cmd}"]  # subcommands added by add_parser
        return func(args) or 0
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyError, FileNotFoundError, ValueError) as exc:
        if os.environ.get("REPRO_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_run(args):
    from . import registry
    from .experiment import run_experiment

    cfg_path = args.config or registry.find_config(args.paper, args.dataset, args.method, use_tuned=args.tuned)
    kind = "tuned" if "/tuned/" in str(cfg_path) else "run"
    out = run_experiment(cfg_path, profile=args.profile, seed=args.seed, overrides=args.overrides, ctx=context_from_args(args),
                         write=not args.no_record, rerun=args.rerun, kind=kind)
    from .train import is_global_zero

    if not is_global_zero():  # DDP: rank 0 reports
        return
    if out.status == "skipped":
        print(f"already done: {out.path} (use --rerun to run again)")
    print(json.dumps({"metrics": out.record["metrics"], "record": str(out.path) if out.path else None}, indent=2))


def cmd_reproduce(args):
    from . import registry
    from .experiment import reproduce
    from .leaderboard import build

    all_papers = registry.papers()
    chosen = all_papers if args.papers in (["all"], []) else args.papers
    unknown = [p for p in chosen if p not in all_papers]
    if unknown:
        raise KeyError(f"unknown paper(s) {unknown}; known: {', '.join(all_papers)}")
    seeds = list(range(args.seeds if args.seeds is not None else DEFAULT_SEEDS[args.profile]))
    outcomes = reproduce(chosen, args.profile, seeds, ctx=context_from_args(args), rerun=args.rerun, only=args.only)
    build()
    failed = [o for o in outcomes if o.status == "failed"]
    done = sum(o.status == "done" for o in outcomes)
    skipped = sum(o.status == "skipped" for o in outcomes)
    print(f"\n{done} run, {skipped} already done, {len(failed)} failed; leaderboards rebuilt in leaderboards/")
    if failed:
        print("failed experiments (tracebacks in runs/failures.log):")
        for o in failed:
            print(f"  {o.name}: {o.error}")
        return 1


def cmd_leaderboard(args):
    from .leaderboard import build

    for path in build():
        print(path)


def cmd_list(args):
    from . import config as C
    from . import registry

    for paper in registry.papers():
        print(paper)
        for m in registry.methods(paper):
            print(f"  method {m.name}{'  [search space]' if m.search_space else ''}")
        for f in registry.config_files(paper):
            cfg = C.load(f)
            print(f"  experiment {cfg['dataset']}-{cfg['method']}  ({f.name})")


def cmd_data(args):
    from . import data

    cat = data.catalogue()
    names = args.names or sorted(cat)
    if args.action == "list":
        print(f"data directory: {data.data_dir()}")
        for name in names:
            e = data.get(name)
            present = all(any(p.exists() for p in rf.candidates()) for rf in e.raw_files())
            print(f"  {'present' if present else 'missing'}  {name:34s} {e.description}")
        return
    if args.action == "info":
        for name in names:
            e = data.get(name)
            print(f"{name}: {e.description}\n  terms: {e.terms}")
            for rf in e.raw_files():
                print(f"  {rf.path}\n    sha256 {rf.sha256 or '(not pinned)'}\n    url    {rf.url or rf.how_to_get}")
        return
    bad = 0
    for name in names:
        try:
            shas = data.verify(name)
            print(f"ok       {name} ({len(shas)} files)")
        except data.DatasetError as exc:
            bad += 1
            print(f"FAILED   {exc}")
    return 1 if bad else 0


def _records_to_verify(paths: list[str], every: bool) -> list[Path]:
    """Record files as given; a folder stands for one record per (paper, dataset, method) under it (the
    lowest seed, quick profile where there is one, since it is the cheapest), or all of them with --all."""
    from .records import iter_records

    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_file():
            out.append(p)
            continue
        groups: dict[tuple, list[tuple]] = {}
        for rec in iter_records(p):
            path = Path(rec["_path"])
            if "metrics" not in rec or "seed" not in rec:
                continue
            key = (rec["paper"], rec["dataset"], rec["method"])
            groups.setdefault(key, []).append((rec["profile"] != "quick", rec["seed"], str(path), path))
        for key in sorted(groups):
            picks = sorted(groups[key])
            out.extend(x[-1] for x in (picks if every else picks[:1]))
    return out


def _verify_one(path: Path, args) -> tuple[bool, float, bool]:
    from . import registry
    from .experiment import run_experiment
    from .records import REPO_ROOT

    rec = json.loads(path.read_text())
    cfg_path = (REPO_ROOT / rec["config_file"]) if rec.get("config_file") else None
    if cfg_path is not None and not cfg_path.exists() and rec["config_file"].startswith("papers/"):
        cfg_path = REPO_ROOT / "reprorec" / rec["config_file"]  # records made before papers/ moved into the package
    if cfg_path is None or not cfg_path.exists():
        cfg_path = registry.find_config(rec["paper"], rec["dataset"], rec["method"])
    overrides = {k: v for k, v in rec["config"].items() if k not in ("profile",)}
    out = run_experiment(cfg_path, profile=rec["profile"], seed=rec["seed"], overrides=overrides, ctx=context_from_args(args),
                         write=False)
    worst = 0.0
    for split, ms in rec["metrics"].items():
        for k, v in ms.items():
            new = out.record["metrics"].get(split, {}).get(k)
            diff = abs(new - v) if isinstance(new, (int, float)) and isinstance(v, (int, float)) else float("inf")
            worst = max(worst, diff)
            print(f"{split}/{k}: recorded {v!r} now {new!r} diff {diff:.3g}")
    same_hash = out.record["config_hash"] == rec["config_hash"]
    print(f"config hash {'matches' if same_hash else 'DIFFERS'}; max |diff| = {worst:.3g}")
    return same_hash and worst <= args.tolerance, worst, same_hash


def cmd_verify(args):
    """Re-run records in this one process, one after another: a number that depends on what ran before
    it in the process (a cache, a leaked random state) fails here as it would for a user."""
    paths = _records_to_verify(args.records, args.all)
    if not paths:
        print("error: no result records found", file=sys.stderr)
        return 2
    failed = []
    summary = len(paths) > 1 or any(Path(p).is_dir() for p in args.records)
    for i, path in enumerate(paths, 1):
        if summary:
            print(f"[{i}/{len(paths)}] {path}", flush=True)
        ok, worst, same_hash = _verify_one(path, args)
        if not ok:
            failed.append(f"{path} (max |diff| {worst:.3g}{'' if same_hash else ', config hash differs'})")
    if summary:
        print(f"{len(paths) - len(failed)}/{len(paths)} records reproduced within {args.tolerance:g}")
        for f in failed:
            print(f"  NOT reproduced: {f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
