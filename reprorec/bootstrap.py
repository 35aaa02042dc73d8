"""Bootstrap replicates of test metrics, stored in each record for the claims layer (reprorec/claims.py).

Why replicates and not per-row predictions: a test set here has 10^2–10^6 rows and a record is read
by every report; B replicate values per metric (B = 200, a few kB) carry what the claims layer needs
and nothing about the model's outputs that the record does not already imply.

Why the same row indices for every method: replicate b of a metric is the metric recomputed on the
test rows drawn with replacement by the b-th draw of an RNG seeded by (split fingerprint, number of
test rows) only. Every method evaluated on the same split therefore sees the *same* resampled test
sets, so ``A_b - B_b`` is a paired bootstrap replicate of the difference A - B on that split:
the row-sampling noise common to both methods cancels, as it does in the point estimate.
Where the split fingerprint also covers training data that changes with the seed while the test rows
do not (SPIDER: the stream order is part of it), the method passes a fingerprint of the test rows
alone (``TestRows.key``), so that runs of different seeds on the same test rows share indices too:
the claims layer needs to know which seeds share test rows (and their noise), and reads it from the
``rows`` key stored beside the replicates.

Grouped test sets (SPIDER's 50 test sets, whose metric is the mean over sets) are resampled within
each set (a stratified bootstrap), matching how the metric is defined.

Nothing here touches a global RNG (numpy Generator of its own) or the metrics already computed:
the replicates are computed after the run from the collected test outputs, so a record's
``metrics`` are bit-identical with or without them (tests/claims/test_bootstrap.py checks it).
``REPRO_BOOTSTRAP=0`` turns collection off (a run then has no ``bootstrap`` key).
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

import numpy as np

B_DEFAULT = 200
SCHEME = "paired-rows-v1"  # rows with replacement (within test set), RNG = sha256(split fingerprint, n rows)


def enabled() -> bool:
    return os.environ.get("REPRO_BOOTSTRAP", "1") != "0"


@dataclass
class TestRows:
    """Per-row test outputs, enough to recompute the recorded test metrics on resampled rows.

    kind: 'regression' (cols pred, y), 'binary' (cols prob, y) or 'ranks' (col rank, 1 = best).
    groups: test-set id per row (rows of a set contiguous, ids 0..G-1); the metric is the mean over sets.
    scale: for metrics reported in original units (``mse_orig = mse * scale**2``, ``rmse_orig``).
    key: fingerprint of the test rows, when the split fingerprint also depends on other things.
    """

    __test__ = False  # not a pytest class

    kind: str
    cols: dict[str, np.ndarray]
    groups: np.ndarray | None = None
    scale: float | None = None
    key: str | None = None

    def __len__(self):
        return len(next(iter(self.cols.values())))


def _seed(fingerprint: str, n: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{fingerprint}|{n}".encode()).digest()[:8], "little")


def row_draws(fingerprint: str, n: int, B: int, groups: np.ndarray | None = None):
    """Yield B arrays of drawn row indices (with replacement, within each test set; sorted by set as the
    rows are); identical for every method evaluated on the same split."""
    rng = np.random.default_rng(_seed(fingerprint, n))
    sizes = np.bincount(groups) if groups is not None else np.array([n])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for _ in range(B):
        yield np.concatenate([s + rng.integers(0, m, m, dtype=np.int64 if n >= 2 ** 31 else np.int32)
                              for s, m in zip(starts, sizes)])


class _Evaluator:
    """Weighted versions of the metrics of reprorec.metrics (all rows weight 1 = the plain metric)."""

    def __init__(self, rows: TestRows, names: list[str]):
        self.rows, self.names = rows, names
        n = len(rows)
        self.g = rows.groups if rows.groups is not None else np.zeros(n, dtype=np.int64)
        self.G = int(self.g.max()) + 1 if n else 0
        self.sizes = np.bincount(self.g, minlength=self.G)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]])
        c = rows.cols
        if rows.kind == "regression":
            e = np.asarray(c["pred"], np.float64) - np.asarray(c["y"], np.float64)
            self.vals = {"se": e * e, "ae": np.abs(e)}
        elif rows.kind == "binary":
            p = np.clip(np.asarray(c["prob"], np.float64), 1e-7, 1 - 1e-7)
            y = np.asarray(c["y"], np.float64)
            self.vals = {"ll": -(y * np.log(p) + (1 - y) * np.log(1 - p))}
            self._auc_setup(np.asarray(c["prob"], np.float64), y)
        elif rows.kind == "ranks":
            r = np.asarray(c["rank"], np.float64)
            self.vals = {"rr": 1.0 / r}
            for name in names:
                m = re.fullmatch(r"(hits|ndcg)@(\d+)", name)
                if m:
                    k = int(m.group(2))
                    self.vals[name] = (r <= k).astype(np.float64) if m.group(1) == "hits" else \
                        np.where(r <= k, 1.0 / np.log2(r + 1.0), 0.0)
        else:
            raise ValueError(f"unknown test-row kind {rows.kind!r}")

    def _auc_setup(self, score, y):
        order = np.lexsort((score, self.g))  # by group, then score ascending
        s, g = score[order], self.g[order]
        new = np.ones(len(s), dtype=bool)
        new[1:] = (s[1:] != s[:-1]) | (g[1:] != g[:-1])
        self.order, self.y_sorted = order, y[order]
        self.block = np.cumsum(new) - 1  # tie block (same group and score) of each sorted row
        first = np.flatnonzero(new)
        self.block_group = g[first]
        nb = len(first)
        self.group_first_block = np.searchsorted(self.block_group, np.arange(self.G))  # blocks sorted by group
        self.nb = nb

    def _auc(self, draw):
        ws = (np.bincount(draw, minlength=len(self.order)) if draw is not None else np.ones(len(self.order)))[self.order]
        pos = np.bincount(self.block, ws * self.y_sorted, minlength=self.nb)
        neg = np.bincount(self.block, ws * (1 - self.y_sorted), minlength=self.nb)
        cneg = np.cumsum(neg) - neg  # negatives in earlier blocks (all groups)
        below = cneg - cneg[self.group_first_block[self.block_group]]  # ... of the same group
        num = np.bincount(self.block_group, pos * (below + 0.5 * neg), minlength=self.G)
        P = np.bincount(self.block_group, pos, minlength=self.G)
        N = np.bincount(self.block_group, neg, minlength=self.G)
        with np.errstate(invalid="ignore", divide="ignore"):
            return float(np.mean(num / (P * N)))

    def _mean(self, key, draw):
        """Per test set mean of a per-row value over the drawn rows (draws stay in their row's set)."""
        v = self.vals[key] if draw is None else self.vals[key][draw]
        return np.add.reduceat(v, self.starts) / self.sizes

    def __call__(self, draw) -> dict[str, float]:
        """Metrics on the rows ``draw`` (indices, as `row_draws` gives; None = every row once)."""
        out, kind, sc = {}, self.rows.kind, self.rows.scale
        if kind == "regression":
            mse = float(np.mean(self._mean("se", draw)))
            derived = {"mse": mse, "rmse": mse ** 0.5}
            if sc is not None:
                derived |= {"mse_orig": mse * sc ** 2, "rmse_orig": mse ** 0.5 * sc}
            if "mae" in self.names:
                derived["mae"] = float(np.mean(self._mean("ae", draw)))
        elif kind == "binary":
            derived = {"auc": self._auc(draw)} if "auc" in self.names else {}
            if "logloss" in self.names:
                derived["logloss"] = float(np.mean(self._mean("ll", draw)))
        else:
            derived = {"mrr": float(np.mean(self._mean("rr", draw)))}
            derived |= {k: float(np.mean(self._mean(k, draw))) for k in self.vals if k != "rr"}
        for name in self.names:
            if name in derived:
                out[name] = derived[name]
        return out


def metrics_of(rows: TestRows, names: list[str], draw: np.ndarray | None = None) -> dict[str, float]:
    """The metrics ``names`` on the rows ``draw`` of ``rows`` (default: every row once)."""
    return _Evaluator(rows, names)(draw)


def _round(v: float) -> float:
    return float(f"{v:.7g}")


def replicates(rows: TestRows, fingerprint: str, names: list[str], B: int = B_DEFAULT) -> dict:
    """{'B', 'scheme', 'rows' (the fingerprint that seeded the draws), 'n', 'groups', 'metrics': {name: [B
    values]}} for the metrics of ``names`` that can be recomputed from ``rows`` (others are left out)."""
    ev = _Evaluator(rows, list(names))
    reps: dict[str, list[float]] = {}
    for draw in row_draws(fingerprint, len(rows), B, rows.groups):
        for k, v in ev(draw).items():
            reps.setdefault(k, []).append(_round(v))
    return {"B": B, "scheme": SCHEME, "rows": fingerprint, "n": len(rows), "groups": ev.G, "metrics": reps}


def record_entry(rows: TestRows | None, fingerprint: str | None, test_metrics: dict | None) -> dict:
    """What a record stores under ``bootstrap`` ({} when there is nothing to resample)."""
    key = (rows.key if rows is not None else None) or fingerprint
    if rows is None or not key or not test_metrics or not enabled() or len(rows) == 0:
        return {}
    return {"bootstrap": {"test": replicates(rows, key, sorted(test_metrics))}}
