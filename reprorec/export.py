"""`reprorec export results`: every result record as one row of a table, for pandas / HF `datasets` users.

Columns: the record's identity (paper, dataset, method, profile, study, tuned, seed, config hash),
one column per metric (``test/auc``, ``val/mse``...), provenance (commit, dirty, split fingerprint,
data files as JSON, record path, created) and the resolved config as a JSON string. Tuning trials are
included with their ``kind`` so nothing is hidden; filter on ``kind == "run"`` for the leaderboard's rows.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .records import REPO_ROOT, iter_records

FORMATS = ("parquet", "csv", "jsonl", "dataset")


def _kind(rec: dict) -> str:
    path = rec.get("_path", "")
    if rec.get("trial") is not None or "/trial-" in path:
        return "trial"
    return "tuned" if rec.get("tuned_from") else "run"


def results_frame(results_root: Path | None = None) -> pd.DataFrame:
    from .leaderboard import study_name
    from .site.rows import _rel

    rows = []
    for rec in iter_records(results_root):
        code = rec.get("code") or {}
        data = rec.get("data") or {}
        row = {"paper": rec["paper"], "dataset": rec["dataset"], "method": rec["method"],
               "profile": rec.get("profile"), "study": study_name(rec.get("config") or {}), "kind": _kind(rec), "seed": rec.get("seed"),
               "config_hash": rec.get("config_hash"), "config_file": rec.get("config_file"),
               "commit": code.get("commit"), "dirty": code.get("dirty"), "split_fingerprint": data.get("split"),
               "data_files": json.dumps(data.get("files") or {}, sort_keys=True),
               "wall_time_s": rec.get("wall_time_s"), "epochs": rec.get("epochs"), "created": rec.get("created"),
               "record_path": _rel(rec["_path"]),
               "config": json.dumps(rec.get("config") or {}, sort_keys=True, default=str)}
        for split, ms in sorted((rec.get("metrics") or {}).items()):
            if isinstance(ms, dict):
                for m, v in sorted(ms.items()):
                    if isinstance(v, (int, float)) and not isinstance(v, bool):
                        row[f"{split}/{m}"] = float(v)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    fixed = [c for c in frame.columns if "/" not in c]
    metrics = sorted(c for c in frame.columns if "/" in c)
    frame = frame[fixed + metrics]
    frame["seed"] = frame["seed"].astype("Int64")
    frame["epochs"] = frame["epochs"].astype("Int64")
    return frame.sort_values(["paper", "dataset", "method", "profile", "kind", "config_hash", "seed"],
                             na_position="first", kind="stable").reset_index(drop=True)


def results_dataset(results_root: Path | None = None):
    """The same table as a Hugging Face ``datasets.Dataset``."""
    import datasets

    return datasets.Dataset.from_pandas(results_frame(results_root), preserve_index=False)


def export_results(out: Path, fmt: str = "parquet", results_root: Path | None = None) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dataset":
        results_dataset(results_root).save_to_disk(str(out))
        return out
    frame = results_frame(results_root)
    if fmt == "parquet":
        frame.to_parquet(out, index=False)
    elif fmt == "csv":
        frame.to_csv(out, index=False)
    elif fmt == "jsonl":
        frame.to_json(out, orient="records", lines=True)
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return out


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export results/ as a table (parquet, csv, jsonl, or a HF datasets folder)")
    p.add_argument("what", choices=["results"])
    p.add_argument("--format", default="parquet", choices=FORMATS)
    p.add_argument("--out", help="output file (folder for --format dataset); default build/results.<ext>")
    p.set_defaults(func=_cmd)


def _cmd(args) -> int:
    ext = {"dataset": ""}.get(args.format, "." + args.format)
    out = Path(args.out) if args.out else REPO_ROOT / "build" / f"results{ext or '-dataset'}"
    export_results(out, args.format)
    print(out)
    return 0
