"""Result records grouped into leaderboard rows, with everything a reader needs to cite or regenerate one.

One row = one (paper, dataset, method, profile, study, tuned, config hash): the seeds of one exact
configuration. Each row carries mean, sample std and a 95 % Student-t interval of every metric over
its seeds, the seeds, the record paths, the commits that made them, the data checksums and split
fingerprints, and the commands that regenerate it. Tuning trials are not rows.
"""
from __future__ import annotations

import functools
import math
import re
import shlex
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .. import config as C
from ..records import REPO_ROOT, iter_records

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

    @property
    def id(self) -> str:
        parts = [self.paper, self.dataset, self.method, self.profile, self.study or "main",
                 "tuned" if self.tuned else "default", self.config_hash]
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(parts))

    @property
    def label(self) -> str:
        out = self.method
        if self.study:
            out += f" [study {self.study}]"
        if self.tuned:
            out += f" (tuned: {self.tuned.get('study')}, {self.tuned.get('n_trials')} trials)"
        return out

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
        """Shell commands that re-run every seed of this row and one that re-checks a record."""
        base = ["reprorec", "run", self.paper, self.method, "--dataset", self.dataset, "--profile", self.profile]
        if self.tuned:
            base.append("--tuned")
        if self.study:
            base += ["--study", self.study]
        seeds = " ".join(map(str, self.seeds))
        cmd = " ".join(shlex.quote(x) for x in base)
        return [f"for s in {seeds}; do {cmd} --seed $s; done",
                f"reprorec verify {shlex.quote(self.record_paths[0])}"]


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


def study_of(rec: dict) -> str | None:
    s = (rec.get("config") or {}).get("study")
    if isinstance(s, dict):
        s = s.get("name")
    if s:
        return str(s)
    m = re.search(r"/study-([^/]+)/", rec.get("_path", ""))
    return m.group(1) if m else None


def group(records) -> list[Row]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("trial") is not None or "/trial-" in r.get("_path", ""):
            continue  # tuning trials are not results
        tuned = r.get("tuned_from") or None
        key = (r["paper"], r["dataset"], r["method"], r.get("profile") or "", study_of(r),
               bool(tuned), r["config_hash"])
        groups[key].append(r)
    rows = []
    for key, recs in sorted(groups.items(), key=lambda kv: tuple("" if x is None else str(x) for x in kv[0])):
        recs.sort(key=lambda r: (r["seed"], r.get("_path", "")))
        first = recs[0]
        stats = {}
        for split in ("test", "val"):
            for m in sorted({m for r in recs for m in (r.get("metrics") or {}).get(split, {})}):
                vals = [r["metrics"][split][m] for r in recs
                        if isinstance(r["metrics"].get(split, {}).get(m), (int, float))]
                if vals:
                    stats[f"{split}/{m}"] = t_interval([float(v) for v in vals])
        rows.append(Row(paper=key[0], dataset=key[1], method=key[2], profile=key[3], study=key[4],
                        tuned=first.get("tuned_from") or None, config_hash=key[6], records=recs, stats=stats,
                        primary=C.get(first["config"], "metric.name"), mode=C.get(first["config"], "metric.mode", "min")))
    return rows


def rows(paper: str | None = None, results_root: Path | None = None) -> list[Row]:
    return group(r for r in iter_records(results_root) if paper is None or r["paper"] == paper)


@functools.lru_cache(maxsize=None)
def _configs(paper: str) -> dict[tuple[str, str], dict]:
    from .. import registry

    out = {}
    for path in registry.config_files(paper):
        cfg = C.load(path)
        out.setdefault((cfg["dataset"], cfg["method"]), cfg)
    return out


def profile_overrides(paper: str, dataset: str, method: str) -> dict[str, dict]:
    """The experiment's config ``profiles`` block: what each profile changes relative to the file."""
    cfg = _configs(paper).get((dataset, method))
    return (cfg or {}).get("profiles") or {}


def flatten(d: dict, prefix: str = "") -> dict[str, object]:
    out = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out
