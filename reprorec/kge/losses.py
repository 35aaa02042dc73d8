"""KGE losses on scores (higher = more plausible), with a validity mask for filtered negatives.

margin ranking (Bordes et al. 2013):  mean over (pos, neg) pairs of  max(0, margin - s_pos + s_neg)
self-adversarial (Sun et al. 2019, RotatE):
    -log σ(margin + s_pos) - Σ_i p_i log σ(-margin - s_neg_i),   p = softmax(α s_neg) (no gradient)
  (with s = -distance, σ(margin + s) = σ(margin - d): PyKEEN's NSSALoss with the same margin/temperature.)
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

from ..registry import Resolver


def margin_ranking(pos: torch.Tensor, neg: torch.Tensor, valid: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """pos (B,), neg (B, K), valid (B, K) -> scalar mean over valid pairs."""
    per = F.relu(margin - pos[:, None] + neg)
    w = valid.float()
    return (per * w).sum() / w.sum().clamp_min(1.0)


def self_adversarial(pos: torch.Tensor, neg: torch.Tensor, valid: torch.Tensor, margin: float = 9.0,
                     temperature: float = 1.0) -> torch.Tensor:
    logits = (temperature * neg).masked_fill(~valid, float("-inf"))
    p = torch.softmax(logits, dim=1).nan_to_num(0.0).detach()  # a row with no valid negative gets zero weight
    neg_term = -(p * F.logsigmoid(-margin - neg)).sum(1)
    pos_term = -F.logsigmoid(margin + pos)
    return (pos_term + neg_term).mean()


LOSSES = Resolver("KGE loss", {"margin": margin_ranking, "self_adversarial": self_adversarial})
