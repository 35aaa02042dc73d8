"""MovieLens (GroupLens): ML-100K, ML-1M and ml-latest-small.

Schemas (pandas dtypes):
  ratings: user_id int64, item_id int64, rating float32, timestamp int64  (ids exactly as in the files)
  users:   user_id int64, age int64, gender str, occupation str, zip str
  items:   item_id int64, title str, year float32 (NaN if unknown), genres list[str]

Terms: research use only; do not redistribute; cite Harper & Konstan, ACM TiiS 5(4), 2015.
ML-1M's ratings.dat is not in the shared copy; it is supported for users who have it.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .base import DatasetError, LoadedTable, RawFile, cached_table, resolve

ZIP_100K = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ZIP_1M = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
ZIP_SMALL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
TERMS = "GroupLens terms: research use only, no redistribution, cite Harper & Konstan (2015)."

ML100K_GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
]


def _f100k(name: str, sha: str) -> RawFile:
    return RawFile(f"movielens/ml-100k/{name}", sha, ZIP_100K, f"ml-100k/{name}")


ML100K = {
    "u.data": _f100k("u.data", "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"),
    "u.item": _f100k("u.item", "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701"),
    "u.user": _f100k("u.user", "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c"),
}
# Official splits; the shared copy holds them gzip-compressed under splits/ (same content checksum).
_SPLIT_SHA = {
    "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
    "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
    "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
    "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
    "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
    "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
    "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
    "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
    "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
    "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
    "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
    "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
    "ub.base": "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
    "ub.test": "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
}
ML100K_SPLITS = {
    name: RawFile(f"movielens/ml-100k/{name}", sha, ZIP_100K, f"ml-100k/{name}",
                  alternatives=(f"movielens/ml-100k/splits/{name}.gz",))
    for name, sha in _SPLIT_SHA.items()
}

ML1M = {
    "ratings.dat": RawFile("movielens/ml-1m/ratings.dat", None, ZIP_1M, "ml-1m/ratings.dat",
                           how_to_get="not in the shared offline copy; unzip ml-1m.zip from GroupLens."),
    "users.dat": RawFile("movielens/ml-1m/users.dat",
                         "1dc3a95300cb19f7c10e027daf29b8cdf1d908dab65b5edfb45950aa389a10a3", ZIP_1M, "ml-1m/users.dat"),
    "movies.dat": RawFile("movielens/ml-1m/movies.dat",
                          "0140fc2356357c1a851d0f52e893a1e4d3696df632c4141cea8d5bc3d621f0b9", ZIP_1M, "ml-1m/movies.dat"),
}

ML_SMALL = {
    "ratings.csv": RawFile("movielens/ml-latest-small/ratings.csv",
                           "aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646", ZIP_SMALL,
                           "ml-latest-small/ratings.csv"),
    "movies.csv": RawFile("movielens/ml-latest-small/movies.csv",
                          "5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07", ZIP_SMALL,
                          "ml-latest-small/movies.csv"),
}

RATING_DTYPES = {"user_id": "int64", "item_id": "int64", "rating": "float32", "timestamp": "int64"}


def _read_delimited(path, sep: str, names: list[str], dataset: str, encoding="utf-8", **kw) -> pd.DataFrame:
    """Read a delimited file, turning parser errors into one clear DatasetError."""
    try:
        return pd.read_csv(path, sep=sep, names=names, header=None, engine="python" if len(sep) > 1 else "c",
                           encoding=encoding, **kw)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError(f"[{dataset}] cannot parse {path}: {exc}") from None


def _ratings_from(path, dataset: str, sep: str) -> pd.DataFrame:
    frame = _read_delimited(path, sep, list(RATING_DTYPES), dataset)
    if frame.isna().any().any() or not frame["rating"].between(0.5, 5).all():
        bad = int(np.flatnonzero(frame.isna().any(axis=1) | ~frame["rating"].between(0.5, 5))[0])
        raise DatasetError(f"[{dataset}] malformed rating at line {bad + 1} of {path}")
    return frame.astype(RATING_DTYPES)


def load_ratings(dataset: str = "ml-100k") -> LoadedTable:
    """All ratings of ``ml-100k``, ``ml-1m`` or ``ml-latest-small``."""
    if dataset == "ml-100k":
        rf, sep = ML100K["u.data"], "\t"
    elif dataset == "ml-1m":
        rf, sep = ML1M["ratings.dat"], "::"
    elif dataset == "ml-latest-small":
        rf, sep = ML_SMALL["ratings.csv"], ","
    else:
        raise KeyError(f"unknown MovieLens dataset {dataset!r}")
    paths, shas = resolve(dataset, [rf])
    path = paths[rf.path]

    def parse():
        if dataset == "ml-latest-small":
            frame = pd.read_csv(path).rename(columns={"userId": "user_id", "movieId": "item_id"})
            return frame.astype(RATING_DTYPES)
        return _ratings_from(path, dataset, sep)

    return LoadedTable(cached_table(f"{dataset}-ratings", 1, shas, parse), shas)


def load_official_split(fold: str = "u1") -> tuple[LoadedTable, LoadedTable]:
    """ML-100K's official splits: ``u1``..``u5`` (5-fold CV) or ``ua``/``ub`` (10 test ratings/user)."""
    out = []
    for part in ("base", "test"):
        rf = ML100K_SPLITS[f"{fold}.{part}"]
        paths, shas = resolve("ml-100k", [rf])
        frame = cached_table(f"ml-100k-{fold}.{part}", 1, shas, lambda: _ratings_from(paths[rf.path], "ml-100k", "\t"))
        out.append(LoadedTable(frame, shas))
    return out[0], out[1]


def load_users(dataset: str = "ml-100k") -> LoadedTable:
    if dataset == "ml-100k":
        rf = ML100K["u.user"]
        paths, shas = resolve(dataset, [rf])
        frame = _read_delimited(paths[rf.path], "|", ["user_id", "age", "gender", "occupation", "zip"], dataset,
                                dtype={"zip": str})
    elif dataset == "ml-1m":
        rf = ML1M["users.dat"]
        paths, shas = resolve(dataset, [rf])
        frame = _read_delimited(paths[rf.path], "::", ["user_id", "gender", "age", "occupation", "zip"], dataset,
                                dtype={"zip": str, "occupation": str})
        frame = frame[["user_id", "age", "gender", "occupation", "zip"]]
    else:
        raise KeyError(f"{dataset} has no user table")
    return LoadedTable(frame.astype({"user_id": "int64", "age": "int64"}), shas)


def _year(title: str) -> float:
    m = re.search(r"\((\d{4})\)\s*$", str(title))
    return float(m.group(1)) if m else float("nan")


def load_items(dataset: str = "ml-100k") -> LoadedTable:
    if dataset == "ml-100k":
        rf = ML100K["u.item"]
        paths, shas = resolve(dataset, [rf])
        cols = ["item_id", "title", "release_date", "video_release_date", "url", *ML100K_GENRES]
        raw = _read_delimited(paths[rf.path], "|", cols, dataset, encoding="latin-1")
        flags = raw[ML100K_GENRES].to_numpy(dtype=bool)
        genres = [[g for g, f in zip(ML100K_GENRES, row) if f] for row in flags]
        year = pd.to_datetime(raw["release_date"], format="%d-%b-%Y", errors="coerce").dt.year
        frame = pd.DataFrame({"item_id": raw["item_id"].astype("int64"), "title": raw["title"].astype(str),
                              "year": year.astype("float32"), "genres": genres})
    elif dataset in ("ml-1m", "ml-latest-small"):
        if dataset == "ml-1m":
            rf = ML1M["movies.dat"]
            paths, shas = resolve(dataset, [rf])
            raw = _read_delimited(paths[rf.path], "::", ["item_id", "title", "genres"], dataset, encoding="latin-1")
        else:
            rf = ML_SMALL["movies.csv"]
            paths, shas = resolve(dataset, [rf])
            raw = pd.read_csv(paths[rf.path]).rename(columns={"movieId": "item_id"})
        frame = pd.DataFrame({"item_id": raw["item_id"].astype("int64"), "title": raw["title"].astype(str),
                              "year": raw["title"].map(_year).astype("float32"),
                              "genres": raw["genres"].str.split("|")})
    else:
        raise KeyError(f"{dataset} has no item table")
    return LoadedTable(frame, shas)


def raw_files(dataset: str) -> list[RawFile]:
    return {"ml-100k": [*ML100K.values(), *ML100K_SPLITS.values()], "ml-1m": list(ML1M.values()),
            "ml-latest-small": list(ML_SMALL.values())}[dataset]
