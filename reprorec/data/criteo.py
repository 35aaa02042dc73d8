"""Criteo Display Advertising Challenge (Kaggle 2014) format.

Each line: label, I1..I13 (integer counts, may be empty), C1..C26 (32-bit hashed hex, may be
empty), tab separated, empty fields kept. Datasets:
  criteo-900   the first 900 rows of the Kaggle train.txt (criteo/pytorch_deepfm_raw/train.txt): tests.
  criteo-10k   10,000 labelled rows: train.txt (8,000) + test.txt (2,000) under criteo/wide_resdnn_raw/.
  criteo       the full 45,840,617-row train.txt (criteo/dac/train.txt), read in chunks, never whole.

Schema: label int8, I1..I13 Int64 (nullable), C1..C26 str (None when empty).
Terms: Criteo research data, non-commercial use (see README).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from .base import DatasetError, LoadedTable, RawFile, load_train_test, resolve

INT_FIELDS = [f"I{i}" for i in range(1, 14)]
CAT_FIELDS = [f"C{i}" for i in range(1, 27)]
COLUMNS = ["label", *INT_FIELDS, *CAT_FIELDS]
DAC_URL = "https://go.criteo.net/criteo-research-kaggle-display-advertising-challenge-dataset.tar.gz"
TERMS = "Criteo research data; non-commercial research use (see README)."

FILES = {
    "criteo-900": [RawFile("criteo/pytorch_deepfm_raw/train.txt",
                           "cf3ba5d474719356a45adc042c31c54a8ef4093093b7bf9e146237fa789d66c7",
                           how_to_get="first 900 lines of the Kaggle DAC train.txt")],
    "criteo-10k": [RawFile("criteo/wide_resdnn_raw/train.txt",
                           "26d49047cbe0ad6ce54197918d71a2dc6688b72b29de7235c9321301116fff6c",
                           how_to_get="first 8,000 lines of the Kaggle DAC train.txt"),
                   RawFile("criteo/wide_resdnn_raw/test.txt",
                           "75d8552c435e3225f659d4b726ac084539bfd2a44842d0c251913e496cbedbdd",
                           how_to_get="2,000 further labelled lines of the Kaggle DAC train.txt")],
    "criteo": [RawFile("criteo/dac/train.txt", None, DAC_URL, member="train.txt",
                       how_to_get="extract train.txt from Criteo's dac.tar.gz (Kaggle DAC, 45,840,617 rows)")],
}


def _schema() -> dict[str, pa.DataType]:
    return {"label": pa.int8(), **{c: pa.int64() for c in INT_FIELDS}, **{c: pa.string() for c in CAT_FIELDS}}


def iter_batches(path: Path, block_size: int = 64 << 20) -> Iterator[pa.RecordBatch]:
    """Stream a Criteo-format file as Arrow record batches (constant memory for the 11 GB file)."""
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=COLUMNS, block_size=block_size),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(column_types=_schema(), strings_can_be_null=True,
                                             null_values=[""]),
    )
    try:
        yield from reader
    except pa.ArrowInvalid as exc:
        raise DatasetError(f"[criteo] malformed row in {path}: {exc}") from None


def read_file(path: Path) -> pd.DataFrame:
    try:
        table = pa.Table.from_batches(list(iter_batches(path)), schema=pa.schema(_schema()))
    except pa.ArrowInvalid as exc:
        raise DatasetError(f"[criteo] malformed row in {path}: {exc}") from None
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def load(dataset: str = "criteo-900") -> dict[str, LoadedTable]:
    """Small slices whole: {'train': ..., 'test': ...} (criteo-900 has only 'train').

    The full ``criteo`` file is refused here: stream it with ``iter_batches(locate('criteo'))``.
    """
    if dataset == "criteo":
        raise DatasetError("[criteo] the full file is 11 GB: stream it with reprorec.data.criteo.iter_batches")
    return load_train_test(dataset, FILES[dataset], lambda path, part: read_file(path))


def locate(dataset: str = "criteo") -> Path:
    paths, _ = resolve(dataset, FILES[dataset])
    return next(iter(paths.values()))


def raw_files(dataset: str) -> list[RawFile]:
    return FILES[dataset]
