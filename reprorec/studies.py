"""Studies: named variants of experiments (sweeps, ablations, data controls, an author's run-time setting).

A study is declared once, in ``reprorec/papers/<paper>/configs/studies/<name>.yaml``:

    name: rank-batch                       # = the file name
    description: SPIDER rank sweep at batch 128 and batch sweep at rank 8.
    applies_to: {methods: [spider], datasets: [alog, dblp, post-movielens]}   # each optional
    # experiments: [kge-attention-transra] narrows it to experiments (names as `reprorec list` shows them)
    # where several share one method and the study fits only some (a KGE replaced by random vectors)
    set: {train: {sequential: false}}      # overrides for every run of the study (optional)
    profiles: {quick: {...}}               # extra overrides under one profile (optional)
    grid:                                  # optional: one run per point, each point labelled by its values
      - {model.rank: 3, train.batch_size: 128}
      - {model.rank: 5, train.batch_size: 128}
    # or a product:  grid: {model.rank: [3, 5, 8, 10]}
    reference: [...]                        # published numbers for the study's rows (not hashed)

A study run resolves as experiment -> profile -> study (set, profile block, grid point) -> --set, and its
config carries ``study: {name, point}``: so the study is part of the config hash, of the record path
(``results/<paper>/<dataset>/<method>/<profile>/study-<name>/<seed>-<hash>.json``) and of the leaderboard
row (``label``). The main experiments carry no ``study`` key, so their hashes do not change.

    reprorec run PAPER METHOD --dataset D --study NAME [--point 'model.rank=3,train.batch_size=128']
    reprorec sweep PAPER STUDY [--dataset D] [--method M] [--seeds N] [--profile P]
"""
from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import config as C
from . import registry

STUDY_KEYS = {"name", "description", "applies_to", "set", "profiles", "grid", "reference"}


@dataclass(frozen=True)
class Study:
    paper: str
    name: str
    description: str
    path: Path
    methods: tuple[str, ...] = ()           # empty: every method
    datasets: tuple[str, ...] = ()          # empty: every dataset
    overrides: dict = field(default_factory=dict)
    profiles: dict = field(default_factory=dict)
    points: tuple[dict, ...] = ()           # () = one run per experiment, no grid
    reference: tuple = ()
    experiments: tuple[str, ...] = ()       # empty: every experiment of those methods

    def applies(self, dataset: str, method: str, experiment: str | None = None) -> bool:
        return (not self.methods or method in self.methods) and (not self.datasets or dataset in self.datasets) \
            and (not self.experiments or experiment in self.experiments)

    def applies_to_file(self, path: Path, raw: dict) -> bool:
        """Whether the study applies to the experiment file ``path`` (``raw``: its loaded config)."""
        return self.applies(raw["dataset"], raw["method"], registry.experiment_name({**raw, "_file": str(path)}))

    def require(self, path: Path, raw: dict) -> None:
        """Refuse (ConfigError, one line) an experiment the study does not apply to: one check for
        ``reprorec run --study`` and ``reprorec sweep``."""
        if not self.applies_to_file(path, raw):
            scope = "; ".join(f"{k} {', '.join(v)}" for k, v in (("methods", self.methods), ("datasets", self.datasets),
                                                                   ("experiments", self.experiments)) if v)
            name = registry.experiment_name({**raw, "_file": str(path)})
            raise C.ConfigError(f"study {self.name!r} does not apply to {name} on {raw['dataset']}: "
                                f"its applies_to is {scope}")

    def point(self, selector: str | None) -> dict | None:
        """The grid point named by ``selector`` ('model.rank=3,train.batch_size=128' or its index)."""
        if not self.points:
            if selector:
                raise C.ConfigError(f"study {self.name!r} has no grid; drop --point")
            return None
        if selector is None:
            points = ", ".join(map(point_label, self.points))
            raise C.ConfigError(f"study {self.name!r} is a grid: choose --point from {points}")
        if selector.isdigit() and int(selector) < len(self.points):
            return self.points[int(selector)]
        wanted = {k: v for k, v in (C.parse_flat(x) for x in selector.split(","))}
        for p in self.points:
            if p == wanted:
                return p
        raise C.ConfigError(f"no point {selector!r} in study {self.name!r}; points: "
                            f"{', '.join(map(point_label, self.points))}")

    def resolution(self, profile: str, point: dict | None) -> dict:
        """The ``study`` argument of reprorec.config.resolve for one profile and grid point."""
        over = C.deep_merge(self.overrides, self.profiles.get(profile) or {})
        for key, value in (point or {}).items():
            over = C.deep_merge(over, C.parse_override(f"{key}={_yaml_scalar(value)}"))
        return {"name": self.name, "set": over, "point": dict(point) if point else None, "file": str(self.path)}


def _yaml_scalar(value: Any) -> str:
    import json

    return json.dumps(value)


def point_label(point: dict | None) -> str:
    return ",".join(f"{k}={v}" for k, v in point.items()) if point else ""


def studies_dir(paper: str) -> Path:
    return registry.PAPERS_DIR / paper / "configs" / "studies"


def names(paper: str) -> list[str]:
    return sorted(p.stem for p in studies_dir(paper).glob("*.yaml"))


def load(paper: str, name: str) -> Study:
    path = studies_dir(paper) / f"{name}.yaml"
    if not path.exists():
        known = names(paper)
        raise C.ConfigError(f"unknown study {name!r} for paper {paper!r}; known: {', '.join(known) or '(none)'}")
    data = C.read_yaml(path) or {}
    if not isinstance(data, dict):
        raise C.ConfigError(f"{path}: a study must be a YAML mapping")
    unknown = sorted(set(data) - STUDY_KEYS)
    if unknown:
        raise C.ConfigError(f"{unknown[0]} in {path}: unknown key; allowed: {', '.join(sorted(STUDY_KEYS))}")
    if data.get("name", name) != name:
        raise C.ConfigError(f"name in {path}: {data['name']!r} differs from the file name {name!r}")
    grid = data.get("grid") or ()
    if isinstance(grid, dict):  # product of value lists
        keys = list(grid)
        grid = [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))]
    applies = data.get("applies_to") or {}
    return Study(paper, name, " ".join(str(data.get("description", "")).split()), path,
                 tuple(applies.get("methods") or ()), tuple(applies.get("datasets") or ()),
                 data.get("set") or {}, data.get("profiles") or {}, tuple(dict(p) for p in grid),
                 tuple(data.get("reference") or ()), tuple(applies.get("experiments") or ()))


def label(record_or_cfg: dict) -> str | None:
    """The leaderboard label of a record's (or resolved config's) study, e.g. 'rank-batch: model.rank=3';
    None for a main experiment."""
    cfg = record_or_cfg.get("config", record_or_cfg)
    study = cfg.get("study")
    if not study:
        return None
    point = point_label(study.get("point"))
    return f"{study['name']}: {point}" if point else study["name"]


def jobs(study: Study, dataset: str | None = None, method: str | None = None) -> list[tuple[Path, dict | None]]:
    """(experiment file, grid point) for every experiment the study applies to, every point."""
    out = []
    for path, raw in registry.experiment_configs(study.paper):
        if (dataset and raw["dataset"] != dataset) or (method and raw["method"] != method):
            continue
        if study.applies_to_file(path, raw):
            out += [(path, p) for p in (study.points or (None,))]
    if not out:
        where = "".join(f" with {k} {v}" for k, v in (("dataset", dataset), ("method", method)) if v)
        raise C.ConfigError(f"study {study.name!r} applies to no experiment of {study.paper}{where}")
    return out


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="every run of a study (all its experiments and grid points) x seeds")
    p.add_argument("paper")
    p.add_argument("study")
    p.add_argument("--dataset")
    p.add_argument("--method")
    p.add_argument("--seeds", type=int, default=1, help="seeds 0..N-1 (default 1)")
    p.add_argument("--profile", default="full")
    p.add_argument("--rerun", action="store_true", help="re-run runs whose records exist")
    p.add_argument("--list", action="store_true", help="print the runs, run nothing")
    from .run_options import add_trainer_args

    add_trainer_args(p)
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args) -> int:
    from .experiment import run_experiment
    from .run_options import context_from_args

    registry.papers()
    study = load(args.paper, args.study)
    todo = [(path, point, seed) for path, point in jobs(study, args.dataset, args.method) for seed in range(args.seeds)]
    failed = 0
    for i, (path, point, seed) in enumerate(todo, 1):
        tag = f"[{i}/{len(todo)}] {path.stem} {point_label(point) or study.name} seed={seed}"
        if args.list:
            print(tag)
            continue
        try:
            out = run_experiment(path, profile=args.profile, seed=seed, study=study.resolution(args.profile, point),
                                 ctx=context_from_args(args), rerun=args.rerun)
            print(f"{tag}: {out.status} {out.path}", flush=True)
        except Exception as exc:  # keep going; say which failed
            failed += 1
            print(f"{tag}: FAILED {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    return 1 if failed else 0
