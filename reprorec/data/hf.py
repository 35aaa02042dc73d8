"""Hugging Face `datasets` views of the catalogue: exact splits as a DatasetDict, and out-of-core Arrow
caches of the full CTR logs.

* ``export(name, split=...)``: a dataset's table cut by one of ``reprorec.data.splits``' seeded splits
  into a ``DatasetDict`` (train/val/test). Each row keeps its position in the source table (``_row``) and
  the split's fingerprint -- the same 16 hex digits a result record stores under ``data.split`` for the
  same split -- travels in every part's ``info.description`` and in ``reprorec_split.json`` beside a saved
  copy, with the raw files' sha256.
* ``arrow_stream(path, fmt)``: the full Criteo / Avazu text files parsed block by block (pyarrow's CSV
  reader, the same types as ``criteo.iter_batches`` / ``avazu.iter_batches``) and written through
  ``datasets``' ``ArrowWriter`` into one Arrow file that is then memory-mapped: peak memory is one block,
  whatever the number of rows (benchmarks/hf_stream_rss.py measures it).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from . import amazon, avazu, criteo, get, kg, movielens, splits
from .base import DatasetError, _verified_sha256, cache_dir

SPLITS = ("random", "leave_last_out", "time_cut", "files", "all")
STREAM_VERSION = 1


def _table(name: str) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """{part: frame} (one part 'all' unless the files come split) and {raw file: sha256}."""
    mod = get(name).module
    if mod is movielens:
        t = movielens.load_ratings(name)
        return {"all": t.frame}, t.files
    if mod is amazon:
        t = amazon.load_reviews(name)
        return {"all": t.frame}, t.files
    if mod is kg:
        t = kg.load_triples(name)
        return {"all": t.frame}, t.files
    if mod in (criteo, avazu) and name not in ("criteo", "avazu"):
        parts = mod.load(name)
        files = {k: v for t in parts.values() for k, v in t.files.items()}
        return {p: t.frame for p, t in parts.items()}, files
    raise DatasetError(f"[{name}] no table export for this dataset (the full CTR logs: use --split all, which "
                       "streams them into an Arrow cache; tensors: not supported)")


def export(name: str, split: str = "random", *, seed: int = 0, ratios=(0.8, 0.1, 0.1), val_start=None,
           test_start=None):
    """``(DatasetDict, info)`` for ``name`` cut by ``split``; info holds the split spec, its fingerprint
    and the raw files' sha256."""
    import datasets

    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if name in ("criteo", "avazu"):
        if split != "all":
            raise DatasetError(f"[{name}] the full log is exported whole (--split all) and streamed out of core")
        mod = criteo if name == "criteo" else avazu
        path = criteo.locate("criteo") if name == "criteo" else _avazu_path()
        ds = arrow_stream(path, name)
        idx = {"train": np.arange(ds.num_rows, dtype=np.int64)}
        info = {"dataset": name, "split": {"kind": "all"}, "fingerprint": splits.fingerprint(idx),
                "files": {mod.raw_files(name)[0].path: _verified_sha256(path)}, "rows": {"train": ds.num_rows}}
        return datasets.DatasetDict({"train": ds}), info
    parts, files = _table(name)
    spec: dict = {"kind": split}
    if split == "files":
        idx = {p: np.arange(len(f), dtype=np.int64) for p, f in parts.items()}
        dd = {p: (f, idx[p]) for p, f in parts.items()}
    else:
        if "all" not in parts:
            if split != "all":
                raise DatasetError(f"[{name}] comes as train/test files: use --split files")
        frame = parts.get("all")
        if frame is None:
            frame = pd.concat([parts[p] for p in sorted(parts)], ignore_index=True)
        n = len(frame)
        if split == "all":
            idx = {"train": np.arange(n, dtype=np.int64)}
        else:
            users = frame["user_id"].to_numpy() if "user_id" in frame else None
            times = frame["timestamp"].to_numpy() if "timestamp" in frame else None
            kw = {}
            if split == "random":
                kw["ratios"] = tuple(float(r) for r in ratios)
                spec.update(seed=seed, ratios=list(kw["ratios"]))
            elif split == "leave_last_out":
                spec["seed"] = seed
            else:
                kw.update(val_start=val_start, test_start=test_start)
                spec.update(val_start=val_start, test_start=test_start)
            idx = splits.make_split(split, n=n, users=users, times=times, seed=seed, **kw)
        dd = {p: (frame, i) for p, i in idx.items()}
    fp = splits.fingerprint(idx)
    info = {"dataset": name, "split": spec, "fingerprint": fp, "files": dict(sorted(files.items())),
            "rows": {p: int(len(i)) for p, i in idx.items()}}
    out = {}
    for part, (frame, rows) in dd.items():
        sub = frame.iloc[rows].reset_index(drop=True).assign(_row=rows)
        desc = json.dumps({**info, "part": part}, sort_keys=True)
        out[part] = datasets.Dataset.from_pandas(sub, preserve_index=False,
                                                 info=datasets.DatasetInfo(description=desc))
    return datasets.DatasetDict(out), info


def save(dd, info: dict, out: Path) -> Path:
    out = Path(out)
    dd.save_to_disk(str(out))
    (out / "reprorec_split.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return out


def _avazu_path() -> Path:
    from .base import resolve

    paths, _ = resolve("avazu", avazu.raw_files("avazu"))
    return next(iter(paths.values()))


def _batches(path: Path, fmt: str, block_size: int) -> Iterator:
    if fmt in ("criteo", "criteo-format"):
        return criteo.iter_batches(path, block_size=block_size)
    if fmt in ("avazu", "avazu-format"):
        return avazu.iter_batches(path, header=True, block_size=block_size)
    raise ValueError(f"unknown format {fmt!r}: criteo or avazu")


def arrow_stream(path: Path, fmt: str, *, block_size: int = 16 << 20, max_rows: int | None = None,
                 cache: Path | None = None, progress: bool | None = None):
    """The text log at ``path`` as a memory-mapped ``datasets.Dataset``, converted block by block.

    The Arrow file is cached under ``cache`` (default: the processed-table cache) keyed by the file's
    content sha256, the format, ``max_rows`` and the parser version, so a changed file is re-read.
    """
    import datasets
    import pyarrow as pa
    from datasets.arrow_writer import ArrowWriter

    from ..progress import bar

    path = Path(path)
    st = path.stat()
    ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{fmt}|{max_rows}|{STREAM_VERSION}"
    key = hashlib.sha256(ident.encode()).hexdigest()[:16]
    folder = Path(cache or cache_dir()) / f"stream-{fmt}-v{STREAM_VERSION}-{key}"
    arrow = folder / "data.arrow"
    if not arrow.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
        try:
            rows = 0
            with ArrowWriter(path=str(tmp / "data.arrow")) as writer, \
                    bar(unit=" rows", unit_scale=True, desc=f"arrow {path.name}", enable=progress) as pb:
                for batch in _batches(path, fmt, block_size):
                    if max_rows is not None and rows + batch.num_rows > max_rows:
                        batch = batch.slice(0, max_rows - rows)
                    writer.write_table(pa.Table.from_batches([batch]))
                    rows += batch.num_rows
                    pb.update(batch.num_rows)
                    if max_rows is not None and rows >= max_rows:
                        break
                writer.finalize()
            try:
                os.rename(tmp, folder)
            except OSError:
                pass  # another process made the same file
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return datasets.Dataset.from_file(str(arrow))


def add_export_args(p) -> None:
    g = p.add_argument_group("export (HF datasets)")
    g.add_argument("--split", default=None, choices=SPLITS,
                   help="random | leave_last_out | time_cut | files (the files' own train/test) | all (default: "
                        "random for tables, files for CTR slices, all for the full logs)")
    g.add_argument("--seed", type=int, default=0, help="split seed (a record's split seed is its run seed)")
    g.add_argument("--ratios", default="0.8,0.1,0.1", help="train,val,test ratios for --split random")
    g.add_argument("--val-start", type=float, help="time_cut: timestamp or quantile in (0, 1)")
    g.add_argument("--test-start", type=float, help="time_cut: timestamp or quantile in (0, 1)")
    g.add_argument("--out", help="save the DatasetDict here (default build/data/<name>-<split>[-seed])")


def cmd_export(args) -> int:
    from ..records import REPO_ROOT

    if len(args.names) != 1:
        raise ValueError("data export takes one dataset name")
    name = args.names[0]
    split = args.split or ("all" if name in ("criteo", "avazu") else
                           "files" if get(name).module in (criteo, avazu) else "random")
    dd, info = export(name, split, seed=args.seed, ratios=[float(x) for x in args.ratios.split(",")],
                      val_start=args.val_start, test_start=args.test_start)
    suffix = f"-seed{args.seed}" if split in ("random", "leave_last_out") else ""
    out = Path(args.out) if args.out else REPO_ROOT / "build" / "data" / f"{name}-{split}{suffix}"
    save(dd, info, out)
    print(dd)
    print(f"split fingerprint {info['fingerprint']}  ({json.dumps(info['split'])})")
    print(f"saved to {out} (load with datasets.load_from_disk)")
    return 0
