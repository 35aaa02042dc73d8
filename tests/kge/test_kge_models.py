"""Every KGE model through the shared KGE model case (tests/cases.py)."""
from __future__ import annotations

from tests.cases import KGEModelCase


class TestTransE(KGEModelCase):
    name = "transe"


class TestTransR(KGEModelCase):
    name = "transr"
    kwargs = {"relation_dim": 3}


class TestTransRA(KGEModelCase):
    name = "transra"
    kwargs = {"anchor_relations": [1]}
