"""Sparse tensors of the streaming tensor-factorisation papers (POST, SBDT/SPIDER).

  alog            200 x 100 x 200, continuous ln(1+count); 5 folds of text `i,j,k,value` (1-based).
  acc             3000 x 150 x 30000, continuous; MATLAB struct: Y = training non-zeros,
                  test = 50 sets of 2000 entries (200 held-out non-zeros + 1800 zeros).
  dblp            10000 x 200 x 10000, binary; same layout as acc.
  post-movielens  400 x 400 x 31 dense binary tensor + 5 masks OmegaT (1 = observed/training).

Every index returned here is 0-based int64. Terms: see README (MIT/Apache code repositories; data
derived from DBLP, IBM logs and MovieLens — cite the papers).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .base import DatasetError, RawFile, resolve
from ..registry import Resolver

TERMS = "Released with POST (MIT) / BSTD (Apache-2.0) code; cite the papers; MovieLens-derived data follows GroupLens terms."

_ALOG_SHA = {
    ("train", 1): "ae48dede8b51b571e4663472a55158de6c7c85cc7cbf87d5055dcc805b6c7efe",
    ("train", 2): "747f25101ce31292793d77046bbba9f4882d6b5e0fa3ed0ad345c94ca7b03856",
    ("train", 3): "f0b5c1726a81700417f0c2108af73c848a7805dd01fed03f4781d77c2e5ad994",
    ("train", 4): "b9d38c84114b43c309e3783ba463c967958f62be6dac0f5c9bc30bf212ca1163",
    ("train", 5): "041c33453f874c82bdae6b5522b23d7847d24c4c033e2eff93e303a4eaf6c5ab",
    ("test", 1): "d3385da1b834e37bd88ce81bccbcda273246face0252f60d515ed5067850c38b",
    ("test", 2): "abcbdb0dc6587f9fcffa036cde82ef39afc7ee552d4e4f486672fdf2bec69dff",
    ("test", 3): "495726539ef698e39e7e4ceb65a877fb465b5c47c502da2a41e6d3c09b4b1726",
    ("test", 4): "046be2767940472eaa6598760bf358bc562ba070c46168cfed6b7a4d6ce834f5",
    ("test", 5): "374fd00b9790a0ee8a5f41e28a78a091d0b2ad099c10dc074dbbd6714b49a23d",
}
_BSTD = "https://github.com/xuangu-fang/Bayesian-streaming-sparse-tucker (data/)"
_POST = "https://github.com/yishuaidu/POST (code/)"
ALOG = {key: RawFile(f"tensor/alog/{key[0]}-fold-{key[1]}.txt", sha, how_to_get=f"from {_BSTD}")
        for key, sha in _ALOG_SHA.items()}
ACC = RawFile("tensor/acc/ibm.mat", "faabf29482f97542d2c24561330aa6eed2ad20183efd9dd8bce27f3ae5b6597a",
              how_to_get=f"data/acc/ibm.mat from {_BSTD}")
DBLP = RawFile("tensor/dblp/dblp.mat", "9edd7cbb65256472ae817f33ac2e05c3566921d037335ffba315ff535ea456db",
               how_to_get=f"code/DBLP/tensor-data-large/dblp.mat from {_POST}")
POST_ML = RawFile("tensor/post_movielens/movie_400x400x31.mat",
                  "419c8e702d9b2e656984168c28dbc6aa2b656cd8d7f1b15e4b2dd6d6dc1d5e62",
                  how_to_get=f"code/MovieLen/ from {_POST}")
_MASK_SHA = [
    "31ad29e286a289d12a2ea353e4b9a9e2854266ac553b78e3d7892c5d3686c6cf",
    "bdfb2748b9317f091c63f60a39d202f262377ddbe5a6fbf895601085919d5b33",
    "166c9467ad39aa22f3704030b4c6a427ac37ec9d37c67a2aa22fdd6a2cc471b0",
    "d5332254c7493135b10cdd7f832f66d84c37f7458a19dab373a32ca9aa745a41",
    "21f47ac42694cb70acfdb3ec0827079864fa8bfdfa460a9881b03742703cf2ba",
]
POST_MASKS = {k + 1: RawFile(f"tensor/post_movielens/omegaT_90_{k + 1}.mat", sha, how_to_get=f"code/MovieLen/ from {_POST}")
              for k, sha in enumerate(_MASK_SHA)}


@dataclass
class SparseTensor:
    """Observed entries of a K-mode tensor with a train/test split shipped by the authors."""

    name: str
    shape: tuple[int, ...]
    binary: bool
    train_idx: np.ndarray  # (N, K) int64, 0-based
    train_y: np.ndarray  # (N,) float64
    test_idx: np.ndarray
    test_y: np.ndarray
    test_sets: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # acc/dblp: the 50 sets
    files: dict[str, str] = field(default_factory=dict)


def _load_mat(path):
    import scipy.io

    try:
        return scipy.io.loadmat(path)
    except (ValueError, OSError, TypeError) as exc:
        raise DatasetError(f"cannot read MATLAB file {path}: {exc}") from None


def load_alog(fold: int = 1) -> SparseTensor:
    rfs = [ALOG[("train", fold)], ALOG[("test", fold)]]
    paths, shas = resolve("alog", rfs)

    def read(rf):
        frame = pd.read_csv(paths[rf.path], header=None, names=["i", "j", "k", "y"])
        if frame.isna().any().any():
            raise DatasetError(f"[alog] malformed line {int(np.flatnonzero(frame.isna().any(axis=1))[0]) + 1} in {rf.path}")
        return frame[["i", "j", "k"]].to_numpy(np.int64) - 1, frame["y"].to_numpy(np.float64)

    tr_i, tr_y = read(rfs[0])
    te_i, te_y = read(rfs[1])
    return SparseTensor("alog", (200, 100, 200), False, tr_i, tr_y, te_i, te_y, files=shas)


def _load_struct(name: str, rf: RawFile, binary: bool) -> SparseTensor:
    paths, shas = resolve(name, [rf])
    data = _load_mat(paths[rf.path])["data"][0, 0]
    Y = data["Y"][0, 0]
    shape = tuple(int(s) for s in np.ravel(Y["size"]))
    train_idx = Y["subs"].astype(np.int64) - 1
    train_y = np.ravel(Y["vals"]).astype(np.float64)
    sets = []
    for t in np.ravel(data["test"]):
        subs = t["subs"][0, 0] if t["subs"].dtype == object else t["subs"]
        y = t["Ymiss"][0, 0] if t["Ymiss"].dtype == object else t["Ymiss"]
        sets.append((np.asarray(subs, np.int64) - 1, np.ravel(y).astype(np.float64)))
    if binary:
        train_y = (train_y > 0).astype(np.float64)
        sets = [(i, (y > 0).astype(np.float64)) for i, y in sets]
    test_idx = np.concatenate([s[0] for s in sets])
    test_y = np.concatenate([s[1] for s in sets])
    return SparseTensor(name, shape, binary, train_idx, train_y, test_idx, test_y, sets, shas)


def load_acc() -> SparseTensor:
    """Training = the non-zeros in data.Y (zeros are implicit); test = the 50 shipped test sets."""
    return _load_struct("acc", ACC, binary=False)


def load_dblp() -> SparseTensor:
    return _load_struct("dblp", DBLP, binary=True)


def load_post_movielens(split: int = 1) -> SparseTensor:
    """Training = every observed entry (mask 1, zeros included); test = every unobserved entry."""
    paths, shas = resolve("post-movielens", [POST_ML, POST_MASKS[split]])
    dense = _load_mat(paths[POST_ML.path])["data"].astype(np.float64)
    mask = _load_mat(paths[POST_MASKS[split].path])["OmegaT"].astype(bool)
    if dense.shape != mask.shape:
        raise DatasetError(f"[post-movielens] mask shape {mask.shape} != tensor shape {dense.shape}")
    tr = np.argwhere(mask)
    te = np.argwhere(~mask)
    return SparseTensor("post-movielens", dense.shape, True, tr, dense[mask], te, dense[~mask], files=shas)


LOADERS = Resolver("tensor dataset", {  # (fold or mask number) -> SparseTensor
    "alog": load_alog, "post-movielens": load_post_movielens,
    "acc": lambda split: load_acc(), "dblp": lambda split: load_dblp(),
})


def load(name: str, split: int = 1) -> SparseTensor:
    return LOADERS.make(name, split)


def raw_files(name: str) -> list[RawFile]:
    return {"alog": list(ALOG.values()), "acc": [ACC], "dblp": [DBLP],
            "post-movielens": [POST_ML, *POST_MASKS.values()]}[name]
