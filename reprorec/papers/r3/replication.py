"""Which Amazon categories R3 runs on, and R3's experiments for a new one (the paper's two hooks).

Eligibility (``eligibility``, checked by every run through reprorec/eligibility.py). A category
qualifies when, after variant copies are collapsed (papers/r3/data.py):
  - it has at least MIN_TRAIN_REVIEWS training reviews under the config's split. Test MSE is a mean of
    squared errors whose per-rating standard deviation is 1.4–2.2 on the categories we have (bootstrap
    replicates in the full-profile bias/NeuMF/R3 records), so one split's test MSE has a standard error
    of about 2.1 / sqrt(n_test). Any threshold between 113 and 1,571 training reviews sorts our five
    files alike; 1,000 (125 test ratings under 8:1:1, standard error about 0.19) keeps a new category
    within 1.3x the standard error of Magazine Subscriptions (0.15 at 197 test ratings), the smallest
    category on which the claims engine decided a comparison (C1 at n = 5), and refuses Appliances
    (14 test ratings, about 0.56: more than any gap between two methods we measured).
  - its users have a median of at least MIN_MEDIAN_REVIEWS_PER_USER reviews: with a median of one, most
    users appear in one split only, and an ID-based model (NeuMF, R3) has nothing to learn them from
    (AMAZON_FASHION: 424 reviews by 406 users).
Measured on the data folder (reviews after collapsing / training reviews / median reviews per user):
  Musical Instruments 2014 10,261 / 8,209 / 6; Gift Cards 2,207 / 1,766 / 5; Magazine Subscriptions
  1,964 / 1,571 / 5 — eligible; AMAZON_FASHION 424 / 339 / 1 and Appliances 141 / 113 / 3 — refused.

Replication (``derive_experiments``): for a category that is not one of ours, the same experiments as
on ours — one per method, each the method's layer (configs/_<method>.yaml) on top of configs/defaults.yaml
with only ``dataset`` changed, so a replication differs from the paper's runs in nothing but the data.
"""
from __future__ import annotations

import numpy as np

from reprorec import config as C

from . import data as D

MIN_TRAIN_REVIEWS = 1000
MIN_MEDIAN_REVIEWS_PER_USER = 2
METHODS = ("global-mean", "bias", "biased-mf", "neumf", "deepconn", "narre", "r3", "r3-bow")


def dataset_stats(cfg: dict) -> dict:
    """Reviews, training reviews under the config's split, median reviews per user (what the rules read)."""
    d = C.section(cfg, "data", D.R3Data)
    frame = D.amazon.load_reviews(cfg["dataset"], keep_variant_copies=not d.collapse_copies).frame
    n = len(frame)
    median = float(np.median(frame.groupby("user_id").size())) if n else 0.0
    if d.split.kind == "random":
        r = np.asarray(d.split.ratios, dtype=float)
        n_train = int(round(r[0] / r.sum() * n))
    else:  # a non-random split: every review may be in training at most
        n_train = n
    return {"reviews": n, "train_reviews": n_train, "median_reviews_per_user": median}


def eligibility(cfg: dict) -> tuple[dict, list[str]]:
    s = dataset_stats(cfg)
    failed = []
    if s["train_reviews"] < MIN_TRAIN_REVIEWS:
        failed.append(f"{s['train_reviews']} training reviews (rule: at least {MIN_TRAIN_REVIEWS})")
    if s["median_reviews_per_user"] < MIN_MEDIAN_REVIEWS_PER_USER:
        failed.append(f"median {s['median_reviews_per_user']:g} review(s) per user "
                      f"(rule: at least {MIN_MEDIAN_REVIEWS_PER_USER})")
    return s, failed


def derive_experiments(dataset: str) -> dict[str, dict]:
    """{experiment name: config mapping} of R3's experiments on ``dataset``: for each method, the same
    layers as our own experiments (configs/defaults.yaml, configs/_<method>.yaml, as absolute paths in
    ``extends``) and nothing else but the dataset, so the resolved configs differ from ours only there."""
    from reprorec.registry import PAPERS_DIR

    configs = PAPERS_DIR / "r3" / "configs"
    return {m: {"extends": [str(configs / "defaults.yaml"), str(configs / f"_{m}.yaml")],
                "dataset": dataset, "method": m} for m in METHODS}
