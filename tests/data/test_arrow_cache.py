"""The processed-table cache (HF `datasets` Arrow folders) must hand back exactly the frame the parser made."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reprorec.data import amazon, base, kg, movielens


def _loaders():
    out = [lambda: movielens.load_ratings("ml-100k").frame, lambda: movielens.load_official_split("u1")[1].frame,
           lambda: kg.load_triples().frame, lambda: kg.load_links().frame]
    for name in amazon.available():
        out.append(lambda name=name: amazon.load_reviews(name).frame)
        if amazon.has_metadata(name):
            out.append(lambda name=name: amazon.load_metadata(name).frame)
    return out


def test_cached_frames_are_identical_to_parsed_ones(monkeypatch):
    fresh = []
    with monkeypatch.context() as m:
        for mod in (base, movielens, amazon, kg):
            m.setattr(mod, "cached_table", lambda name, version, files, parse: parse())
        fresh = [load() for load in _loaders()]
    written = [load() for load in _loaders()]  # parse + write + read back
    again = [load() for load in _loaders()]    # cache hit
    assert list(base.cache_dir().glob("*.arrow"))
    assert any(isinstance(v, np.ndarray) for f in written for c in f.columns if f[c].dtype == object
               for v in f[c].head(50)), "expected a table with list cells (Amazon metadata)"
    for f, w, a in zip(fresh, written, again):
        pd.testing.assert_frame_equal(_lists(f), _lists(w), check_exact=True)
        pd.testing.assert_frame_equal(_lists(f), _lists(a), check_exact=True)


def _lists(frame: pd.DataFrame) -> pd.DataFrame:
    """List cells come back from Arrow as numpy arrays (as they did from the Parquet cache): compare as lists."""
    out = frame.copy()
    for c in out.columns:
        if out[c].dtype == object and any(isinstance(v, (list, np.ndarray)) for v in out[c]):
            out[c] = [list(v) if isinstance(v, (list, np.ndarray)) else v for v in out[c]]
    return out


def test_pandas_dtypes_and_index_survive_the_cache():
    frame = pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"), "b": ["x", None, "z"],
                          "c": [["p"], [], ["q", "r"]], "d": np.array([0.1, 0.2, 0.3], dtype=np.float32)},
                         index=pd.Index([10, 20, 30], name="row"))
    calls = []
    files = {"f": "0" * 64}
    got = base.cached_table("dtypes", 1, files, lambda: calls.append(1) or frame)
    again = base.cached_table("dtypes", 1, files, lambda: calls.append(1) or frame)
    assert calls == [1]
    for out in (got, again):  # list cells come back as numpy arrays (as from the Parquet cache before)
        assert [list(v) for v in out.pop("c")] == [list(v) for v in frame["c"]]
        pd.testing.assert_frame_equal(out, frame.drop(columns="c"), check_exact=True)
    ds = base.cached_dataset("dtypes", 1, files, lambda: pytest.fail("should be cached"))
    assert ds.num_rows == 3 and ds.cache_files  # memory-mapped from the cache folder
    with pytest.raises(TypeError, match="categorical"):
        base.cached_table("cats", 1, files, lambda: frame.assign(b=pd.Categorical(["x", "y", "x"])))
