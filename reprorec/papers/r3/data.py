"""Review data for R3 and its text-aware baselines, built so that held-out text cannot leak.

One random 8:1:1 split of the reviews per seed (split seed = run seed). Everything text-derived is
fitted and built from the *training* reviews only:
  - R3's regression target per training pair: TF-IDF (vocabulary and idf fitted on training reviews)
    reduced by a truncated SVD fitted on the same rows, then standardised with training statistics;
  - R3-BoW's target: the review's token ids under a vocabulary counted on training reviews;
  - DeepCoNN's user/item documents and NARRE's per-user/per-item review lists: training reviews only.
The val/test tensors carry nothing but (user, item, rating): no model can see a held-out review.

Variant copies. The 2018 5-core files repeat one review under every variant ASIN of a product; the
shared loader keeps one row per (user, item) pair, which still leaves the same review (same user,
text, summary, time and rating) under several items: AMAZON_FASHION has 3,042 pairs but only 424
distinct reviews. A random split would then put copies of a test review — text *and* rating — in
training. The shared loader (`reprorec.data.amazon.load_reviews`) collapses such copies to their first
row unless ``data.collapse_copies: false``, so every test review is unique. This leaves
AMAZON_FASHION with one review per user (unusable for collaborative filtering) and Appliances with 141; see configs/defaults.yaml.

A "review" is the summary followed by the body text (both are written by the user for that item);
the 2018 Gift Cards reviews have a median of 5 words, so the summary carries much of the signal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from reprorec import config as C
from reprorec.data import amazon
from reprorec.data.splits import Split, fingerprint, make_split
from reprorec.rating import RatingData


def review_text(frame: pd.DataFrame) -> pd.Series:
    return (frame["summary"].fillna("") + " . " + frame["text"].fillna("")).str.strip()


@dataclass
class ReviewData:
    """Ratings as id tensors + the training-only text views each method needs."""

    ratings: RatingData
    split: Split
    files: dict[str, str]
    train_text: pd.Series            # review text of the training rows, in split['train'] order
    extras: dict = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.split)

    @classmethod
    def build(cls, frame: pd.DataFrame, split: Split, files: dict[str, str] | None = None) -> "ReviewData":
        ratings = RatingData.build(frame, split)
        train_text = review_text(frame.iloc[split["train"]]).reset_index(drop=True)
        return cls(ratings, split, files or {}, train_text)

    def withhold_text(self, spec) -> "ReviewData":
        """Blank the text of the training reviews ``spec`` (MissingText) withholds; ``extras['text_missing']``
        marks them so that every method skips them (R3: no text target; DeepCoNN: not in any document;
        NARRE: not in any review list)."""
        owners = self.ratings.user_codes if spec.side == "user" else self.ratings.item_codes
        n = self.ratings.n_users if spec.side == "user" else self.ratings.n_items
        missing = withheld(np.asarray(owners)[self.split["train"]], n, spec.p, spec.seed)
        self.train_text = self.train_text.where(~missing, "")
        self.extras["text_missing"] = missing
        return self

    @property
    def text_missing(self) -> Optional[np.ndarray]:
        return self.extras.get("text_missing")

    # ------------------------------------------------------------------ R3 targets (training rows only)
    def add_tfidf_svd(self, dim: int, max_features: int, seed: int) -> "ReviewData":
        """Attach 'text' (n_train, dim) to the train tensors: standardised SVD of training TF-IDF (fitted
        on the reviews that have text; withheld ones get a zero target and ``text_mask`` 0)."""
        vec = TfidfVectorizer(max_features=max_features, sublinear_tf=True, stop_words="english", min_df=2)
        missing = self.text_missing
        have = self.train_text if missing is None else self.train_text[~missing]
        tfidf = vec.fit_transform(have)
        dim = min(dim, tfidf.shape[1] - 1, tfidf.shape[0] - 1)
        z = TruncatedSVD(n_components=dim, random_state=seed).fit_transform(tfidf)
        z = (z - z.mean(0)) / (z.std(0) + 1e-8)
        if missing is not None:
            full = np.zeros((len(self.train_text), z.shape[1]), dtype=z.dtype)
            full[~missing] = z
            z = full
            self.ratings.tensors["train"]["text_mask"] = torch.as_tensor(~missing, dtype=torch.float32)
        self.ratings.tensors["train"]["text"] = torch.as_tensor(z, dtype=torch.float32)
        self.extras["tfidf_vocabulary"] = set(vec.vocabulary_)
        return self

    def add_bow_tokens(self, max_features: int, max_len: int) -> "ReviewData":
        """Attach 'tokens' (n_train, max_len) word ids (1-based, 0 = pad) of each training review."""
        vocab, ids = self.tokenize(max_features)
        self.ratings.tensors["train"]["tokens"] = pad(ids, max_len)
        self.extras["bow_vocab_size"] = len(vocab)
        return self

    # ------------------------------------------------------------------ baselines' documents
    def tokenize(self, max_features: int) -> tuple[dict[str, int], list[list[int]]]:
        """Vocabulary counted on training reviews (ids 1..V); token ids of each training review."""
        if ("vocab", max_features) not in self.extras:
            cv = CountVectorizer(max_features=max_features)
            cv.fit(self.train_text)
            vocab = {w: i + 1 for i, w in enumerate(sorted(cv.vocabulary_))}
            analyse = cv.build_analyzer()
            ids = [[vocab[t] for t in analyse(doc) if t in vocab] for doc in self.train_text]
            self.extras[("vocab", max_features)] = (vocab, ids)
        return self.extras[("vocab", max_features)]

    def documents(self, max_features: int, doc_len: int) -> tuple[torch.Tensor, torch.Tensor, int]:
        """DeepCoNN: each user's (item's) training reviews concatenated in time order, cut to doc_len."""
        vocab, ids = self.tokenize(max_features)
        users, items = self._train_ids()
        user_docs = [[] for _ in range(self.ratings.n_users)]
        item_docs = [[] for _ in range(self.ratings.n_items)]
        for u, i, toks in zip(users, items, ids):
            user_docs[u].extend(toks)
            item_docs[i].extend(toks)
        return pad(user_docs, doc_len), pad(item_docs, doc_len), len(vocab)

    def review_lists(self, max_features: int, n_reviews: int, review_len: int) -> dict:
        """NARRE: per user (item) up to n_reviews training reviews, and the item (user) each was written for."""
        vocab, ids = self.tokenize(max_features)
        users, items = self._train_ids()
        out = {}
        for side, owner, other, n in (("user", users, items, self.ratings.n_users),
                                      ("item", items, users, self.ratings.n_items)):
            revs = [[] for _ in range(n)]
            missing = self.text_missing if self.text_missing is not None else np.zeros(len(ids), bool)
            for o, x, toks, gone in zip(owner, other, ids, missing):
                if not gone and len(revs[o]) < n_reviews:
                    revs[o].append((x, toks))
            tokens = torch.zeros(n, n_reviews, review_len, dtype=torch.long)
            partner = torch.zeros(n, n_reviews, dtype=torch.long)
            mask = torch.zeros(n, n_reviews, dtype=torch.bool)
            for o, lst in enumerate(revs):
                for r, (x, toks) in enumerate(lst):
                    toks = toks[:review_len]
                    tokens[o, r, :len(toks)] = torch.as_tensor(toks, dtype=torch.long)
                    partner[o, r] = x
                    mask[o, r] = True
            out[side] = {"tokens": tokens, "partner": partner, "mask": mask}
        out["vocab_size"] = len(vocab)
        return out

    def _train_ids(self) -> tuple[np.ndarray, np.ndarray]:
        t = self.ratings.tensors["train"]
        return t["user"].numpy(), t["item"].numpy()


def pad(seqs: list[list[int]], length: int) -> torch.Tensor:
    out = torch.zeros(len(seqs), length, dtype=torch.long)
    for r, s in enumerate(seqs):
        s = s[:length]
        if s:
            out[r, :len(s)] = torch.as_tensor(s, dtype=torch.long)
    return out


class MissingText(C.Section):
    """Training reviews whose text is withheld: those written by (side 'user') or about (side 'item') a
    random fraction p of the users (items). The set is drawn from ``seed`` over every user (item) of the
    dataset, not from the run seed and not from the split, so every method and every run seed sees the
    same users (items) without text; their ratings stay."""
    side: Literal["user", "item"]
    p: C.UnitInterval
    seed: C.NonNegInt = 0


class R3Data(C.Section):
    collapse_copies: bool = True        # drop the duplicated reviews of variant listings
    split: C.Split = C.RandomSplit()
    split_seed: Optional[int] = None     # None: the run seed
    missing_text: Optional[MissingText] = None


def withheld(ids: np.ndarray, n: int, p: float, seed: int) -> np.ndarray:
    """Boolean per row: its owner (user or item index in 0..n-1) is among round(p * n) owners drawn by seed."""
    chosen = np.random.default_rng(seed).permutation(n)[:int(round(p * n))]
    return np.isin(ids, chosen)


def load(cfg: dict, seed: int) -> ReviewData:
    """The config's Amazon category, split with the run seed (or data.split_seed when set)."""
    d = C.section(cfg, "data", R3Data)
    table = amazon.load_reviews(cfg["dataset"], keep_variant_copies=not d.collapse_copies)
    frame = table.frame
    spec = d.split.model_dump()
    split_seed = d.split_seed
    split = make_split(spec.pop("kind"), n=len(frame), seed=seed if split_seed is None else int(split_seed), **spec)
    rd = ReviewData.build(frame, split, table.files)
    if d.missing_text is not None:
        rd.withhold_text(d.missing_text)
    return rd
