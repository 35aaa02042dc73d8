"""Metrics. torchmetrics where it already does the job; ranking metrics with filtering here.

Regression: MSE, RMSE, MAE (torchmetrics). Binary: AUC (torchmetrics BinaryAUROC), logloss.
Ranking: `filtered_ranks` gives the rank of each true candidate after removing the other known
true candidates (the "filtered" protocol of Bordes et al. 2013), from which MRR, Hits@K and
NDCG@K (one relevant item per query) follow.
"""
from __future__ import annotations

import torch
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError, MetricCollection
from torchmetrics.classification import BinaryAUROC
from torchmetrics.functional.retrieval import retrieval_normalized_dcg


class LogLoss(MeanMetric):
    """Mean binary cross-entropy of probabilities (clipped to [1e-7, 1-1e-7], as scikit-learn does)."""

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:  # type: ignore[override]
        p = preds.double().clamp(1e-7, 1 - 1e-7)
        y = target.double()
        super().update(-(y * p.log() + (1 - y) * (1 - p).log()))


class RMSE(MeanSquaredError):
    def __init__(self, **kw):
        super().__init__(squared=False, **kw)


def regression_metrics() -> MetricCollection:
    return MetricCollection({"mse": MeanSquaredError(), "rmse": RMSE(), "mae": MeanAbsoluteError()})


def binary_metrics() -> MetricCollection:
    """Expects probabilities, not logits."""
    return MetricCollection({"auc": BinaryAUROC(), "logloss": LogLoss()})


def filtered_ranks(scores: torch.Tensor, target: torch.Tensor, known: torch.Tensor | None = None) -> torch.Tensor:
    """Rank (1 = best) of each query's target among all candidates, higher score = better.

    scores: (Q, C) candidate scores; target: (Q,) index of the true candidate;
    known:  (Q, C) bool, True for *other* candidates that are also true (filtered out before ranking).
    Ties count half ("realistic" rank: expected rank under random tie-breaking).
    """
    true = scores.gather(1, target[:, None])
    keep = torch.ones_like(scores, dtype=torch.bool)
    if known is not None:
        keep &= ~known
    keep.scatter_(1, target[:, None], False)  # the target never competes with itself
    higher = ((scores > true) & keep).sum(1).double()
    ties = ((scores == true) & keep).sum(1).double()
    return 1.0 + higher + 0.5 * ties


def mrr(ranks: torch.Tensor) -> float:
    return float((1.0 / ranks.double()).mean())


def hits_at(ranks: torch.Tensor, k: int) -> float:
    return float((ranks <= k).double().mean())


def ndcg_at(ranks: torch.Tensor, k: int) -> float:
    """NDCG@k with one relevant item per query: 1/log2(rank+1) if rank <= k, else 0 (ideal DCG = 1)."""
    r = ranks.double()
    return float(torch.where(r <= k, 1.0 / torch.log2(r + 1.0), torch.zeros_like(r)).mean())


def ndcg_graded(scores: torch.Tensor, relevance: torch.Tensor, k: int) -> float:
    """NDCG@k for graded relevance, averaged over queries (rows); delegates to torchmetrics."""
    vals = [retrieval_normalized_dcg(s, r, top_k=k) for s, r in zip(scores, relevance)]
    return float(torch.stack(vals).mean())


def ranking_metrics(ranks: torch.Tensor, ks=(1, 3, 10)) -> dict[str, float]:
    out = {"mrr": mrr(ranks)}
    out.update({f"hits@{k}": hits_at(ranks, k) for k in ks})
    return out
