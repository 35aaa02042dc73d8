"""Every explicit-rating model through the shared rating model case (tests/cases.py)."""
from __future__ import annotations

import torch

from reprorec.papers.r3.models import NARRE, R3, DeepCoNN, NeuMF
from reprorec.rating import BiasedMF
from tests.cases import RatingModelCase


class TestBiasedMF(RatingModelCase):
    name = "biased-mf"

    def make(self):
        return BiasedMF(self.n_users, self.n_items, 4, global_mean=3.0, init_std=0.1)


class TestNeuMF(RatingModelCase):
    name = "neumf"

    def make(self):
        return NeuMF(self.n_users, self.n_items, gmf_dim=4, mlp_layers=(8, 4), global_mean=3.0)


class TestR3(RatingModelCase):
    name = "r3"

    def make(self):
        return R3(self.n_users, self.n_items, text="svd", text_dim=3, lam=0.5, gmf_dim=4, mlp_layers=(8, 4),
                  global_mean=3.0)

    def batch(self):
        return {**super().batch(), "text": torch.randn(8, 3, generator=torch.Generator().manual_seed(0))}

    def loss(self, model, batch):
        return super().loss(model, batch) + model.regularization(batch)


def _tokens(rows: int, length: int, vocab: int, seed: int) -> torch.Tensor:
    return torch.randint(1, vocab + 1, (rows, length), generator=torch.Generator().manual_seed(seed))


class TestDeepCoNN(RatingModelCase):
    name = "deepconn"

    def make(self):
        return DeepCoNN(_tokens(self.n_users, 10, 20, 1), _tokens(self.n_items, 10, 20, 2), 20, emb_dim=8,
                        n_filters=8, latent=4, fm_k=2, dropout=0.0, global_mean=3.0)


class TestNARRE(RatingModelCase):
    name = "narre"

    def make(self):
        def side(n, partners, seed):
            return {"tokens": _tokens(n * 2, 6, 20, seed).view(n, 2, 6),
                    "partner": torch.randint(0, partners, (n, 2), generator=torch.Generator().manual_seed(seed)),
                    "mask": torch.ones(n, 2, dtype=torch.bool)}

        reviews = {"user": side(self.n_users, self.n_items, 1), "item": side(self.n_items, self.n_users, 2),
                   "vocab_size": 20}
        return NARRE(reviews, self.n_users, self.n_items, emb_dim=8, n_filters=8, att_dim=4, latent=4, dropout=0.0,
                     global_mean=3.0)
