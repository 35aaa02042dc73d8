"""The paper contract (tests/cases.py: PaperCase) for every paper, on its cheapest dataset, tiny settings."""
from __future__ import annotations

from tests.cases import PaperCase


class TestBaselines(PaperCase):
    paper = "baselines"
    prefer = ("criteo-900", "ml-100k-ctr", "ml-100k")
    tiny = ["train.max_epochs=1", "train.patience=0"]


class TestMFLET(PaperCase):
    paper = "mflet"
    prefer = ("amazon-musical-instruments-ctr",)
    tiny = ["train.max_epochs=1", "facets.kge.train.epochs=1", "facets.kge.dim=8", "facets.kge.relation_dim=8",
            "facets.contrastive.epochs=1", "facets.contrastive.dim=8"]


class TestR3(PaperCase):
    paper = "r3"
    prefer = ("amazon18-magazine-subscriptions",)
    tiny = ["train.max_epochs=1", "train.patience=0", "model.max_features=200"]


class TestSPIDER(PaperCase):
    paper = "spider"
    prefer = ("alog",)
    tiny = ["data.max_stream=768", "train.batch_size=64", "train.max_epochs=1"]  # max_epochs: cp-offline


class TestTransRA(PaperCase):
    paper = "transra"
    prefer = ("amazon-musical-instruments-ctr", "amazon-musical-instruments-ctr-graph")
    tiny = ["train.max_epochs=1", "kge.train.epochs=1", "kge.dim=8", "data.id_dim=8"]
