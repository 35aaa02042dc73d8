"""Dataset registry: pinned checksums, typed parsing, clear errors, caching, discovery."""
from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reprorec import data
from reprorec.data import amazon, avazu, base, criteo, movielens, tensors

REPO = Path(__file__).resolve().parents[2]


def _shared_sums(data_dir: Path) -> dict[str, str]:
    sums = {}
    for line in (data_dir / "SHA256SUMS").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            sha, name = line.split(maxsplit=1)
            sums[name.lstrip("*").removeprefix("./")] = sha
    return sums


def test_pinned_checksums_agree_with_the_shared_copy(data_dir):
    """Every pinned sha256 of a plain (non-gz) file equals the one in shared/data/SHA256SUMS."""
    sums = _shared_sums(data_dir)
    checked = 0
    for entry in data.catalogue().values():
        for rf in entry.raw_files():
            if rf.sha256 and not rf.path.endswith(".gz") and rf.path in sums:
                assert sums[rf.path] == rf.sha256, rf.path
                checked += 1
    assert checked >= 20


def test_every_shared_dataset_verifies(data_dir):
    for name in ["ml-100k", "ml-latest-small", "criteo-900", "criteo-10k", "alog", "acc", "dblp", "post-movielens",
                 *amazon.available()]:
        files = data.verify(name)
        assert all(len(sha) == 64 for sha in files.values())


def test_movielens_100k_schema_and_counts():
    r = movielens.load_ratings("ml-100k").frame
    assert len(r) == 100_000 and r.user_id.nunique() == 943 and r.item_id.nunique() == 1682
    assert str(r.rating.dtype) == "float32" and r.rating.between(1, 5).all()
    base_, test_ = movielens.load_official_split("ua")
    assert len(base_.frame) == 90_570 and len(test_.frame) == 9_430
    assert (test_.frame.groupby("user_id").size() == 10).all()  # ua: 10 test ratings per user
    items = movielens.load_items().frame
    assert items.loc[items.item_id == 1, "genres"].iloc[0] == ["Animation", "Children's", "Comedy"]


def test_ml1m_ratings_missing_is_explained(tmp_path, monkeypatch, data_dir):
    """ML-1M ratings are not in the shared copy: the loader names the file, URL and what to do."""
    with pytest.raises(data.DatasetError) as err:
        movielens.load_ratings("ml-1m")
    msg = str(err.value)
    assert "ml-1m/ratings.dat" in msg and "files.grouplens.org/datasets/movielens/ml-1m.zip" in msg
    assert "REPRO_OFFLINE" in msg and "place it by hand" in msg


def _copy_tree(src: Path, dst: Path, rel: str) -> Path:
    (dst / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src / rel, dst / rel)
    return dst / rel


def test_corrupt_file_is_rejected_with_checksum_and_source(tmp_path, data_dir):
    target = _copy_tree(data_dir, tmp_path, "movielens/ml-100k/u.data")
    with open(target, "r+b") as f:  # flip one byte
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 1]))
    base.set_data_dir(tmp_path)
    try:
        with pytest.raises(data.DatasetError) as err:
            movielens.load_ratings("ml-100k")
    finally:
        base.set_data_dir(None)
    msg = str(err.value)
    assert "[ml-100k] checksum mismatch" in msg
    assert movielens.ML100K["u.data"].sha256 in msg
    assert "ml-100k.zip" in msg and str(target) in msg


def test_truncated_gzip_is_rejected_clearly(tmp_path, data_dir):
    src = data_dir / "amazon/reviews_Musical_Instruments_5.json.gz"
    dst = tmp_path / "amazon/reviews_Musical_Instruments_5.json.gz"
    dst.parent.mkdir(parents=True)
    dst.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    base.set_data_dir(tmp_path)
    try:
        with pytest.raises(data.DatasetError, match="amazon-musical-instruments.*unreadable"):
            amazon.load_reviews("amazon-musical-instruments")
    finally:
        base.set_data_dir(None)


@pytest.mark.slow
def test_cli_missing_dataset_is_one_message_not_a_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "reprorec.cli", "--data-dir", str(tmp_path), "data", "verify", "ml-100k"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "missing file movielens/ml-100k/u.data" in proc.stdout and "expected sha256" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_malformed_review_line_is_named(tmp_path, data_dir):
    lines = gzip.open(data_dir / "amazon2018/Gift_Cards_5.json.gz", "rt").read().splitlines()[:50]
    lines[36] = lines[36][:40]  # truncated JSON on line 37
    path = tmp_path / "amazon2018/Broken_Category_5.json.gz"
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    base.set_data_dir(tmp_path)
    try:
        assert "amazon18-broken-category" in amazon.available()  # discovered by file name
        with pytest.raises(data.DatasetError, match=r"malformed review at line 37 of .*Broken_Category_5"):
            amazon.load_reviews("amazon18-broken-category")
    finally:
        base.set_data_dir(None)


def test_amazon_2018_duplicates_removed_and_sorted():
    f = amazon.load_reviews("amazon18-appliances", keep_variant_copies=True).frame
    assert len(f) == 183 and not f.duplicated(["user_id", "item_id"]).any()  # 2,277 raw rows, 183 distinct pairs
    assert len(amazon.load_reviews("amazon18-appliances").frame) == 141  # 141 distinct reviews
    assert f.timestamp.is_monotonic_increasing


def test_amazon_variant_copies_of_one_review_are_collapsed(tmp_path, data_dir):
    """The same review filed under two variant items is one review; a different review is kept."""
    review = {"reviewerID": "U1", "asin": "A", "overall": 5.0, "reviewText": "great", "summary": "ok",
              "unixReviewTime": 100}
    rows = [review, {**review, "asin": "A-red"}, {**review, "asin": "B", "reviewText": "meh", "overall": 2.0}]
    path = tmp_path / "amazon2018/Copies_5.json.gz"
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows))
    base.set_data_dir(tmp_path)
    try:
        with pytest.warns(UserWarning, match="no pinned checksum"):
            kept = amazon.load_reviews("amazon18-copies").frame
            everything = amazon.load_reviews("amazon18-copies", keep_variant_copies=True).frame
    finally:
        base.set_data_dir(None)
    assert sorted(kept.item_id) == ["A", "B"] and len(everything) == 3


def test_processed_table_cache_is_used(monkeypatch):
    calls = []
    real = movielens._ratings_from
    monkeypatch.setattr(movielens, "_ratings_from", lambda *a: calls.append(1) or real(*a))
    a = movielens.load_ratings("ml-100k").frame
    b = movielens.load_ratings("ml-100k").frame
    assert len(calls) == 1 and a.equals(b)
    assert any(p.name.startswith("ml-100k-ratings-v1-") for p in base.cache_dir().glob("*.arrow"))


def test_criteo_keeps_empty_fields():
    train = criteo.load("criteo-900")["train"].frame
    assert train.shape == (900, 40)
    first = train.iloc[0]
    assert first["label"] == 0 and first["I1"] == 1 and first["C1"] == "68fd1e64"
    assert train["I12"].isna().iloc[0]  # empty integer field kept as missing, not shifted
    assert train["C26"].isna().sum() > 0  # trailing empty fields kept


def test_criteo_streams_in_chunks(data_dir):
    batches = list(criteo.iter_batches(data_dir / "criteo/wide_resdnn_raw/train.txt", block_size=64 << 10))
    assert len(batches) > 1 and sum(b.num_rows for b in batches) == 8000


def test_criteo_wrong_field_count_is_clear(tmp_path, data_dir):
    rows = (data_dir / "criteo/pytorch_deepfm_raw/train.txt").read_text().splitlines()[:20]
    rows[5] = "\t".join(rows[5].split("\t")[:30])
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(rows) + "\n")
    with pytest.raises(data.DatasetError, match="malformed row"):
        criteo.read_file(bad)


def test_avazu_slice_schema_and_counts():
    parts = avazu.load("avazu-10k")
    train, test = parts["train"].frame, parts["test"].frame
    assert train.shape == (8999, 24) and test.shape == (1000, 24)  # header skipped / absent
    assert int(train["click"].sum() + test["click"].sum()) == 1706  # 17.1% of 9,999 (data README)
    assert train["id"].iloc[0] == "1000009418151094273" and (train["hour"] == 14102100).all()


def test_avazu_wrong_field_count_is_clear(tmp_path, data_dir):
    rows = (data_dir / "avazu/wide_resdnn_raw/train.csv").read_text().splitlines()[:20]
    rows[7] = ",".join(rows[7].split(",")[:20])
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(rows) + "\n")
    with pytest.raises(data.DatasetError, match=r"\[avazu\] malformed row in .*bad.csv"):
        avazu.read_file(bad)


@pytest.mark.parametrize("name,shape,binary", [("alog", (200, 100, 200), False), ("acc", (3000, 150, 30000), False),
                                               ("dblp", (10000, 200, 10000), True),
                                               ("post-movielens", (400, 400, 31), True)])
def test_tensors_are_zero_based_and_disjoint(name, shape, binary):
    t = tensors.load(name)
    assert t.shape == shape and t.binary == binary
    for idx in (t.train_idx, t.test_idx):
        assert idx.min() == 0 or idx.min(0).min() >= 0
        assert (idx.max(0) < np.array(shape)).all()
    key = lambda a: np.ravel_multi_index(a.T, shape)  # noqa: E731
    assert not np.isin(key(t.test_idx[t.test_y != 0]), key(t.train_idx)).any()
    if name in ("acc", "dblp"):
        assert len(t.test_sets) == 50 and all(len(y) == 2000 and (y != 0).sum() == 200 for _, y in t.test_sets)


def test_download_verifies_and_places_atomically(tmp_path, monkeypatch, data_dir):
    """The download path, exercised with a file:// URL: zip member extracted, checksum checked, moved into place."""
    import zipfile

    archive = tmp_path / "mirror" / "ml-100k.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(data_dir / "movielens/ml-100k/u.user", "ml-100k/u.user")
    good = movielens.ML100K["u.user"]
    rf = base.RawFile(good.path, good.sha256, archive.as_uri(), "ml-100k/u.user")
    target = tmp_path / "data"
    base.set_data_dir(target)
    try:
        monkeypatch.setenv("REPRO_OFFLINE", "1")
        with pytest.raises(data.DatasetError, match="REPRO_OFFLINE=1 forbids downloading"):
            rf.locate("ml-100k")
        monkeypatch.setenv("REPRO_OFFLINE", "0")
        path = rf.locate("ml-100k")
        assert path == target / good.path and base.content_sha256(path) == good.sha256
        assert not list(path.parent.glob(".*.part"))  # no temp file left behind
        wrong = base.RawFile("movielens/ml-100k/other", "0" * 64, archive.as_uri(), "ml-100k/u.user")
        with pytest.raises(data.DatasetError, match="downloaded file has sha256"):
            wrong.locate("ml-100k")
        assert not (target / "movielens/ml-100k/other").exists()  # a bad download never lands
    finally:
        base.set_data_dir(None)
