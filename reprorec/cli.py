"""reprorec — command line.

  reprorec run PAPER METHOD --dataset D [--seed S] [--profile quick|full] [--set k=v ...] [--resume] [--study NAME [--point P]]
  reprorec reproduce [all | PAPER ...] [--profile quick|full] [--seeds N] [--reuse]   regenerate, then compare
  reprorec sweep PAPER STUDY [--dataset D] [--seeds N] [--profile P]   every run of a named study
  reprorec replicate PAPER --dataset D [--seeds N] [--profile P]   the paper's experiments on a new dataset + its claims
  reprorec tune PAPER METHOD --dataset D --trials N [--storage URL] [--final-seeds N]   Optuna sweep
  reprorec tune-budget PAPER [--method M] [--dataset D] [--list]   the paper's equal tuning budget (tuning.yaml)
  reprorec leaderboard
  reprorec data list | verify [NAME ...] | info NAME | export NAME [--split random --seed S] [--out DIR]
  reprorec verify RECORD.json        re-run a record's config and seed; compare the metrics
  reprorec audit                     provenance of every record in results/ (commit in history? dirty?)
  reprorec list                      papers, methods and experiments
  reprorec site [--out build/site]   static web leaderboard (plain HTML) from results/
  reprorec cite PAPER DATASET METHOD [--metric M] [--format md|latex|bibtex]
  reprorec export results [--format parquet|csv|jsonl|dataset] [--out PATH]
  reprorec claims [PAPER] [--write]  each paper's claims tested on the records; --write regenerates README verdicts
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from .run_options import add_trainer_args, context_from_args

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
    p.add_argument("--profile", default="quick", help="quick, full, or a profile the config file declares")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set train.lr=0.01 (repeatable)")
    p.add_argument("--config", help="config file (default: the paper's config for this dataset and method)")
    p.add_argument("--tuned", action="store_true", help="use configs/tuned/ when present")
    p.add_argument("--rerun", action="store_true", help="run even if a record exists, replacing it")
    p.add_argument("--no-record", action="store_true", help="do not write a result record")
    p.add_argument("--study", help="run a named study of the experiment (configs/studies/NAME.yaml)")
    p.add_argument("--point", help="grid point of the study, e.g. model.rank=3,train.batch_size=128 (or its index)")
    add_trainer_args(p)

    from .reproduction import add_parsers as add_reproduce_verify  # reproduce, verify

    add_reproduce_verify(sub)

    sub.add_parser("leaderboard", help="rebuild leaderboards/ from results/")
    sub.add_parser("list", help="papers, methods and experiments")

    p = sub.add_parser("data", help="datasets: list, verify, info, export (HF datasets DatasetDict of a split)")
    p.add_argument("action", choices=["list", "verify", "info", "export"])
    p.add_argument("names", nargs="*")
    from .data.hf import add_export_args

    add_export_args(p)

    from .audit import add_parser as add_audit

    add_audit(sub)

    from .export import add_parser as add_export
    from .site import add_parser as add_site, cite

    add_site(sub), cite.add_parser(sub), add_export(sub)
    from .claims import add_parser as add_claims

    add_claims(sub)

    from .studies import add_parser as add_sweep
    from .replicate import add_parser as add_replicate

    add_sweep(sub)
    add_replicate(sub)
    try:
        from .tune.harness import add_parser as add_tune  # the Optuna harness (optional until built)

        add_tune(sub)
        from .tune.budget import add_parser as add_budget  # a paper's equal tuning budget

        add_budget(sub)
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
        if not Path(args.data_dir).is_dir():
            print(f"error: --data-dir {args.data_dir}: no such directory", file=sys.stderr)
            return 2
        set_data_dir(args.data_dir)
    quiet_lightning()
    try:
        func = getattr(args, "func", None) or globals()[f"cmd_{args.cmd}"]  # subcommands added by add_parser
        return func(args) or 0
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (KeyError, FileNotFoundError, ValueError, PermissionError) as exc:
        if os.environ.get("REPRO_DEBUG"):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2


def cmd_run(args):
    from . import registry
    from .experiment import run_experiment

    cfg_path = args.config or registry.find_config(args.paper, args.dataset, args.method, use_tuned=args.tuned)
    kind = "tuned" if "/tuned/" in str(cfg_path) else "run"
    study = None
    if args.study or args.point:
        from .config import load as load_config
        from .studies import load as load_study

        st = load_study(args.paper, args.study or "")
        st.require(Path(cfg_path), load_config(cfg_path))
        study = st.resolution(args.profile, st.point(args.point))
    out = run_experiment(cfg_path, profile=args.profile, seed=args.seed, overrides=args.overrides, ctx=context_from_args(args),
                         write=not args.no_record, rerun=args.rerun, kind=kind, study=study)
    from .train import is_global_zero

    if not is_global_zero():  # DDP: rank 0 reports
        return
    if out.status == "skipped":
        print(f"already done: {out.path} (use --rerun to run again)")
    print(json.dumps({"metrics": out.record["metrics"], "record": str(out.path) if out.path else None}, indent=2))


def cmd_leaderboard(args):
    from .leaderboard import build

    for path in build():
        print(path)


def cmd_list(args):
    from . import registry

    for paper in registry.papers():
        print(paper)
        for m in registry.methods(paper):
            print(f"  method {m.name}{'  [search space]' if m.search_space else ''}")
        for f, cfg in registry.experiment_configs(paper):  # a broken file is skipped with a warning
            print(f"  experiment {f.stem}  ({f.name})")


def cmd_data(args):
    from . import data

    if args.action == "export":
        from .data.hf import cmd_export

        return cmd_export(args)
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


if __name__ == "__main__":
    sys.exit(main())
