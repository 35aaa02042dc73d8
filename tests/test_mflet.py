"""MF-LET: the contrastive facet's loss by hand; facet pretraining learns something."""
from __future__ import annotations

import math

import torch

from papers.mflet.contrastive import in_batch_softmax_loss, pretrain_contrastive


def test_contrastive_loss_3x3_by_hand():
    u = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    i = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # raw scores S = u i^T = [[1,0,1],[0,1,1],[1,1,2]], tau = 0.5 -> logits 2S
    rows = [-2 + math.log(math.e ** 2 + 1 + math.e ** 2), -2 + math.log(1 + math.e ** 2 + math.e ** 2),
            -4 + math.log(math.e ** 2 + math.e ** 2 + math.e ** 4)]
    got = in_batch_softmax_loss(u, i, temperature=0.5, normalize=False)
    assert abs(got.item() - sum(rows) / 3) < 1e-6
    # normalised: cosine S = [[1,0,c],[0,1,c],[c,c,1]], c = 1/sqrt(2), tau = 1
    c = 1 / math.sqrt(2)
    rows = [-1 + math.log(math.e + 1 + math.e ** c), -1 + math.log(1 + math.e + math.e ** c),
            -1 + math.log(2 * math.e ** c + math.e)]
    assert abs(in_batch_softmax_loss(u, i, 1.0).item() - sum(rows) / 3) < 1e-6


def test_contrastive_pretraining_separates_positives():
    # synthetic: users 0..9 each engage with items {u, u+10}: two clusters per user
    users = torch.arange(10).repeat_interleave(2).repeat(20)
    items = torch.stack([torch.arange(10), torch.arange(10) + 10], 1).reshape(-1).repeat(20)
    emb = pretrain_contrastive(users, items, 10, 20, dim=8, temperature=0.2, lr=0.05, epochs=5, batch_size=10)
    u = torch.nn.functional.normalize(emb["user"], dim=-1)
    i = torch.nn.functional.normalize(emb["item"], dim=-1)
    s = u @ i.T
    pos = s[torch.arange(10), torch.arange(10)]
    neg = s.clone()
    neg[torch.arange(10), torch.arange(10)] = -9
    neg[torch.arange(10), torch.arange(10) + 10] = -9
    assert (pos > neg.max(1).values).float().mean() >= 0.9
