"""Avazu Click-Through Rate Prediction (Kaggle 2014) format.

``train.csv``: comma separated, a header, 24 fields ``id, click, hour, C1, banner_pos, site_id, ...,
C21``; ``hour`` is YYMMDDHH. Datasets:
  avazu-10k  the first 9,999 rows of the Kaggle train.csv: avazu/wide_resdnn_raw/train.csv (header +
             8,999 rows) and test.csv (the next 1,000 rows, labelled, no header). All rows are from
             the first hour, 14102100, so the time fields carry nothing on this slice.
  avazu      the full Kaggle train.csv (40,428,967 rows, 10 days), read in Arrow batches, never whole.

Schema: id str (a 20-digit number that overflows int64), click int8, hour int64, every other field str
(they are hashed or small-integer categories; FuxiCTR and BARS treat them all as categorical).
Terms: Kaggle competition data, research use only, do not redistribute (see README).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from .base import DatasetError, LoadedTable, RawFile, load_train_test

COLUMNS = ["id", "click", "hour", "C1", "banner_pos", "site_id", "site_domain", "site_category", "app_id",
           "app_domain", "app_category", "device_id", "device_ip", "device_model", "device_type",
           "device_conn_type", "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21"]
CAT_FIELDS = COLUMNS[3:]
KAGGLE = "https://www.kaggle.com/c/avazu-ctr-prediction/data"
TERMS = "Kaggle competition data; research use only; do not redistribute (see README)."

FILES = {
    "avazu-10k": [RawFile("avazu/wide_resdnn_raw/train.csv",
                          "0ad2f8bc25d000a4e5120413ccb1a1b329387091ba0ceb5a342ea0ffe236dad4",
                          how_to_get="the header and first 8,999 rows of the Kaggle Avazu train.csv"),
                  RawFile("avazu/wide_resdnn_raw/test.csv",
                          "4a2c862e8bd35ba509d70321d9ebf5abf6cccf4103174474f3cd872fff268e2b",
                          how_to_get="rows 9,000-9,999 of the Kaggle Avazu train.csv, without the header")],
    "avazu": [RawFile("avazu/train.csv", None, None, alternatives=("avazu/train.gz", "avazu/train.csv.gz"),
                      how_to_get=f"download train.gz from {KAGGLE} (a Kaggle login is required; 40,428,967 rows)")],
}


def _types() -> dict[str, pa.DataType]:
    return {"id": pa.string(), "click": pa.int8(), "hour": pa.int64(), **{c: pa.string() for c in CAT_FIELDS}}


def iter_batches(path: Path, header: bool = True, block_size: int = 64 << 20) -> Iterator[pa.RecordBatch]:
    """Stream an Avazu-format file as Arrow record batches (constant memory for the full 6 GB file)."""
    try:
        reader = pacsv.open_csv(
            str(path),  # a str, so that Arrow decompresses train.gz by its extension
            read_options=pacsv.ReadOptions(column_names=COLUMNS, skip_rows=1 if header else 0, block_size=block_size),
            convert_options=pacsv.ConvertOptions(column_types=_types()))
        yield from reader
    except pa.ArrowInvalid as exc:
        raise DatasetError(f"[avazu] malformed row in {path}: {exc}") from None


def read_file(path: Path, header: bool = True) -> pd.DataFrame:
    table = pa.Table.from_batches(list(iter_batches(path, header)), schema=pa.schema(_types()))
    return table.to_pandas()


def load(dataset: str = "avazu-10k") -> dict[str, LoadedTable]:
    """The slice whole: {'train': ..., 'test': ...}. The full file is refused: stream it with iter_batches."""
    if dataset == "avazu":
        raise DatasetError("[avazu] the full file is 6 GB: stream it with reprorec.data.avazu.iter_batches")
    return load_train_test(dataset, FILES[dataset], lambda path, part: read_file(path, header=part == "train"))


def raw_files(dataset: str) -> list[RawFile]:
    return FILES[dataset]
