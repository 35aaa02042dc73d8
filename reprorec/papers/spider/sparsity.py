"""Does the spike-and-slab prior "select and inhibit redundant/useless weights" (the paper's abstract)?

Per weight w of SPIDER's network, EP keeps a prior site; the cavity N(m_c, v_c) (posterior / site) and
the spike-and-slab prior rho0 N(0, tau0) + (1 - rho0) delta(w) give the posterior inclusion probability
sigma(rho~), rho~ = logit(rho0) + log N(m_c | 0, v_c + tau0) - log N(m_c | 0, v_c)  (SBDT prior.py's
rho_til). Below 0.5 the data favour the spike: the weight is "inhibited". The Gaussian-prior ablation
has no inclusion probabilities; its weight magnitudes are the comparison for "inhibit".

Pre-registered rule (claim C5 in claims.yaml; written and committed before any number below was
computed). Data: the headline `spider` (the authors' sequential update) and `spider-gauss` (same update,
Gaussian prior), profile full, R = 8, batch 128; per record, at the end of the stream:
  S   = fraction of the network's weights with sigma(rho~) < 0.5                 (spider)
  M   = median over weights of |posterior mean|                                   (both arms)
Per dataset with at least 3 seeds of spider:
  (a) selection   reproduced if mean_s S >= 0.10 and the lower end of its 95% t-interval over seeds
                  is >= 0.05; not reproduced if mean_s S < 0.05; inconclusive otherwise.
  (b) inhibition  d_s = ln(M_gauss,s / M_spider,s) over seeds paired by seed (same stream order and
                  initialisation), at least 3 pairs; reproduced if mean d > 0 and the two-sided paired
                  t-test's p, Holm-adjusted over the datasets tested, is < 0.05; not reproduced if
                  mean d <= 0; inconclusive otherwise.
  C5 on the dataset: reproduced if (a) and (b) are; not reproduced if either is not; inconclusive
  otherwise (also when an arm has too few seeds).
Reported beside the decision, not part of it: the histogram of sigma(rho~) at every 5% of the stream,
and the median |mean| of the weights below and above 0.5.
"""
from __future__ import annotations

import math

import torch

SELECT_MIN, SELECT_FLOOR, ALPHA, MIN_SEEDS = 0.10, 0.05, 0.05, 3
HIST_BINS = 10


def inclusion_probability(m, v, site_prec, site_h, rho0: float, tau0: float) -> torch.Tensor:
    """sigma(rho~) of every weight at the current posterior N(m, v) and EP prior site (prec, h)."""
    cav_prec, cav_h = 1 / v - site_prec, m / v - site_h
    v_c = 1 / cav_prec
    m_c = cav_h * v_c
    log_n = lambda x, var: -0.5 * (math.log(2 * math.pi) + torch.log(var) + x ** 2 / var)  # noqa: E731
    return torch.sigmoid(math.log(rho0 / (1 - rho0)) + log_n(m_c, v_c + tau0) - log_n(m_c, v_c))


def weight_stats(model) -> dict:
    """Snapshot of the network weights' posterior: |mean| quantiles, and with the spike-and-slab prior
    the inclusion probabilities' histogram, the fraction below 0.5 and the |mean| of both groups."""
    a = model.mw.abs()
    q = torch.tensor([0.1, 0.5, 0.9], dtype=a.dtype)
    out = {"abs_mean_q10_q50_q90": [float(x) for x in torch.quantile(a, q)], "n_weights": int(a.numel())}
    if getattr(model, "spike_slab", False):
        p = inclusion_probability(model.mw, model.vw, model.site_prec, model.site_h, model.rho0, model.tau0)
        p = torch.nan_to_num(p, nan=1.0)  # an invalid cavity (never refined) counts as not inhibited
        low = p < 0.5
        out.update(
            frac_incl_below_half=float(low.double().mean()),
            incl_hist=[int(c) for c in torch.histc(p, bins=HIST_BINS, min=0.0, max=1.0)],
            abs_mean_median_below_half=float(a[low].median()) if low.any() else None,
            abs_mean_median_above_half=float(a[~low].median()) if (~low).any() else None)
    return out
