"""Result records: one JSON per finished run, with everything needed to trust and regenerate it.

Path: results/<paper>/<dataset>/<method>/<profile>/<seed>-<confighash>.json (tuned runs and
tuning trials add a suffix dir, see `record_path`). Writes are atomic (temp file + link), and a
record is never overwritten: an existing record means the run is done.
"""
from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SCHEMA = 1
REPO_ROOT = Path(__file__).resolve().parent.parent


def results_dir() -> Path:
    return Path(os.environ.get("REPRO_RESULTS_DIR", REPO_ROOT / "results"))


def record_path(paper: str, dataset: str, method: str, profile: str, seed: int, config_hash: str,
                kind: str = "run", root: Path | None = None) -> Path:
    """kind: 'run' (a normal run), 'tuned' (a final run of a tuned config) or 'trial-<study>' (a tuning trial)."""
    root = root or results_dir()
    base = root / paper / dataset / method / profile
    if kind != "run":
        base = base / kind
    return base / f"{seed}-{config_hash}.json"


@functools.lru_cache(maxsize=8)
def code_state(paper: str | None = None) -> dict[str, Any]:
    """Git commit, dirty flag (results/ and leaderboards/ excluded), and the git *tree* ids of reprorec/
    and reprorec/papers/<paper>/: unlike a commit id, a tree id survives rebases and cherry-picks, so a record
    can be matched to the exact code that made it even when history was rewritten."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)

    try:
        commit = git("rev-parse", "HEAD").stdout.strip() or None
        status = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!results", ":!leaderboards")
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        trees = {"reprorec": git("rev-parse", "HEAD:reprorec").stdout.strip() or None}
        if paper:
            trees[f"reprorec/papers/{paper}"] = git("rev-parse", f"HEAD:reprorec/papers/{paper}").stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit, dirty, trees = None, None, {}
    return {"commit": commit, "dirty": dirty, "trees": trees}


def source_fingerprint(*paths: str) -> str:
    """sha256 (16 hex) of the Python source under ``paths`` (files or folders, relative to the repo).

    For cache keys of expensive intermediate results (pretrained facet/KGE vectors): a cache keyed
    by config alone outlives a change to the code that computed it, and a run would then read vectors
    a clean clone cannot regenerate. With this in the key, editing that code retrains instead.
    """
    h = hashlib.sha256()
    for rel in paths:
        root = REPO_ROOT / rel
        for f in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            h.update(str(f.relative_to(REPO_ROOT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def environment() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    env = {"python": platform.python_version()}
    for pkg in ("torch", "lightning", "torchmetrics", "optuna", "numpy", "pandas", "pyarrow", "scipy", "scikit-learn",
                "datasets"):
        try:
            env[pkg] = version(pkg)
        except PackageNotFoundError:
            env[pkg] = None
    return env


@functools.lru_cache(maxsize=1)
def hardware() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "gpu": gpu, "torch_threads": torch.get_num_threads()}


def build_record(*, cfg: dict, config_hash: str, seed: int, metrics: dict, data_files: dict, split_fingerprint: str | None,
                 wall_time_s: float, epochs: int | None, tuned_from: dict | None = None, extra: dict | None = None) -> dict:
    return {
        "schema": SCHEMA,
        "paper": cfg["paper"],
        "dataset": cfg["dataset"],
        "method": cfg["method"],
        "profile": cfg.get("profile"),
        "seed": seed,
        "tuned_from": tuned_from,
        "metrics": metrics,
        "config": {k: v for k, v in cfg.items()
                   if not k.startswith("_") and k not in ("profiles", "reference", "tuned_from")},
        "config_hash": config_hash,
        "config_file": os.path.relpath(cfg["_file"], REPO_ROOT) if cfg.get("_file") else None,
        "data": {"files": dict(sorted(data_files.items())), "split": split_fingerprint},
        "code": code_state(cfg["paper"]),
        "env": environment(),
        "hardware": hardware(),
        "wall_time_s": round(wall_time_s, 3),
        "epochs": epochs,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **(extra or {}),
    }


class RecordExists(FileExistsError):
    pass


def write_record(record: dict, path: Path) -> Path:
    """Atomically create ``path``; refuse (RecordExists) if a record is already there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=2, sort_keys=True, default=_jsonable)
            f.write("\n")
        os.link(tmp, path)  # fails if path exists: never overwrite another run's record
    except FileExistsError:
        raise RecordExists(f"a record already exists at {path}") from None
    finally:
        os.unlink(tmp)
    return path


def _jsonable(obj):
    import numpy as np

    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def iter_records(root: Path | None = None):
    root = root or results_dir()
    for path in sorted(root.rglob("*.json")):
        try:
            with open(path) as f:
                rec = json.load(f)
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(rec, dict) and rec.get("schema") == SCHEMA and "paper" in rec:
            rec["_path"] = str(path)
            yield rec
