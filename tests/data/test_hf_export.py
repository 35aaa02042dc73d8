"""HF `datasets` exports: the exact split (same fingerprint as the records) and out-of-core Arrow streams."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from reprorec.data import criteo, hf, movielens, splits

REPO = Path(__file__).resolve().parents[2]


def test_export_split_matches_a_committed_record(tmp_path):
    rec = json.loads(sorted((REPO / "results/baselines/ml-100k/biased-mf/full").glob("3-*.json"))[0].read_text())
    dd, info = hf.export("ml-100k", "random", seed=rec["seed"], ratios=(0.8, 0.1, 0.1))
    assert info["fingerprint"] == rec["data"]["split"]
    assert info["files"] == rec["data"]["files"]
    frame = movielens.load_ratings("ml-100k").frame
    expect = splits.random_split(len(frame), (0.8, 0.1, 0.1), seed=rec["seed"])
    for part in ("train", "val", "test"):
        assert np.array_equal(np.asarray(dd[part]["_row"]), expect[part])
        got = dd[part].to_pandas().drop(columns="_row")
        assert got.equals(frame.iloc[expect[part]].reset_index(drop=True))
        assert json.loads(dd[part].info.description)["fingerprint"] == info["fingerprint"]
    out = hf.save(dd, info, tmp_path / "x")
    assert json.loads((out / "reprorec_split.json").read_text())["fingerprint"] == info["fingerprint"]


def test_export_files_split_of_a_ctr_slice():
    dd, info = hf.export("criteo-10k", "files")
    assert (dd["train"].num_rows, dd["test"].num_rows) == (8000, 2000) and len(info["files"]) == 2


def test_arrow_stream_equals_the_batch_reader(tmp_path, data_dir):
    src = data_dir / "criteo/wide_resdnn_raw/train.txt"
    ds = hf.arrow_stream(src, "criteo", block_size=1 << 16, cache=tmp_path)
    want = pa.Table.from_batches(list(criteo.iter_batches(src, block_size=1 << 16)))
    assert ds.num_rows == 8000 and ds.data.table.equals(want.cast(ds.data.table.schema))
    assert ds.data.table.schema.types == want.schema.types
    again = hf.arrow_stream(src, "criteo", block_size=1 << 16, cache=tmp_path)
    assert again.cache_files == ds.cache_files
    head = hf.arrow_stream(src, "criteo", block_size=1 << 16, cache=tmp_path, max_rows=1000)
    assert head.num_rows == 1000 and head.data.table.equals(want.slice(0, 1000).cast(head.data.table.schema))


def test_full_criteo_path_exports_through_the_arrow_stream(tmp_path, data_dir):
    import shutil
    import warnings

    from reprorec.data import base

    (tmp_path / "criteo/dac").mkdir(parents=True)
    shutil.copyfile(data_dir / "criteo/wide_resdnn_raw/train.txt", tmp_path / "criteo/dac/train.txt")
    base.set_data_dir(tmp_path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the full file has no pinned checksum: observed sha256 recorded
            dd, info = hf.export("criteo", "all")
    finally:
        base.set_data_dir(None)
    assert dd["train"].num_rows == 8000 and info["rows"] == {"train": 8000}
    assert info["files"] == {"criteo/dac/train.txt": base.content_sha256(tmp_path / "criteo/dac/train.txt")}
    assert info["fingerprint"] == splits.fingerprint({"train": np.arange(8000)})
