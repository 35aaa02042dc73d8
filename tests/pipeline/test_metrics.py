"""Each metric against an independent computation (scikit-learn / numpy / hand-computed)."""
import math

import numpy as np
import torch
from sklearn.metrics import log_loss, roc_auc_score

from reprorec.metrics import binary_metrics, filtered_ranks, hits_at, mrr, ndcg_at, ndcg_graded, ranking_metrics, \
    regression_metrics


def test_regression_metrics_match_numpy():
    rng = np.random.default_rng(0)
    y, p = rng.normal(size=500), rng.normal(size=500)
    m = regression_metrics()
    for chunk in np.array_split(np.arange(500), 7):  # accumulated over batches
        m.update(torch.tensor(p[chunk]), torch.tensor(y[chunk]))
    out = {k: float(v) for k, v in m.compute().items()}
    assert math.isclose(out["mse"], np.mean((p - y) ** 2), rel_tol=1e-6)
    assert math.isclose(out["rmse"], np.sqrt(np.mean((p - y) ** 2)), rel_tol=1e-6)
    assert math.isclose(out["mae"], np.mean(np.abs(p - y)), rel_tol=1e-6)


def test_binary_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    p = np.clip(rng.random(400) * 0.6 + 0.4 * y, 0, 1)
    m = binary_metrics()
    m.update(torch.tensor(p, dtype=torch.float32), torch.tensor(y))
    out = {k: float(v) for k, v in m.compute().items()}
    assert math.isclose(out["auc"], roc_auc_score(y, p), rel_tol=1e-6)
    assert math.isclose(out["logloss"], log_loss(y, p.astype(np.float32)), rel_tol=1e-5)


def test_filtered_ranks_by_hand():
    scores = torch.tensor([[0.9, 0.5, 0.7, 0.1],
                           [0.2, 0.8, 0.8, 0.3]])
    target = torch.tensor([2, 1])
    # query 0: candidate 0 (0.9) beats the target (0.7) but is another true triple -> filtered
    known = torch.tensor([[True, False, False, False], [False, False, False, False]])
    r_raw = filtered_ranks(scores, target)
    r_filt = filtered_ranks(scores, target, known)
    assert r_raw.tolist() == [2.0, 1.5]  # query 1: one tie -> 1 + 0.5
    assert r_filt.tolist() == [1.0, 1.5]
    assert math.isclose(mrr(r_filt), (1 / 1 + 1 / 1.5) / 2)
    assert hits_at(r_filt, 1) == 0.5 and hits_at(r_filt, 3) == 1.0
    assert ranking_metrics(r_filt, ks=(1,)) == {"mrr": mrr(r_filt), "hits@1": 0.5}


def test_ndcg_by_hand():
    ranks = torch.tensor([1.0, 3.0, 11.0])
    assert math.isclose(ndcg_at(ranks, 10), (1 + 1 / math.log2(4) + 0) / 3)
    # graded: relevances [3, 2, 0] scored in order [2, 0, 1] -> DCG = (2^0-1)... torchmetrics uses rel/log2(i+1)
    scores = torch.tensor([[0.1, 0.9, 0.5]])
    rel = torch.tensor([[3, 0, 2]])
    dcg = 0 / math.log2(2) + 2 / math.log2(3) + 3 / math.log2(4)
    idcg = 3 / math.log2(2) + 2 / math.log2(3)
    assert math.isclose(ndcg_graded(scores, rel, 3), dcg / idcg, rel_tol=1e-6)
