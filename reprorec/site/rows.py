"""Leaderboard rows with everything a reader needs to cite or regenerate one.

The grouping is the leaderboard's (``reprorec.leaderboard.rows``: one row per exact configuration, the
seeds of one config hash; tuning trials and refused records left out). Each row here also carries its
records, mean, sample std and a 95 % Student-t interval of every metric over its seeds, the commits
that made them, the data checksums and split fingerprints, and the commands that regenerate it.
"""
from __future__ import annotations

import math
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from .. import config as C
from ..records import REPO_ROOT

CI_LEVEL = 0.95


@dataclass
class Stat:
    mean: float
    std: float | None
    n: int
    lo: float | None  # Student-t interval over seeds; None with one seed
    hi: float | None
    values: list[float] = field(default_factory=list)


def t_interval(values: list[float], level: float = CI_LEVEL) -> Stat:
    """Mean, sample std and the two-sided Student-t interval of the mean (seeds as the sample)."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return Stat(mean, None, n, None, None, list(values))
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    from scipy.stats import t

    half = float(t.ppf(0.5 + level / 2, n - 1)) * std / math.sqrt(n)
    return Stat(mean, std, n, mean - half, mean + half, list(values))


@dataclass
class Row:
    paper: str
    dataset: str
    method: str
    profile: str
    study: str | None
    tuned: dict | None
    config_hash: str
    records: list[dict]
    stats: dict[str, Stat]  # "test/auc" -> Stat
    primary: str | None
    mode: str
    display: str = ""  # the leaderboard's label: method, study, tuning study, differing config keys
    variant: list = field(default_factory=list)  # `key=value`s that differ from the experiment's config

    @property
    def id(self) -> str:
        parts = [self.paper, self.dataset, self.method, self.profile, self.study or "main",
                 "tuned" if self.tuned else "default", self.config_hash]
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts))

    @property
    def label(self) -> str:
        return self.display or self.method

    @property
    def seeds(self) -> list[int]:
        return [r["seed"] for r in self.records]

    @property
    def note(self) -> str:
        return C.get(self.records[0]["config"], "leaderboard_note", "") or ""

    @property
    def config_file(self) -> str | None:
        f = self.records[0].get("config_file")
        if f and not (REPO_ROOT / f).exists() and (REPO_ROOT / "reprorec" / f).exists():
            f = "reprorec/" + f  # records made before papers/ moved into the package
        return f

    @property
    def record_paths(self) -> list[str]:
        return [_rel(r["_path"]) for r in self.records]

    @property
    def commits(self) -> list[str]:
        out = []
        for r in self.records:
            code = r.get("code") or {}
            c = (code.get("commit") or "unknown") + ("+dirty" if code.get("dirty") else "")
            if c not in out:
                out.append(c)
        return out

    @property
    def split_fingerprints(self) -> list[str]:
        return sorted({(r.get("data") or {}).get("split") for r in self.records} - {None})

    def data_files(self) -> tuple[dict[str, str], str]:
        """{raw file: sha256} and where the checksums come from: the records themselves, or (for records
        that do not list their files) the dataset catalogue's pinned checksums."""
        files: dict[str, str] = {}
        for r in self.records:
            files.update((r.get("data") or {}).get("files") or {})
        if files:
            return dict(sorted(files.items())), "records"
        entry = catalogue_entry(self.dataset)
        if entry is None:
            return {}, "none"
        return ({rf.path: rf.sha256 or "(not pinned)" for rf in entry.raw_files()},
                f"the catalogue entry {entry.name}: these records do not list the files they read")

    def regenerate(self) -> list[str]:
        """Shell commands: ``reprorec verify`` on the row's records (re-runs each record's exact config and
        seed and compares the numbers: exact for every row), preceded, where the config can be named on
        the command line (the experiment's file, its tuned file, or ``--set`` for the keys that differ),
        by the ``reprorec run`` loop that writes fresh records."""
        verify = "reprorec verify " + " ".join(shlex.quote(p) for p in self.record_paths)
        if self.study or any(v.startswith("-") for v in self.variant):
            return [verify]  # a study point or a removed key: only the record's own config says it exactly
        base = ["reprorec", "run", self.paper, self.method, "--dataset", self.dataset, "--profile", self.profile]
        if self.tuned:
            base.append("--tuned")
        else:
            for v in self.variant:
                base += ["--set", v]
        seeds = " ".join(map(str, self.seeds))
        return [f"for s in {seeds}; do {' '.join(shlex.quote(x) for x in base)} --seed $s; done", verify]


def _rel(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def catalogue_entry(dataset: str):
    """The catalogue entry a (possibly derived) dataset name comes from: the exact name, else the longest
    catalogue name it starts with (``ml-100k-ctr`` -> ``ml-100k``)."""
    from .. import data

    cat = data.catalogue()
    if dataset in cat:
        return cat[dataset]
    best = max((n for n in cat if dataset.startswith(n + "-")), key=len, default=None)
    return cat[best] if best else None


def rows(paper: str | None = None, results_root: Path | None = None, refused: list | None = None) -> list[Row]:
    """The leaderboard's rows (``reprorec.leaderboard.rows``: records that pass ``check_record``, one row
    per paper, dataset, profile, method, study, config hash and tuning study) with their records attached
    and intervals computed. Refused records are appended to ``refused`` as (path, problems)."""
    from ..leaderboard import rows as leaderboard_rows
    from ..records import iter_checked_records

    recs = [r for r in iter_checked_records(results_root, refused) if paper is None or r["paper"] == paper]
    by_path = {os.path.relpath(r["_path"], REPO_ROOT): r for r in recs}
    out = []
    for lr in leaderboard_rows(records=recs):
        records = [by_path[p] for p in lr["records"]]
        stats = {}
        for split in ("test", "val"):
            for m in sorted({m for r in records for m in (r.get("metrics") or {}).get(split, {})}):
                vals = [float(r["metrics"][split][m]) for r in records if m in r["metrics"].get(split, {})]
                if vals:
                    stats[f"{split}/{m}"] = t_interval(vals)
        out.append(Row(paper=lr["paper"], dataset=lr["dataset"], method=lr["base_method"], profile=lr["profile"] or "",
                       study=lr["study"], tuned=lr["tuned_from"] or None, config_hash=lr["config_hash"],
                       records=records, stats=stats, primary=lr["primary"], mode=lr["mode"], display=lr["method"],
                       variant=list(lr.get("variant") or [])))
    return out
