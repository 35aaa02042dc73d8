"""Every CTR model through the shared CTR model case (tests/cases.py)."""
from __future__ import annotations

from tests.cases import CTRModelCase


class TestDCNv2(CTRModelCase):
    name = "dcnv2"
    kwargs = {"embed_dim": 8, "cross_layers": 2, "hidden": (32,)}


class TestDNN(CTRModelCase):
    name = "dnn"
    kwargs = {"embed_dim": 8, "hidden": (32,)}
