"""CTR proxy datasets: time windows, ID maps, negative sampling, Criteo through the backbone."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from reprorec.data.ctr import load_criteo_ctr, load_ml100k_ctr, sample_negatives, window_split
from reprorec.ctr.models import DCNv2
from tests.ctr.test_ctr_backbone import train_steps

pytestmark = pytest.mark.usefixtures("one_thread")


def test_window_split_quantiles_and_ties():
    times = np.array([5, 1, 2, 2, 3, 4, 4, 6, 7, 8])
    split = window_split(times, (0.3, 0.6, 0.8))
    # quantiles (method='lower') of sorted [1,2,2,3,4,4,5,6,7,8]: q.3 -> 2, q.6 -> 4, q.8 -> 6
    assert sorted(times[split["pretrain"]]) == [1]
    assert sorted(times[split["train"]]) == [2, 2, 3]  # ties at a boundary go to the later window
    assert sorted(times[split["val"]]) == [4, 4, 5]
    assert sorted(times[split["test"]]) == [6, 7, 8]


def test_ml100k_ctr_windows(data_dir):
    data = load_ml100k_ctr()
    w = data.windows
    assert sum(len(w[k]["y"]) for k in w) == 100_000
    for earlier, later in zip(("pretrain", "train", "val"), ("train", "val", "test")):
        assert w[earlier]["time"].max() < w[later]["time"].min()  # no time overlap
    assert abs(len(w["pretrain"]["y"]) / 1e5 - 0.5) < 0.01 and abs(len(w["test"]["y"]) / 1e5 - 0.1) < 0.01
    # ID maps cover exactly the ids seen before val; later newcomers map to the OOV row 0
    users = set(data.id_maps["user"].values())
    assert users == set(torch.cat([w["pretrain"]["user"], w["train"]["user"]]).tolist())
    assert (w["test"]["user"] == 0).any() and 0 not in users
    # the pretraining-window interactions are the pretrain rows, with their table rows
    pre = data.pretrain
    assert len(pre) == len(w["pretrain"]["y"]) and pre["timestamp"].max() < data.cuts["pretrain_end"]
    assert pre["user_row"].tolist() == w["pretrain"]["user"].tolist()
    assert np.array_equal(pre["label"].to_numpy(), (pre["rating"] >= 4).to_numpy())
    assert data.schema.cat_fields == ["gender", "age", "occupation", "zip", "year"]
    assert w["train"]["genres"].shape[1] == 6  # at most 6 genres per movie, 0-padded


def test_negative_sampling_excludes_seen_items_and_is_seeded():
    reviews = pd.DataFrame({"user": ["a", "a", "b", "c"], "item": ["x", "y", "x", "z"], "timestamp": [1, 2, 3, 4]})
    neg = sample_negatives(reviews, 3, seed=0)
    assert len(neg) == 12 and (neg["label"] == 0).all() and neg["sampled"].all()
    seen = reviews.groupby("user")["item"].apply(set)
    assert all(item not in seen[u] for u, item in zip(neg["user"], neg["item"]))
    assert neg["timestamp"].tolist() == [1] * 3 + [2] * 3 + [3] * 3 + [4] * 3
    assert neg.equals(sample_negatives(reviews, 3, seed=0))


def test_criteo_rows_run_through_backbone(data_dir):
    data = load_criteo_ctr("criteo-900", val_frac=0.2, split_seed=0, min_count=2)
    assert data.schema.id_fields == [] and len(data.schema.cat_fields) == 26 and len(data.schema.numeric) == 13
    assert sorted(len(v["y"]) for v in data.windows.values()) == [90, 90, 720]
    cat = torch.cat([w["cat"] for w in data.windows.values()])
    for j, (off, card) in enumerate(zip(data.schema.cat_offsets(), data.schema.cat_cardinalities)):
        assert off <= cat[:, j].min() and cat[:, j].max() < off + card  # each field owns its rows
    assert sum(data.schema.cat_cardinalities) == data.schema.cat_size
    torch.manual_seed(0)
    model = DCNv2(data.schema, embed_dim=4, hidden=(32,))
    batch = data.windows["train"]
    loss0 = float(torch.nn.functional.binary_cross_entropy_with_logits(model(batch), batch["y"]))
    assert train_steps(model, batch, 30) < 0.5 * loss0


def test_amazon_ctr_windows_and_negatives(data_dir):
    from reprorec.data.ctr import load_amazon_ctr

    data = load_amazon_ctr("amazon-musical-instruments", neg_ratio=1, neg_seed=0)
    w = data.windows
    assert sum(len(w[k]["y"]) for k in w) == 2 * 10_261  # every review + one sampled negative each
    for earlier, later in zip(("pretrain", "train", "val"), ("train", "val", "test")):
        assert w[earlier]["time"].max() < w[later]["time"].min()
    assert len(data.pretrain) * 2 == len(w["pretrain"]["y"])  # sampled negatives are not interactions
    assert data.pretrain["rating"].notna().all()


def test_avazu_hour_becomes_hour_of_day_and_weekday():
    import pandas as pd

    from reprorec.data.ctr import avazu_time_fields

    out = avazu_time_fields(pd.Series([14102100, 14102523, 14103013]))
    assert out["hour_of_day"].tolist() == ["0", "23", "13"]
    assert out["weekday"].tolist() == ["1", "5", "3"]  # 2014-10-21 Tue, 10-25 Sat, 10-30 Thu


def test_avazu_ctr_uses_test_file_as_test_window():
    from reprorec.data.ctr import load_ctr

    d = load_ctr("avazu-10k", split_seed=3)
    assert {w: len(t["y"]) for w, t in d.windows.items()} == {"train": 7199, "val": 1800, "test": 1000}
    assert d.windows["test"]["y"].sum().item() == 143 and not d.schema.id_fields


def _instrument_reviews():
    from reprorec.data import amazon

    r = amazon.load_reviews("amazon-musical-instruments").frame
    return r.rename(columns={"user_id": "user", "item_id": "item"})[["user", "item", "rating", "timestamp"]]


def _first_review_time(reviews):
    return reviews.groupby("item")["timestamp"].min()


def test_time_consistent_negatives_on_real_data(data_dir):
    """On the real Musical Instruments file: every sampled negative shows an item that someone had reviewed
    strictly before the impression, and never an item the user reviews at any time (before or later).
    The uniform sampler breaks the first property on the same data, so the check can fail."""
    from reprorec.data.ctr import sample_negatives_time_consistent

    reviews = _instrument_reviews()
    first = _first_review_time(reviews)
    mine = set(zip(reviews["user"], reviews["item"]))
    neg = sample_negatives_time_consistent(reviews, 1, 0)
    assert len(neg) + neg.attrs["skipped"] == len(reviews) and len(neg) > 0.99 * len(reviews)
    assert (first.loc[neg["item"]].to_numpy() < neg["timestamp"].to_numpy()).all()
    assert not any(pair in mine for pair in zip(neg["user"], neg["item"]))
    uni = sample_negatives(reviews, 1, 0)
    assert (first.loc[uni["item"]].to_numpy() >= uni["timestamp"].to_numpy()).mean() > 0.1
    assert not any(pair in mine for pair in zip(uni["user"], uni["item"]))


def test_time_consistent_option_and_real_mask(data_dir):
    from reprorec.data.ctr import load_amazon_ctr

    default = load_amazon_ctr("amazon-musical-instruments")
    assert "real" not in default.windows["test"] and "negatives" not in default.info  # default data unchanged
    data = load_amazon_ctr("amazon-musical-instruments", negatives="time-consistent", real_mask=True)
    n_real = sum(int(w["real"].sum()) for w in data.windows.values())
    assert n_real == 10_261 and data.info["negatives"] == "time-consistent"
    for w in data.windows.values():
        assert (w["y"][~w["real"]] == 0).all()  # sampled rows are negatives
    with pytest.raises(ValueError, match="unknown negative sampling"):
        load_amazon_ctr("amazon-musical-instruments", negatives="popular")


def test_real_review_metrics_drop_sampled_rows():
    from reprorec.ctr.run import real_review_metrics
    from reprorec.metrics import binary_metrics

    class Fixed(torch.nn.Module):
        def forward(self, batch):
            return batch["s"]

    window = {"s": torch.tensor([2.0, -1.0, 0.5, 3.0, -2.0, 1.0]), "y": torch.tensor([1.0, 0, 0, 0, 1, 0]),
              "real": torch.tensor([True, True, True, False, True, False])}
    out = real_review_metrics(Fixed(), window, batch_size=2)
    # real rows: scores [2, -1, 0.5, -2], labels [1, 0, 0, 1]: pairs (pos, neg) ordered 2 of 4 -> AUC 0.5
    assert out["auc_real"] == pytest.approx(0.5)
    m = binary_metrics()
    keep = window["real"]
    m.update(torch.sigmoid(window["s"][keep]), window["y"][keep].long())
    assert out["logloss_real"] == pytest.approx(float(m.compute()["logloss"]))
