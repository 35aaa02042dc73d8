"""Dataset registry: every public dataset the suite knows, by name.

`catalogue()` maps a dataset name to its source module; each module declares the raw files
(`RawFile`: path, content sha256, official URL) and parsers to typed tables. Amazon categories
are discovered from the data directory, so a newly placed file is usable by name at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from . import amazon, avazu, criteo, kg, movielens, tensors
from .base import DatasetError, LoadedTable, RawFile, cache_dir, data_dir, offline, set_data_dir


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    module: ModuleType
    description: str

    @property
    def terms(self) -> str:
        return self.module.TERMS

    def raw_files(self) -> list[RawFile]:
        return self.module.raw_files(self.name)


_STATIC = {
    "ml-100k": (movielens, "MovieLens 100K: 100,000 ratings, 943 users, 1,682 movies (+ official u1..u5/ua/ub splits)"),
    "ml-1m": (movielens, "MovieLens 1M: 1,000,209 ratings, 6,040 users, 3,883 movies"),
    "ml-100k-kg": (kg, "Freebase KG of ML-100K movies (KB4Rec links, CGKR files): 41,751 triples, 29 relations"),
    "ml-latest-small": (movielens, "MovieLens latest-small (2018): 100,836 ratings, 610 users"),
    "criteo-900": (criteo, "Criteo DAC: first 900 rows of train.txt (pipeline checks only)"),
    "criteo-10k": (criteo, "Criteo DAC: 10,000 labelled rows (8,000 train + 2,000 test)"),
    "criteo": (criteo, "Criteo DAC full train.txt, 45.8M rows (streamed)"),
    "avazu-10k": (avazu, "Avazu CTR: first 9,999 labelled rows of train.csv (8,999 train + 1,000 test), one hour"),
    "avazu": (avazu, "Avazu CTR full train.csv, 40.4M rows over 10 days (streamed)"),
    "alog": (tensors, "Alog access-log tensor 200x100x200, continuous, 5 folds"),
    "acc": (tensors, "ACC (IBM) tensor 3000x150x30000, continuous"),
    "dblp": (tensors, "DBLP tensor 10000x200x10000, binary"),
    "post-movielens": (tensors, "POST MovieLens tensor 400x400x31, binary, 5 masks"),
}


def catalogue() -> dict[str, DatasetEntry]:
    entries = {name: DatasetEntry(name, mod, desc) for name, (mod, desc) in _STATIC.items()}
    for name, (release, cat) in amazon.categories().items():
        entries[name] = DatasetEntry(name, amazon, f"Amazon {release} 5-core reviews: {cat}")
    return entries


def get(name: str) -> DatasetEntry:
    cat = catalogue()
    if name not in cat:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(sorted(cat))}")
    return cat[name]


def verify(name: str) -> dict[str, str]:
    """Locate (download if allowed) and checksum every raw file of a dataset."""
    from .base import resolve

    _, shas = resolve(name, get(name).raw_files())
    return shas


__all__ = ["DatasetEntry", "DatasetError", "LoadedTable", "RawFile", "amazon", "avazu", "cache_dir", "catalogue", "criteo", "kg",
           "data_dir", "get", "movielens", "offline", "set_data_dir", "tensors", "verify"]
