"""Amazon review data (McAuley et al.): 2014 and 2018 "5-core" per-category review files.

Any category whose file is in the data directory is usable by name, discovered at run time:
  amazon-<category>    <- amazon/reviews_<Category>_5.json.gz          (2014 release)
  amazon18-<category>  <- amazon2018/<Category>_5.json.gz              (2018 release)
with <category> in lower case, words joined by '-' (Musical_Instruments -> musical-instruments).

Reviews schema: user_id str, item_id str, rating float32, text str, summary str, timestamp int64,
sorted by (timestamp, user_id, item_id) so that row order is a property of the data, not of the file.
The 2018 files repeat a review once per product variant, in two ways: the same (user, item) pair on
several lines (the parser keeps the first), and the same review -- same user, text, summary, time and
rating -- filed under several variant item ids (AMAZON_FASHION: 3,042 pairs, 424 distinct reviews).
`load_reviews` collapses the second kind to its first row too, because a random split would otherwise put
a copy of a test review (text *and* rating) in training. Pass keep_variant_copies=True to get every pair.

Metadata schema (when meta_<Category>.json.gz is present): item_id str, title str, brand str,
categories list[str], also_buy list[str], also_view list[str].

Terms: academic research use, do not redistribute; cite He & McAuley (WWW 2016) / Ni, Li & McAuley (EMNLP 2019).
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pandas as pd

from .base import DatasetError, LoadedTable, RawFile, cached_table, data_dir, open_text, resolve

URL_2014 = "http://snap.stanford.edu/data/amazon/productGraph/categoryFiles/{file}"
URL_2018 = "https://jmcauley.ucsd.edu/data/amazon_v2/categoryFilesSmall/{file}"
URL_2018_META = "https://jmcauley.ucsd.edu/data/amazon_v2/metaFiles2/{file}"
TERMS = "Academic research use only; do not redistribute; cite McAuley et al. (see README)."

# Content (decompressed) sha256 of the files we have verified copies of.
PINNED_2014 = {"Musical_Instruments": "8e1aaab451ba61484dfe393f53d11886246bc426c7046b180b62352580f68c1d"}
PINNED_2018 = {
    "AMAZON_FASHION": "89d01607b46760c41b2b22314973fac06b18a915977374ba02624dbe78d637ee",
    "Appliances": "86b193bf5338cf5818f97b7bd90a8df68059d6534555de711ae265e5fc4187c1",
    "Gift_Cards": "9a712964d5f4d6d6ce905efc63dd41fe1309dd02a6daa4e7e0570725a44261cf",
    "Magazine_Subscriptions": "2092c2821ab8c720988443f1a1a2e203e6339595daa0f7bc1ca190e9181d7e7d",
}
PINNED_2018_META = {
    "Gift_Cards": "538994d5d15bef85a2d5a81ce79becff140719cdc6394a46e4b934cf63e09acf",
    "Magazine_Subscriptions": "a75359201beb85e6e7913ee5e05e2204d150aac6cd190dcffd4f98013e04d96a",
}


def slug(category: str) -> str:
    return category.lower().replace("_", "-")


def _review_file(release: int, category: str) -> RawFile:
    if release == 2014:
        name = f"reviews_{category}_5.json.gz"
        return RawFile(f"amazon/{name}", PINNED_2014.get(category), URL_2014.format(file=name))
    name = f"{category}_5.json.gz"
    return RawFile(f"amazon2018/{name}", PINNED_2018.get(category), URL_2018.format(file=name))


def _meta_file(release: int, category: str) -> RawFile:
    name = f"meta_{category}.json.gz"
    if release == 2014:
        return RawFile(f"amazon/{name}", None, URL_2014.format(file=name))
    return RawFile(f"amazon2018/{name}", PINNED_2018_META.get(category), URL_2018_META.format(file=name))


def categories() -> dict[str, tuple[int, str]]:
    """Dataset name -> (release, Category): pinned categories plus every file found on disk."""
    found = {f"amazon-{slug(c)}": (2014, c) for c in PINNED_2014}
    found.update({f"amazon18-{slug(c)}": (2018, c) for c in PINNED_2018})
    root = data_dir()
    for path in sorted((root / "amazon").glob("reviews_*_5.json*")):
        cat = re.sub(r"^reviews_(.*)_5\.json(\.gz)?$", r"\1", path.name)
        found[f"amazon-{slug(cat)}"] = (2014, cat)
    for path in sorted((root / "amazon2018").glob("*_5.json*")):
        cat = re.sub(r"_5\.json(\.gz)?$", "", path.name)
        found[f"amazon18-{slug(cat)}"] = (2018, cat)
    return dict(sorted(found.items()))


def available() -> list[str]:
    """Names of the categories whose review file is actually present."""
    return [name for name, (rel, cat) in categories().items()
            if any(p.exists() for p in _review_file(rel, cat).candidates())]


def _lookup(dataset: str) -> tuple[int, str]:
    cats = categories()
    if dataset not in cats:
        raise DatasetError(f"[{dataset}] unknown Amazon category; known: {', '.join(cats)}. "
                           f"Place reviews_<Category>_5.json.gz under {data_dir() / 'amazon'} to add one.")
    return cats[dataset]


def parse_reviews(path: Path, dataset: str) -> pd.DataFrame:
    """One JSON object per line; a malformed line fails with its line number."""
    rows = []
    with open_text(path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                rows.append((str(obj["reviewerID"]), str(obj["asin"]), float(obj["overall"]),
                             obj.get("reviewText") or "", obj.get("summary") or "", int(obj["unixReviewTime"])))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise DatasetError(f"[{dataset}] malformed review at line {lineno} of {path}: "
                                   f"{type(exc).__name__}: {exc}") from None
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "text", "summary", "timestamp"])
    frame = frame.drop_duplicates(["user_id", "item_id"], keep="first")
    frame = frame.astype({"rating": "float32", "timestamp": "int64"})
    return frame.sort_values(["timestamp", "user_id", "item_id"], kind="stable").reset_index(drop=True)


COPY_KEY = ["user_id", "text", "summary", "timestamp", "rating"]


def collapse_variant_copies(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct review: copies filed under other (variant) items are dropped, first kept."""
    return frame.drop_duplicates(COPY_KEY, keep="first").reset_index(drop=True)


def load_reviews(dataset: str, keep_variant_copies: bool = False) -> LoadedTable:
    release, cat = _lookup(dataset)
    rf = _review_file(release, cat)
    paths, shas = resolve(dataset, [rf])
    frame = cached_table(f"{dataset}-reviews", 1, shas, lambda: parse_reviews(paths[rf.path], dataset))
    return LoadedTable(frame if keep_variant_copies else collapse_variant_copies(frame), shas)


def has_metadata(dataset: str) -> bool:
    release, cat = _lookup(dataset)
    return any(p.exists() for p in _meta_file(release, cat).candidates())


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        flat = []
        for v in value:  # 2014 'categories' is a list of lists
            flat.extend(v if isinstance(v, list) else [v])
        return [str(v) for v in flat]
    return [str(value)]


def load_metadata(dataset: str) -> LoadedTable:
    release, cat = _lookup(dataset)
    rf = _meta_file(release, cat)
    paths, shas = resolve(dataset, [rf])

    def parse():
        rows = []
        with open_text(paths[rf.path]) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:  # 2018 files are JSON; 2014 files are Python dict literals
                    obj = json.loads(line) if release == 2018 else ast.literal_eval(line)
                except (ValueError, SyntaxError) as exc:
                    raise DatasetError(f"[{dataset}] malformed metadata at line {lineno} of {rf.path}: {exc}") from None
                related = obj.get("related", {}) if release == 2014 else obj
                rows.append((str(obj["asin"]), str(obj.get("title", "")), str(obj.get("brand", "")),
                             _as_list(obj.get("categories") or obj.get("category")),
                             _as_list(related.get("also_buy") or related.get("also_bought")),
                             _as_list(related.get("also_view") or related.get("also_viewed"))))
        frame = pd.DataFrame(rows, columns=["item_id", "title", "brand", "categories", "also_buy", "also_view"])
        return frame.drop_duplicates("item_id", keep="first").reset_index(drop=True)

    return LoadedTable(cached_table(f"{dataset}-meta", 1, shas, parse), shas)


def raw_files(dataset: str) -> list[RawFile]:
    release, cat = _lookup(dataset)
    files = [_review_file(release, cat)]
    meta = _meta_file(release, cat)
    if meta.sha256 or any(p.exists() for p in meta.candidates()):
        files.append(meta)
    return files
