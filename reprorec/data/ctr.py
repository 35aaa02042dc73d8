"""CTR proxy datasets with real user/item IDs and time, split into time windows.

Public ads logs with user and item IDs *and* time are not available, so the ads-ranking papers
(TransRA, MF-LET) run on proxies built here:

  ml-100k-ctr     MovieLens 100K ratings; click = rating >= 4 (55.4% positive). Features: user ID,
                  item ID (large ID tables); gender, age, occupation, zip, release year (attribute
                  fields); genres (multi-hot, mean-pooled).
  amazon-*-ctr    an Amazon 5-core review file (``reprorec.data.amazon``); positive = rating >= 4,
                  negative = rating < 4 plus ``neg_ratio`` (default 1) items the user never reviewed,
                  drawn uniformly per review with ``neg_seed`` (default 0, independent of the run seed)
                  and given that review's timestamp; ``negatives='time-consistent'`` draws them only
                  among items already reviewed by someone before that time. Features: user and item ID; brand + categories
                  when the category's metadata file is present.
  criteo-10k      (no IDs, no time) train.txt split randomly into train/val, test.txt as test; the
                  format check that Criteo rows run through the same backbone.

Time windows (global time quantiles, configurable ``windows=(pretrain_end, val_start, test_start)``,
default (0.5, 0.8, 0.9)):  t < q_pre -> 'pretrain'  <  'train'  <  'val'  <  'test'  (ties at a
boundary go to the later window, so no timestamp is in two windows). The pretraining window is
what KGE / contrastive facets learn from (``CTRData.pretrain``); the ranking model trains on 'train'.

ID maps: raw id -> table row for ids seen before val_start (pretrain + train), rows 1..n in sorted
raw-id order; ids first seen in val/test map to row 0 (the OOV row), as in a deployed ranker.
Attribute vocabularies are fitted on the same rows (``CategoricalEncoder``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from . import amazon, avazu, criteo, movielens
from .splits import fingerprint, random_split, time_cut
from ..lightning_glue import make_loader
from ..registry import Resolver
from .ctr_features import CategoricalEncoder, criteo_numeric
from .ctr_schema import FeatureSchema, IdField, MultiHotField

WINDOWS = ("pretrain", "train", "val", "test")


@dataclass
class CTRData:
    """Everything a ranking run needs.

    windows:  {'pretrain','train','val','test'} -> batch dict (see ``schema``) with label 'y' and,
              for timed data, 'time' (unix seconds; not a model input). criteo-10k has no 'pretrain'.
    id_maps:  {'user': {raw_id: row}, 'item': {...}}; row 0 = unseen.
    pretrain: pretraining-window interactions (real ones, no sampled negatives) as a DataFrame with
              user, item (raw ids), user_row, item_row, label, rating, timestamp.
    """

    name: str
    schema: FeatureSchema
    windows: dict[str, dict[str, torch.Tensor]]
    id_maps: dict[str, dict]
    pretrain: pd.DataFrame
    files: dict[str, str]
    split_fingerprint: str
    cuts: dict[str, float] = field(default_factory=dict)
    info: dict = field(default_factory=dict)

    def loaders(self, batch_size: int, seed: int = 0, eval_batch_size: int = 8192,
                train_windows: tuple[str, ...] = ("train",)) -> dict:
        """train (shuffled per epoch with ``seed``), val and test loaders.

        ``train_windows`` (e.g. ``('pretrain', 'train')``) concatenates several windows, in that order,
        into the training set -- the control that gives the ranker the data a KGE sees through the
        graph; val and test never change. The default uses the 'train' window's tensors as they are.
        """
        windows = dict(self.windows)
        windows["train"] = self.train_tensors(train_windows)
        return {w: make_loader(windows[w], batch_size if w == "train" else eval_batch_size,
                               shuffle=(w == "train"), seed=seed) for w in ("train", "val", "test")}

    def train_tensors(self, train_windows: tuple[str, ...] = ("train",)) -> dict[str, torch.Tensor]:
        """The training batch dict of ``train_windows`` (only windows before 'val' are allowed)."""
        train_windows = tuple(train_windows)
        bad = [w for w in train_windows if w not in ("pretrain", "train") or w not in self.windows]
        if bad or not train_windows:
            raise ValueError(f"train windows must be among {[w for w in ('pretrain', 'train') if w in self.windows]}, "
                             f"got {list(train_windows)}")
        if train_windows == ("train",):
            return self.windows["train"]
        parts = [self.windows[w] for w in train_windows]
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def window_split(times: np.ndarray, windows=(0.5, 0.8, 0.9)) -> dict[str, np.ndarray]:
    """Row indices of the four time windows; boundaries are global quantiles (or timestamps if >= 1)."""
    pre, val, test = windows
    first, second = time_cut(times, pre, val), time_cut(times, val, test)
    return {"pretrain": first["train"], "train": first["val"], "val": second["val"], "test": second["test"]}


def _id_map(values: pd.Series) -> dict:
    return {raw: row for row, raw in enumerate(sorted(values.unique().tolist()), start=1)}


def _multi_hot(lists: pd.Series, vocab: dict) -> torch.Tensor:
    """Bags -> (N, L) ids padded with 0; unknown tokens are dropped."""
    ids = [[vocab[t] for t in bag if t in vocab] for bag in lists]
    width = max(1, max((len(b) for b in ids), default=1))
    out = np.zeros((len(ids), width), dtype=np.int64)
    for r, b in enumerate(ids):
        out[r, :len(b)] = b
    return torch.as_tensor(out)


def build(name: str, frame: pd.DataFrame, split: dict[str, np.ndarray], *, fit_rows: np.ndarray,
          cat_cols=(), bag_cols=(), num_cols=(), id_cols=("user", "item"), min_count: int = 1,
          id_dim: int | None = None, buckets: dict | None = None, files=None, cuts=None, info=None) -> CTRData:
    """Encode ``frame`` (one row per impression, column 'label', optional 'sampled') into a CTRData.

    Vocabularies and ID maps are fitted on ``fit_rows`` only; ``bag_cols`` hold lists of tokens.
    """
    fit = frame.iloc[fit_rows]
    tensors: dict[str, torch.Tensor] = {"y": torch.as_tensor(frame["label"].to_numpy(np.float32))}
    if "timestamp" in frame:
        tensors["time"] = torch.tensor(frame["timestamp"].to_numpy(np.int64))
    id_maps, id_fields = {}, []
    for col in id_cols:
        id_maps[col] = _id_map(fit[col])
        tensors[col] = torch.tensor(frame[col].map(id_maps[col]).fillna(0).to_numpy(np.int64))
        id_fields.append(IdField(col, len(id_maps[col]) + 1, id_dim, (buckets or {}).get(col)))
    enc = CategoricalEncoder(min_count).fit(fit, list(cat_cols)) if cat_cols else None
    if enc is not None:
        tensors["cat"] = enc.transform(frame)
    bags = []
    for col in bag_cols:
        vocab = {t: j for j, t in enumerate(sorted({t for bag in fit[col] for t in bag}), start=1)}
        tensors[col] = _multi_hot(frame[col], vocab)
        bags.append(MultiHotField(col, len(vocab) + 1))
    if num_cols:
        tensors["num"] = torch.as_tensor(frame[list(num_cols)].to_numpy(np.float32))
    cards = [len(enc.vocab[c]) + 1 for c in cat_cols] if enc else []
    schema = FeatureSchema(id_fields, list(cat_cols), enc.size if enc else 0, bags, list(num_cols), cards)
    windows = {w: {k: t[torch.as_tensor(idx)] for k, t in tensors.items()} for w, idx in split.items()}
    pre = frame.iloc[split.get("pretrain", np.zeros(0, np.int64))]
    if "sampled" in pre:
        pre = pre[~pre["sampled"]]
    keep = [c for c in (*id_cols, "label", "rating", "timestamp") if c in pre]
    pretrain = pre[keep].assign(**{f"{c}_row": pre[c].map(id_maps[c]).fillna(0).astype("int64") for c in id_cols})
    info = {**(info or {}), "rows": {w: int(len(i)) for w, i in split.items()},
            "positive_rate": {w: float(frame["label"].to_numpy()[i].mean()) if len(i) else None
                              for w, i in split.items()}}
    return CTRData(name, schema, windows, id_maps, pretrain.reset_index(drop=True), dict(files or {}),
                   fingerprint(split), dict(cuts or {}), info)


def _cuts(times: np.ndarray, windows) -> dict[str, float]:
    return {k: float(np.quantile(times, q, method="lower") if 0 < q < 1 else q)
            for k, q in zip(("pretrain_end", "val_start", "test_start"), windows)}


def load_ml100k_ctr(windows=(0.5, 0.8, 0.9), min_count: int = 1, id_dim: int | None = None,
                    buckets: dict | None = None) -> CTRData:
    ratings, users, items = movielens.load_ratings("ml-100k"), movielens.load_users("ml-100k"), movielens.load_items("ml-100k")
    frame = (ratings.frame.merge(users.frame, on="user_id", how="left").merge(items.frame, on="item_id", how="left")
             .rename(columns={"user_id": "user", "item_id": "item"}))
    frame["label"] = (frame["rating"] >= 4).astype(np.int8)
    frame["year"] = frame["year"].astype("Int64").astype("string")
    times = frame["timestamp"].to_numpy()
    split = window_split(times, windows)
    fit_rows = np.concatenate([split["pretrain"], split["train"]])
    return build("ml-100k-ctr", frame, split, fit_rows=fit_rows, cat_cols=("gender", "age", "occupation", "zip", "year"),
                 bag_cols=("genres",), min_count=min_count, id_dim=id_dim, buckets=buckets,
                 files={**ratings.files, **users.files, **items.files}, cuts=_cuts(times, windows),
                 info={"click": "rating >= 4"})


def sample_negatives(reviews: pd.DataFrame, neg_ratio: int, seed: int) -> pd.DataFrame:
    """``neg_ratio`` items per review drawn uniformly from items the user never reviewed (fixed seed)."""
    rng = np.random.default_rng(seed)
    items = np.sort(reviews["item"].unique())
    seen = reviews.groupby("user")["item"].apply(set).to_dict()
    rows = []
    for user, ts in zip(reviews["user"].to_numpy(), reviews["timestamp"].to_numpy()):
        for _ in range(neg_ratio):
            item = items[rng.integers(len(items))]
            while item in seen[user]:
                item = items[rng.integers(len(items))]
            rows.append((user, item, ts))
    neg = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    return neg.assign(rating=np.float32("nan"), label=np.int8(0), sampled=True)


def sample_negatives_time_consistent(reviews: pd.DataFrame, neg_ratio: int, seed: int) -> pd.DataFrame:
    """``neg_ratio`` items per review, drawn uniformly from the items that *someone* had reviewed strictly
    before the review's time and that the user never reviewed (neither before nor later).

    The uniform sampler of `sample_negatives` can pick an item nobody had reviewed yet at that time, so a
    model can score "is this item already on the market" (recency / popularity) instead of preference. Here
    an impression's candidate pool is what existed then. A review with no eligible item (the earliest ones)
    gets no negative; `info['negatives_skipped']` of the loader counts them.
    """
    rng = np.random.default_rng(seed)
    first = reviews.groupby("item")["timestamp"].min().sort_values(kind="stable")
    items, first_t = first.index.to_numpy(), first.to_numpy()
    seen = reviews.groupby("user")["item"].apply(set).to_dict()
    rows, skipped = [], 0
    for user, ts in zip(reviews["user"].to_numpy(), reviews["timestamp"].to_numpy()):
        k = int(np.searchsorted(first_t, ts, side="left"))  # items[:k] were first reviewed before ts
        mine = seen[user]
        for _ in range(neg_ratio):
            item = None
            for _ in range(64):  # rejection sampling; the explicit pool below when the user covers most of it
                cand = items[rng.integers(k)] if k else None
                if cand is not None and cand not in mine:
                    item = cand
                    break
            if item is None and k:
                pool = [i for i in items[:k] if i not in mine]
                item = pool[rng.integers(len(pool))] if pool else None
            if item is None:
                skipped += 1
                continue
            rows.append((user, item, ts))
    neg = pd.DataFrame(rows, columns=["user", "item", "timestamp"])
    neg = neg.assign(rating=np.float32("nan"), label=np.int8(0), sampled=True)
    neg.attrs["skipped"] = skipped
    return neg


NEGATIVES = Resolver("negative sampling", {"uniform": sample_negatives,
                                           "time-consistent": sample_negatives_time_consistent})


def load_amazon_ctr(dataset: str = "amazon-musical-instruments", windows=(0.5, 0.8, 0.9), neg_ratio: int = 1,
                    neg_seed: int = 0, min_count: int = 1, id_dim: int | None = None,
                    buckets: dict | None = None, negatives: str = "uniform", real_mask: bool = False) -> CTRData:
    """``negatives``: 'uniform' (every item the user never reviewed) or 'time-consistent'
    (`sample_negatives_time_consistent`). ``real_mask=True`` adds a tensor 'real' (1 = a real review,
    0 = a sampled negative) to every window, from which `reprorec.ctr.run.fit_ctr` also reports AUC
    on the real-review rows only (positives vs rated-below-4 reviews, no sampled rows)."""
    sample = NEGATIVES.lookup(negatives)  # before any loading: an unknown name fails at once
    table = amazon.load_reviews(dataset)
    reviews = table.frame.rename(columns={"user_id": "user", "item_id": "item"})[["user", "item", "rating", "timestamp"]]
    reviews = reviews.assign(label=(reviews["rating"] >= 4).astype(np.int8), sampled=False)
    neg = sample(reviews, neg_ratio, neg_seed)
    frame = pd.concat([reviews, neg], ignore_index=True)
    files, cat_cols, bag_cols = dict(table.files), (), ()
    if amazon.has_metadata(dataset):
        meta = amazon.load_metadata(dataset)
        files.update(meta.files)
        frame = frame.merge(meta.frame[["item_id", "brand", "categories"]].rename(columns={"item_id": "item"}),
                            on="item", how="left")
        frame["categories"] = frame["categories"].apply(lambda v: v if isinstance(v, list) else [])
        cat_cols, bag_cols = ("brand",), ("categories",)
    times = frame["timestamp"].to_numpy()
    split = window_split(times, windows)
    fit_rows = np.concatenate([split["pretrain"], split["train"]])
    info = {"click": "rating >= 4", "neg_ratio": neg_ratio, "neg_seed": neg_seed}
    if negatives != "uniform":  # keys added only off the default, so existing records' info is unchanged
        info.update(negatives=negatives, negatives_skipped=int(neg.attrs.get("skipped", 0)))
    data = build(f"{dataset}-ctr", frame, split, fit_rows=fit_rows, cat_cols=cat_cols, bag_cols=bag_cols,
                 min_count=min_count, id_dim=id_dim, buckets=buckets, files=files, cuts=_cuts(times, windows),
                 info=info)
    if real_mask:
        real = torch.as_tensor(~frame["sampled"].to_numpy(bool))
        for w, idx in split.items():
            data.windows[w]["real"] = real[torch.as_tensor(idx)]
    return data


def load_criteo_ctr(dataset: str = "criteo-10k", val_frac: float = 0.2, split_seed: int = 0,
                    min_count: int = 2) -> CTRData:
    """Criteo rows through the same schema: 26 attribute fields + 13 numeric (log1p) fields, no IDs."""
    parts = criteo.load(dataset)
    train = parts["train"].frame
    test = parts.get("test")
    frame = pd.concat([train, test.frame], ignore_index=True) if test is not None else train
    frame = frame.assign(**dict(zip(criteo.INT_FIELDS, criteo_numeric(frame, criteo.INT_FIELDS).T.numpy())))
    if test is not None:
        inner = random_split(len(train), (1 - val_frac, val_frac, 0.0), seed=split_seed)
        split = {"train": inner["train"], "val": inner["val"],
                 "test": np.arange(len(train), len(frame), dtype=np.int64)}
    else:
        split = random_split(len(train), (1 - val_frac, val_frac / 2, val_frac / 2), seed=split_seed)
    files = {k: v for p in parts.values() for k, v in p.files.items()}
    return build(dataset, frame, split, fit_rows=split["train"], cat_cols=criteo.CAT_FIELDS,
                 num_cols=criteo.INT_FIELDS, id_cols=(), min_count=min_count, files=files)


def avazu_time_fields(hour: pd.Series) -> pd.DataFrame:
    """Avazu's YYMMDDHH as categorical hour of day and weekday (the FuxiCTR/BARS Avazu preprocessing)."""
    stamp = pd.to_datetime(hour.astype(str), format="%y%m%d%H")
    return pd.DataFrame({"hour_of_day": stamp.dt.hour.astype(str), "weekday": stamp.dt.day_of_week.astype(str)},
                        index=hour.index)


def load_avazu_ctr(dataset: str = "avazu-10k", val_frac: float = 0.2, split_seed: int = 0,
                   min_count: int = 2) -> CTRData:
    """Avazu rows through the same schema: 21 attribute fields + hour of day + weekday, no ID tables
    (device_id/device_ip are user proxies, but most appear once in a 10k slice)."""
    parts = avazu.load(dataset)
    train, test = parts["train"].frame, parts["test"].frame
    frame = pd.concat([train, test], ignore_index=True)
    frame = pd.concat([frame.rename(columns={"click": "label"}), avazu_time_fields(frame["hour"])], axis=1)
    inner = random_split(len(train), (1 - val_frac, val_frac, 0.0), seed=split_seed)
    split = {"train": inner["train"], "val": inner["val"], "test": np.arange(len(train), len(frame), dtype=np.int64)}
    files = {k: v for p in parts.values() for k, v in p.files.items()}
    return build(dataset, frame, split, fit_rows=split["train"], cat_cols=[*avazu.CAT_FIELDS, "hour_of_day", "weekday"],
                 id_cols=(), min_count=min_count, files=files)


def load_ctr(name: str, **kw) -> CTRData:
    """Dispatch by name: 'ml-100k-ctr', '<amazon dataset>-ctr', or a Criteo slice ('criteo-10k', 'criteo-900')."""
    if name == "ml-100k-ctr":
        return load_ml100k_ctr(**kw)
    if name.startswith("criteo"):
        return load_criteo_ctr(name, **kw)
    if name.startswith("avazu"):
        return load_avazu_ctr(name, **kw)
    if name.startswith("amazon") and name.endswith("-ctr"):
        return load_amazon_ctr(name[:-len("-ctr")], **kw)
    raise KeyError(f"unknown CTR dataset {name!r}: use ml-100k-ctr, amazon-<category>-ctr, criteo-10k or avazu-10k")
