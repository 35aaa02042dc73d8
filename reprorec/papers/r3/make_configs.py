"""Writes reprorec/papers/r3/configs/<dataset>-<method>.yaml: one experiment per (Amazon category, method).

The categories are discovered (reprorec.data.amazon.available()), minus the ones listed in EXCLUDED
with the reason. Hyper-parameters live here once (METHODS) and are written out in full into every
file, so each config's hash covers every value its run used. Regenerate after editing:

    python -m reprorec.papers.r3.make_configs
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import yaml

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

EXCLUDED = {
    "amazon18-appliances": "183 (user, item) pairs, 141 distinct reviews once variant copies are collapsed "
                           "(47 users, 46 items): an 8:1:1 split leaves 14 test ratings, too few for an MSE "
                           "to separate methods.",
    "amazon18-amazon-fashion": "3,042 pairs but only 424 distinct reviews by 406 users once variant copies are "
                               "collapsed: a median of 1 review per user leaves nothing to collaborate on, "
                               "and without collapsing, test reviews leak into training as copies.",
}

# split re-drawn per seed (split seed = run seed); variant copies of a review collapsed first (reprorec/papers/r3/data.py)
SPLIT = {"split": {"kind": "random", "ratios": [0.8, 0.1, 0.1]}, "collapse_copies": True}
ID_TRAIN = {"optimizer": "adam", "batch_size": 256, "max_epochs": 40, "patience": 4}
TEXT_TRAIN = {"optimizer": "adam", "batch_size": 128, "max_epochs": 10, "patience": 2}
NCF = {"gmf_dim": 16, "mlp_layers": [64, 32, 16], "dropout": 0.2}
TEXT_NET = {"max_features": 10000, "emb_dim": 32, "n_filters": 32, "kernel": 3, "latent": 32, "dropout": 0.5}
QUICK_ID = {"train": {"max_epochs": 4, "patience": None}}
QUICK_TEXT = {"train": {"max_epochs": 1, "patience": None}}  # + shorter documents, below

METHODS = {
    "global-mean": dict(source="Closed form: the training mean rating.", model={}, train={}, quick={}),
    "bias": dict(source="Hand-set; user/item biases only (reprorec/rating.BiasedMF with dim 0).",
                 model={"reg": 0.01}, train={**ID_TRAIN, "lr": 0.01}, quick=QUICK_ID),
    "biased-mf": dict(source="Hand-set, in the range of common SGD-MF defaults (Adam on mini-batches).",
                      model={"dim": 16, "reg": 0.05}, train={**ID_TRAIN, "lr": 0.005}, quick=QUICK_ID),
    "neumf": dict(source="NeuMF (He et al. 2017) towers at the NCF paper's small size (16-d GMF, 64-32-16 MLP); "
                         "lr/dropout hand-set.",
                  model=NCF, train={**ID_TRAIN, "lr": 0.001}, quick=QUICK_ID),
    "r3": dict(source="R3 = the neumf config + TF-IDF/SVD review regulariser (arXiv 2008.13527). lambda chosen "
                      "by validation MSE on the lambda sweep (reprorec/papers/r3/ablation.py); text_dim hand-set.",
               model={**NCF, "text": "svd", "text_dim": 64, "max_features": 5000, "lam": 1.0},
               train={**ID_TRAIN, "lr": 0.001}, quick=QUICK_ID),
    "r3-bow": dict(source="R3 with a bag-of-words (multinomial) review decoder; otherwise the r3 config.",
                   model={**NCF, "text": "bow", "max_features": 5000, "max_len": 200, "lam": 0.1},
                   train={**ID_TRAIN, "lr": 0.001}, quick=QUICK_ID),
    "deepconn": dict(source="DeepCoNN (Zheng et al. 2017), reduced to CPU scale: 32-d word embeddings trained "
                            "from scratch, 32 filters of width 3, 200-token documents.",
                     model={**TEXT_NET, "doc_len": 200, "fm_k": 8}, train={**TEXT_TRAIN, "lr": 0.001},
                     quick={**QUICK_TEXT, "model": {"doc_len": 100}}),
    "narre": dict(source="NARRE (Chen et al. 2018), reduced to CPU scale: up to 6 reviews of 40 tokens per "
                         "user/item, 32-d word embeddings from scratch, 32 filters, 16-d attention.",
                  model={**TEXT_NET, "n_reviews": 6, "review_len": 40, "att_dim": 16},
                  train={**TEXT_TRAIN, "lr": 0.001}, quick={**QUICK_TEXT, "model": {"n_reviews": 4, "review_len": 30}}),
}

NOTE = ("Random 8:1:1 split of the category's 5-core reviews (variant copies collapsed), re-drawn per seed; all text "
        "features and review documents come from training reviews only. No published number is shown: the "
        "paper's tables were not available to us (see papers/r3/README.md).")


def config(dataset: str, method: str) -> dict:
    spec = copy.deepcopy(METHODS[method])  # no shared objects: no YAML anchors in the files
    return {"paper": "r3", "dataset": dataset, "method": method, "source": spec["source"],
            "metric": {"name": "mse", "mode": "min"}, "data": SPLIT, "model": spec["model"], "train": spec["train"],
            "profiles": {"quick": spec["quick"], "full": {}}, "leaderboard_note": NOTE}


def datasets() -> list[str]:
    from reprorec.data import amazon

    return [d for d in amazon.available() if d not in EXCLUDED]


def main() -> int:
    found = datasets()
    if not found:
        from reprorec.data import data_dir

        print(f"no Amazon review file under {data_dir()}; set REPRO_DATA_DIR (configs left as they are)",
              file=sys.stderr)
        return 2
    CONFIG_DIR.mkdir(exist_ok=True)
    for old in CONFIG_DIR.glob("*.yaml"):
        old.unlink()
    for ds in found:
        for method in METHODS:
            path = CONFIG_DIR / f"{ds}-{method}.yaml"
            text = "# Generated by `python -m reprorec.papers.r3.make_configs`; edit METHODS there, not this file.\n"
            path.write_text(text + yaml.safe_dump(config(ds, method), sort_keys=False, width=110))
    print(f"wrote {len(list(CONFIG_DIR.glob('*.yaml')))} configs to {CONFIG_DIR}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
