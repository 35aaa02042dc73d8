"""The one record writer of benchmarks/: results/benchmarks/<name>.json, one schema, written atomically.

Every benchmark passes its repetitions (one dict per process it timed) and its summary; this adds what
makes the record checkable: the commit and git tree ids of the code that ran (``reprorec.records.code_state``,
with a dirty flag: a record from uncommitted code does not verify, so ``write`` refuses it unless told
otherwise), the package versions, the hardware, the thread count, and the load average of the shared
machine at the start and end of each repetition (``load_fields``, called by the workers).

Schema (``BENCH_SCHEMA``)::

    {"benchmark", "schema", "created", "code", "env", "hardware", "threads", "settings", "data", "peers",
     "reps": [{"impl", "rep", "seed", "cpu_s", "wall_s", <throughput>, "loadavg_1min_start", "loadavg_1min_end", ...}],
     "summary": {...}}

Ratios in a summary come from ``ratio_summary``: the ratio of the medians and the range of the per-rep ratios
(rep r of one implementation over rep r of the other, run back to back), so the spread travels with the ratio.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_SCHEMA = 1


def load_fields(prefix: str) -> dict:
    """{'loadavg_1min_<prefix>': ...}: how busy the shared machine was at this moment."""
    return {f"loadavg_1min_{prefix}": round(os.getloadavg()[0], 2)}


def ratio_summary(reps: list[dict], num: str, den: str, key: str) -> dict:
    """Ratio of ``key`` between implementations ``num`` and ``den``: ratio of medians, per-rep ratios."""
    a = {r["rep"]: r[key] for r in reps if r["impl"] == num}
    b = {r["rep"]: r[key] for r in reps if r["impl"] == den}
    paired = sorted(set(a) & set(b))
    if not paired:
        return {}
    per_rep = [a[k] / b[k] for k in paired]
    return {"numerator": num, "denominator": den, "metric": key, "reps": len(paired),
            "ratio_of_medians": statistics.median(a[k] for k in paired) / statistics.median(b[k] for k in paired),
            "per_rep": per_rep, "per_rep_min": min(per_rep), "per_rep_max": max(per_rep)}


def write(name: str, *, reps: list[dict], summary: dict, settings: dict, data: dict | None = None,
          peers: dict | None = None, threads: int = 1, allow_dirty: bool = False, out_dir: Path | None = None) -> Path:
    """Write results/benchmarks/<name>.json (temp file + rename: never a torn record)."""
    sys.path.insert(0, str(REPO))
    from reprorec.records import code_state, environment, hardware

    code = code_state()
    if code.get("dirty") and not allow_dirty:
        raise SystemExit(f"refusing to write benchmark record {name!r} from uncommitted code (commit, or run from a "
                         "clean worktree at a main commit; --allow-dirty for a throwaway)")
    loads = [r[k] for r in reps for k in ("loadavg_1min_start", "loadavg_1min_end") if k in r]
    record = {"benchmark": name, "schema": BENCH_SCHEMA,
              "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "code": code, "env": environment(), "hardware": hardware(), "threads": threads,
              "settings": settings, "data": data or {}, "peers": peers or {}, "reps": reps,
              "load": {"min": min(loads), "max": max(loads), "median": round(statistics.median(loads), 2)} if loads else {},
              "summary": summary}
    out_dir = Path(out_dir or REPO / "results" / "benchmarks")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)
    return path


def fmt_ratio(s: dict) -> str:
    """'2.31× [2.10–2.52]': ratio of medians with the range of the per-rep ratios."""
    if not s:
        return "-"
    return f"{s['ratio_of_medians']:.2f}× [{s['per_rep_min']:.2f}–{s['per_rep_max']:.2f}]"
