"""Deterministic, seeded splits. Each returns {'train','val','test'} -> sorted int64 row indices.

`fingerprint(split)` hashes the index arrays; it goes into every result record so two numbers can
be compared only when they were measured on the same rows.
"""
from __future__ import annotations

import hashlib

import numpy as np

from ..registry import Resolver

Split = dict[str, np.ndarray]


def random_split(n: int, ratios=(0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """Uniformly random partition of n rows by ``ratios`` (normalised)."""
    r = np.asarray(ratios, dtype=float)
    if (r < 0).any() or r.sum() <= 0 or len(r) != 3:
        raise ValueError(f"ratios must be three non-negative numbers, got {ratios}")
    r = r / r.sum()
    perm = np.random.default_rng(seed).permutation(n)
    n_train = int(round(r[0] * n))
    n_val = int(round(r[1] * n))
    parts = np.split(perm, [n_train, n_train + n_val])
    return {k: np.sort(p).astype(np.int64) for k, p in zip(("train", "val", "test"), parts)}


def leave_last_out(users: np.ndarray, times: np.ndarray, seed: int = 0) -> Split:
    """Per user: last interaction -> test, second last -> val, rest -> train.

    Ties in time are broken by a seeded random key, so equal timestamps do not depend on file order.
    Users with fewer than 3 interactions keep everything in train.
    """
    users = np.asarray(users)
    times = np.asarray(times)
    tiebreak = np.random.default_rng(seed).random(len(users))
    order = np.lexsort((tiebreak, times, users))  # by user, then time, then tiebreak
    u_sorted = users[order]
    last = np.r_[u_sorted[1:] != u_sorted[:-1], True]  # last row of each user's block
    counts = np.diff(np.r_[0, np.flatnonzero(last) + 1])
    per_row_count = np.repeat(counts, counts)
    test_mask = last & (per_row_count >= 3)
    val_mask = np.r_[test_mask[1:], False]
    train_mask = ~(test_mask | val_mask)
    return {k: np.sort(order[m]).astype(np.int64) for k, m in
            (("train", train_mask), ("val", val_mask), ("test", test_mask))}


def time_cut(times: np.ndarray, val_start, test_start) -> Split:
    """Global time cut: t < val_start -> train, val_start <= t < test_start -> val, rest -> test.

    ``val_start``/``test_start`` are timestamps, or floats in (0, 1) read as quantiles of ``times``.
    """
    times = np.asarray(times)

    def cut(x):
        return np.quantile(times, x, method="lower") if isinstance(x, float) and 0 < x < 1 else x

    v, t = cut(val_start), cut(test_start)
    if v > t:
        raise ValueError(f"val_start {v} is after test_start {t}")
    idx = np.arange(len(times), dtype=np.int64)
    return {"train": idx[times < v], "val": idx[(times >= v) & (times < t)], "test": idx[times >= t]}


def fingerprint(split: Split) -> str:
    h = hashlib.sha256()
    for name in sorted(split):
        arr = np.ascontiguousarray(np.asarray(split[name], dtype="<i8"))
        h.update(name.encode())
        h.update(len(arr).to_bytes(8, "little"))
        h.update(arr.tobytes())
    return h.hexdigest()[:16]


SPLITS = Resolver("split kind", {  # (n, users, times, seed, settings) -> Split
    "random": lambda n, users, times, seed, kw: random_split(n, kw.get("ratios", (0.8, 0.1, 0.1)), seed),
    "leave_last_out": lambda n, users, times, seed, kw: leave_last_out(users, times, seed),
    "time_cut": lambda n, users, times, seed, kw: time_cut(times, kw["val_start"], kw["test_start"]),
})


def make_split(kind: str, *, n: int | None = None, users=None, times=None, seed: int = 0, **kw) -> Split:
    """Dispatch on a config's ``split.kind`` (a name in SPLITS)."""
    return SPLITS.make(kind, n, users, times, seed, kw)
