"""Training streams and test sets for the streaming tensor experiments, formed as the authors did.

* alog: the shipped train fold already holds sampled zeros (half of its 21,076 entries).
* post-movielens: training = every observed entry of mask k (zeros included), test = the rest.
* acc / dblp: the .mat files hold only the training *non-zeros* (data.Y). The authors streamed a
  text file with the non-zeros plus as many zeros (SBDT reads `ibm-large-tensor.txt`, 1,128,092 rows =
  2 x 564,046; POST's `main.m`/`baseline_cpwopt_binay.m` read `acc-large-tensor.txt` /
  `dblp-large-tensor.txt`, with 0/1 values for DBLP). Those files are not public-sized, so we
  sample the same number of zeros uniformly from the entries that are neither a training non-zero
  nor in any of the 50 test sets, with a fixed data seed (the zero set is identical across run
  seeds; only the stream order changes with the seed, as in the authors' scripts).
  Test metric = mean over the 50 shipped test sets (POST's protocol; for MSE this equals the pooled MSE).

Continuous targets are standardised with the training-stream mean/std (SBDT's PBP_net does this);
metrics are reported on the standardised scale ('rmse', 'mse') and in original units ('rmse_orig').
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from reprorec import config as C
from reprorec.bootstrap import TestRows
from reprorec.data import tensors as T
from reprorec.metrics import binary_metrics


@dataclass
class Stream:
    name: str
    shape: tuple[int, ...]
    binary: bool
    idx: torch.Tensor  # (N, K) long, in stream order
    y: torch.Tensor  # (N,) float64; standardised when continuous
    test_sets: list[tuple[torch.Tensor, torch.Tensor]]  # [(idx, y_standardised)]
    mean: float
    std: float
    files: dict[str, str]
    fingerprint: str


def sample_zeros(shape, n: int, exclude: np.ndarray, seed: int) -> np.ndarray:
    """n distinct entries drawn uniformly from the tensor, none of them a row of `exclude`."""
    dims = np.asarray(shape, dtype=np.int64)
    strides = np.concatenate([np.cumprod(dims[::-1])[::-1][1:], [1]])
    taken = np.unique(exclude @ strides)
    rng = np.random.default_rng(seed)
    picked = np.zeros(0, dtype=np.int64)
    while len(picked) < n:
        cand = rng.integers(0, int(np.prod(dims)), size=2 * (n - len(picked)) + 16)
        cand = cand[~np.isin(cand, taken)]
        _, first = np.unique(np.concatenate([picked, cand]), return_index=True)
        keep = np.sort(first[first >= len(picked)]) - len(picked)  # new, distinct, in draw order
        picked = np.concatenate([picked, cand[keep]])[:n]
    return np.stack([(picked // s) % d for s, d in zip(strides, dims)], axis=1)


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=2)
def training_entries(source: str, split: int, zero_seed: int):
    """(tensor, idx, y) of the whole training set, zeros added for acc/dblp; cached per process
    because `reproduce` runs many configs of one dataset in a row."""
    t = T.load(source, split)
    idx, y = t.train_idx, t.train_y
    if source in ("acc", "dblp"):
        zeros = sample_zeros(t.shape, len(y), np.concatenate([idx, t.test_idx]), zero_seed)
        idx, y = np.concatenate([idx, zeros]), np.concatenate([y, np.zeros(len(zeros))])
    return t, idx, y


def subsample(sets, max_total: int):
    """A fixed (seed-independent) random subset of each test set, about max_total entries in all."""
    rng = np.random.default_rng(12345)
    per = max(1, max_total // len(sets))
    return [(i[s], v[s]) for i, v in sets for s in [np.sort(rng.permutation(len(v))[:per])]]


class StreamData(C.Section):
    """The ``data`` block of every SPIDER experiment."""
    tensor: Optional[str] = None               # the tensor to stream (default: the dataset's own)
    split: C.PosInt = 1                        # shipped fold
    zero_seed: int = 0                         # sampling of the zeros of binary tensors
    max_stream: Optional[C.PosInt] = None      # truncate the stream (quick runs, prefix runs)
    max_test: Optional[C.PosInt] = None        # fixed subset of the test sets
    curve_max_test: Optional[C.PosInt] = None  # fixed subset of the test sets for the running curve
    val_fraction: Optional[C.UnitInterval] = None  # tail held out for validation (None: 0; 0.05 in tuning trials)


def build_stream(cfg: dict, seed: int) -> Stream:
    """The seed permutes the stream order; data.max_stream / data.max_test truncate for quick runs."""
    d = C.section(cfg, "data", StreamData)
    t, idx, y = training_entries(d.tensor or cfg["dataset"], d.split, d.zero_seed)
    order = np.random.default_rng(seed).permutation(len(y))
    idx, y = idx[order], y[order]
    if d.max_stream:
        idx, y = idx[: d.max_stream], y[: d.max_stream]
    mean, std = (0.0, 1.0) if t.binary else (float(y.mean()), float(y.std()))
    sets = t.test_sets or [(t.test_idx, t.test_y)]
    if d.max_test:  # a fixed (seed-independent) subset of each test set, for quick profiles
        sets = subsample(sets, d.max_test)
    test_sets = [(torch.as_tensor(i), torch.as_tensor((v - mean) / std)) for i, v in sets]
    fp = _digest(idx, y, *[i for i, _ in sets])
    return Stream(cfg["dataset"], tuple(t.shape), t.binary, torch.as_tensor(idx), torch.as_tensor((y - mean) / std),
                  test_sets, mean, std, t.files, fp)


def holdout(stream: Stream, fraction: float) -> tuple[Stream, Stream]:
    """(stream without its last `fraction` of entries, the same stream scored on those entries).

    For tuning: the held-out tail of the (seed-permuted) training stream is the validation set, so a
    search never looks at the test sets. Standardisation keeps the whole stream's mean/std."""
    n_val = int(round(len(stream.y) * fraction))
    if not 0 < n_val < len(stream.y):
        raise ValueError(f"data.val_fraction={fraction} leaves no validation or no training entries")
    cut = len(stream.y) - n_val
    train = dataclasses.replace(stream, idx=stream.idx[:cut], y=stream.y[:cut])
    return train, dataclasses.replace(train, test_sets=[(stream.idx[cut:], stream.y[cut:])])


def evaluate(predict, stream: Stream, keep: list | None = None) -> dict[str, float]:
    """Mean over test sets of MSE/RMSE (continuous, standardised + original units) or AUC (binary).

    `predict(idx) -> f` gives the latent value: the standardised target, or the probit input.
    ``keep`` (a list) receives each test set's (prediction, target) as scored, for `test_rows`.
    """
    per = []
    for idx, y in stream.test_sets:
        f = torch.cat([predict(idx[i:i + 65536]) for i in range(0, len(idx), 65536)]).double()
        if stream.binary:
            m = binary_metrics()
            prob = torch.special.ndtr(f).float()
            m.update(prob, y.long())
            out = m.compute()
            per.append({"auc": float(out["auc"])})
            if keep is not None:
                keep.append((prob, y))
        else:
            mse = float(((f - y) ** 2).mean())
            per.append({"mse": mse})
            if keep is not None:
                keep.append((f, y))
    if stream.binary:
        return {"auc": float(np.mean([p["auc"] for p in per]))}
    mse = float(np.mean([p["mse"] for p in per]))
    return {"mse": mse, "rmse": mse ** 0.5, "rmse_orig": mse ** 0.5 * stream.std, "mse_orig": mse * stream.std ** 2}


def test_rows(kept: list, stream: Stream) -> TestRows | None:
    """The per-row outputs `evaluate(..., keep=kept)` collected, as reprorec.bootstrap rows: resampled
    within each test set, the metric being the mean over sets as above. Keyed by the test entries alone
    (the stream fingerprint also covers the seed's stream order): every seed shares the row draws."""
    if not kept:
        return None
    pred = np.concatenate([p.double().numpy() for p, _ in kept])
    y = np.concatenate([t.double().numpy() for _, t in kept])
    groups = np.repeat(np.arange(len(kept)), [len(t) for _, t in kept])
    key = _digest(*[i.numpy() for i, _ in stream.test_sets])
    if stream.binary:
        return TestRows("binary", {"prob": pred, "y": y}, groups=groups, key=key)
    return TestRows("regression", {"pred": pred, "y": y}, groups=groups, scale=float(stream.std), key=key)
