"""Result records: one JSON per finished run, with everything needed to trust and regenerate it.

Path: results/<paper>/<dataset>/<method>/<profile>/<seed>-<confighash>.json (tuned runs and
tuning trials add a suffix dir, see `record_path`). Writes are atomic (temp file + link), and a
record is never overwritten: an existing record means the run is done.

Trust: a record carries a ``digest`` (sha256 over the canonical JSON of the fields a reader cites:
metrics, config_hash, seed, and bootstrap replicates when present), so a number edited after the run
is detected; `check_record` returns what is wrong with a record (schema, config vs its hash, digest)
and the leaderboard refuses such records. Records written before digests existed are accepted as
*legacy* and labelled so. ``code`` names the commit, the git tree ids of the code, and whether the
working tree was dirty (see `code_state` for what counts).
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


# Paths whose changes do not make a tree "dirty": outputs and prose, which cannot change a number.
# Nothing under these is imported by a run: outputs, tests, prose, repository housekeeping.
NOT_CODE = ("results", "results-scratch", "reproduced", "leaderboards", "runs", "tests", "docs", "*.md", "**/*.md",
            "CITATION.cff", ".gitignore")
SCRATCH = "results-scratch"  # git-ignored: records made from uncommitted code land here
# A tuning command exports its tuned config here and at once runs the final seeds from it; until the YAML is
# committed it is untracked. Such a YAML is the command's output, not edited code: the records made from it
# carry its whole resolved config (hashed) and `tuned_from` (study, best trial), and it lands with them.
TUNED_EXPORTS = "reprorec/papers/*/configs/tuned/studies/*.yaml"


def results_dir() -> Path:
    return Path(os.environ.get("REPRO_RESULTS_DIR", REPO_ROOT / "results"))


def output_results_dir(say=print) -> Path:
    """Where a new record goes. $REPRO_RESULTS_DIR when set; else the committed results/ only when the
    code is clean (a committed record must be regenerable from a commit), otherwise results-scratch/."""
    if os.environ.get("REPRO_RESULTS_DIR"):
        return Path(os.environ["REPRO_RESULTS_DIR"])
    state = code_state()
    if state["dirty"] is False:
        return REPO_ROOT / "results"
    why = ", ".join(state.get("dirty_files", [])[:3]) or "git state unknown"
    say(f"[records] uncommitted code or configs ({why}): writing records to {SCRATCH}/, not results/ "
        f"(commit, then re-run, for a committable record)")
    return REPO_ROOT / SCRATCH


def record_path(paper: str, dataset: str, method: str, profile: str, seed: int, config_hash: str,
                kind: str = "run", root: Path | None = None) -> Path:
    """kind: 'run' (a normal run), 'tuned' (a final run of a tuned config) or 'trial-<study>' (a tuning trial)."""
    root = root or results_dir()
    base = root / paper / dataset / method / profile
    if kind != "run":
        base = base / kind
    return base / f"{seed}-{config_hash}.json"


def _git(*args):
    return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def dirty_files() -> list[str] | None:
    """Files that make the working tree differ from HEAD in a way that can change a number: modified,
    staged, deleted or untracked-but-not-ignored files anywhere except `NOT_CODE` (outputs and prose)
    and new (untracked) tuned-config exports (`TUNED_EXPORTS`; an edited committed one still counts).
    None when git cannot tell (no repository)."""
    import fnmatch

    excludes = [f":(exclude,glob){p}" if "*" in p else f":(exclude){p}" for p in NOT_CODE]
    status = _git("status", "--porcelain", "--untracked-files=all", "--", ".", *excludes)
    if status.returncode != 0:
        return None
    return sorted(line[3:] for line in status.stdout.splitlines()
                  if line.strip() and not (line.startswith("??") and fnmatch.fnmatch(line[3:], TUNED_EXPORTS)))


@functools.lru_cache(maxsize=8)
def code_state(paper: str | None = None) -> dict[str, Any]:
    """Git commit, dirty flag (see `dirty_files`), and the git *tree* ids of reprorec/ and
    reprorec/papers/<paper>/: unlike a commit id, a tree id survives rebases and cherry-picks, so a record
    can be matched to the exact code that made it even when history was rewritten."""
    try:
        commit = _git("rev-parse", "HEAD").stdout.strip() or None
        files = dirty_files()
        trees = {"reprorec": _git("rev-parse", "HEAD:reprorec").stdout.strip() or None}
        if paper:
            trees[f"reprorec/papers/{paper}"] = _git("rev-parse", f"HEAD:reprorec/papers/{paper}").stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit, files, trees = None, None, {}
    state = {"commit": commit, "dirty": None if files is None else bool(files), "trees": trees}
    if files:
        state["dirty_files"] = files[:20]
    return state


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
def _machine() -> dict[str, Any]:
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
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "gpu": gpu, "platform": platform.platform(),
            "machine": platform.machine()}


def hardware() -> dict[str, Any]:
    """The machine, and the torch thread count in effect now (read each time: set_threads may change it,
    and it changes float summation order, so `verify` compares it)."""
    import torch

    return {**_machine(), "torch_threads": torch.get_num_threads()}


def build_record(*, cfg: dict, config_hash: str, seed: int, metrics: dict, data_files: dict, split_fingerprint: str | None,
                 wall_time_s: float, epochs: int | None, tuned_from: dict | None = None, extra: dict | None = None) -> dict:
    """The record of one run. A method's ``extra`` adds fields; its ``data`` entries (row counts, positive
    rates) are added to the data block, never replace it: the files' checksums and the split fingerprint
    are what pairs runs and proves which data a number came from."""
    extra = dict(extra or {})
    data_info = extra.pop("data", None) or {}
    clash = sorted(set(data_info) & {"files", "split"})
    if clash:
        raise ValueError(f"a method's record data may not set {clash}: they are the run's provenance")
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
        "data": {"files": dict(sorted(data_files.items())), "split": split_fingerprint, **data_info},
        "code": code_state(cfg["paper"]),
        "env": environment(),
        "hardware": hardware(),
        "wall_time_s": round(wall_time_s, 3),
        "epochs": epochs,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


DIGESTED = ("metrics", "config_hash", "seed", "bootstrap")  # the fields a reader cites


def digest(record: dict) -> dict:
    """sha256 over the canonical JSON of the cited fields present in ``record``, with the list it covers."""
    covers = [k for k in DIGESTED if k in record]
    blob = json.dumps({k: record[k] for k in covers}, sort_keys=True, separators=(",", ":"), default=_jsonable)
    return {"sha256": hashlib.sha256(blob.encode()).hexdigest(), "covers": covers}


def check_record(record: dict) -> list[str]:
    """What is wrong with a record, as short phrases; [] when it can be published.

    Schema (types of the fields a table is built from), the config against its hash (catches an edited
    config), the digest (catches edited metrics), and the method's config schema when the config module
    provides one (`validate_config`). A record without a digest is legacy, not wrong: see `is_legacy`.
    """
    from . import config as C

    problems = []
    for key, kind in (("paper", str), ("dataset", str), ("method", str), ("seed", int), ("metrics", dict),
                      ("config", dict), ("config_hash", str)):
        if not isinstance(record.get(key), kind) or isinstance(record.get(key), bool):
            problems.append(f"field {key!r} missing or not {kind.__name__}")
    if problems:
        return problems
    for split, ms in record["metrics"].items():
        if not isinstance(ms, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                               for v in ms.values()):
            problems.append(f"metrics.{split} is not a mapping of numbers")
    if C.config_hash(record["config"]) != record["config_hash"]:
        problems.append(f"config does not match config_hash {record['config_hash']} (edited after writing?)")
    validate = getattr(C, "validate_config", None)
    if validate is not None and _registered(record["paper"], record["method"]):
        try:
            problems += [f"config: {p}" for p in validate(record["config"])]
        except Exception as exc:  # a validator that cannot read an old record must not hide the table
            problems.append(f"config could not be validated: {type(exc).__name__}: {exc}")
    if "digest" in record:
        d = record["digest"]
        if not isinstance(d, dict) or not isinstance(d.get("covers"), list):
            problems.append("digest is malformed")
        else:
            sub = {k: record[k] for k in d["covers"] if k in record}
            if set(d["covers"]) - set(sub) or digest(sub)["sha256"] != d.get("sha256") \
                    or [k for k in DIGESTED if k in record and k not in d["covers"]]:
                problems.append("metrics digest mismatch: edited after writing")
    return problems


def _registered(paper: str, method: str) -> bool:
    """Whether the method still exists: a record of a removed method cannot be checked against a schema."""
    from . import registry

    try:
        registry.method(paper, method)
        return True
    except KeyError:
        return False


def is_legacy(record: dict) -> bool:
    """Written before records carried a digest: accepted, but an edit to its numbers cannot be detected."""
    return "digest" not in record


class RecordExists(FileExistsError):
    pass


def check_writable(folder: Path) -> None:
    """Fail now, before hours of training, if a record could not be written into ``folder``."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".writable.", suffix=".tmp")
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise PermissionError(f"results folder {folder} is not writable ({exc.strerror or exc}); "
                              f"fix its permissions or set REPRO_RESULTS_DIR") from None


def write_record(record: dict, path: Path) -> Path:
    """Atomically create ``path`` (mode 0644, with its digest); refuse (RecordExists) if a record is already there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record["digest"] = digest({k: v for k, v in record.items() if k != "digest"})
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # records are shared files, readable by everyone (mkstemp makes 0600)
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


def iter_checked_records(root: Path | None = None, refused: list | None = None):
    """`iter_records` without the records `check_record` refuses; each refusal is appended to
    ``refused`` as (path, problems)."""
    for rec in iter_records(root):
        problems = check_record(rec)
        if problems:
            if refused is not None:
                refused.append((rec["_path"], problems))
            continue
        yield rec
