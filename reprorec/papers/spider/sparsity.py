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


# -- the rule, applied to the records ---------------------------------------------------------------------
def _runs(method: str) -> dict[str, dict[int, dict]]:
    from reprorec.records import iter_records

    out: dict[str, dict[int, dict]] = {}
    for r in iter_records():
        if (r["paper"], r["method"], r["profile"]) == ("spider", method, "full") and not r["config"].get("study") \
                and r.get("weights_curve"):
            out.setdefault(r["dataset"], {})[r["seed"]] = r
    return out


def _final(rec: dict) -> dict:
    return rec["weights_curve"][-1][1]


def _holm(ps: list[float]) -> list[float]:
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    adj, running = [math.nan] * len(ps), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(ps) - rank) * ps[i]))
        adj[i] = running
    return adj


def evaluate() -> list[dict]:
    """One row per dataset with spider records: the rule's quantities and outcomes (see the module doc)."""
    import numpy as np
    from scipy import stats

    ss, gauss = _runs("spider"), _runs("spider-gauss")
    rows = []
    for d in sorted(ss):
        s_vals = np.array([_final(r)["frac_incl_below_half"] for r in ss[d].values()])
        row = {"dataset": d, "n": len(s_vals), "S": float(s_vals.mean()), "S_ci": (math.nan, math.nan),
               "selection": "inconclusive", "pairs": 0, "d": math.nan, "p": math.nan, "inhibition": "inconclusive"}
        if len(s_vals) >= MIN_SEEDS:
            half = stats.t.ppf(0.975, len(s_vals) - 1) * s_vals.std(ddof=1) / math.sqrt(len(s_vals))
            row["S_ci"] = (row["S"] - half, row["S"] + half)
            row["selection"] = ("reproduced" if row["S"] >= SELECT_MIN and row["S_ci"][0] >= SELECT_FLOOR
                                else "not reproduced" if row["S"] < SELECT_FLOOR else "inconclusive")
        seeds = sorted(set(ss[d]) & set(gauss.get(d, {})))
        if len(seeds) >= MIN_SEEDS:
            dd = np.array([math.log(_final(gauss[d][s])["abs_mean_q10_q50_q90"][1]
                                    / _final(ss[d][s])["abs_mean_q10_q50_q90"][1]) for s in seeds])
            row.update(pairs=len(seeds), d=float(dd.mean()), p=float(stats.ttest_1samp(dd, 0.0).pvalue))
        rows.append(row)
    tested = [r for r in rows if r["pairs"] >= MIN_SEEDS]
    for r, p_adj in zip(tested, _holm([r["p"] for r in tested])):
        r["p_holm"] = p_adj
        r["inhibition"] = ("reproduced" if r["d"] > 0 and p_adj < ALPHA else
                           "not reproduced" if r["d"] <= 0 else "inconclusive")
    for r in rows:
        parts = (r["selection"], r["inhibition"])
        r["C5"] = ("reproduced" if parts == ("reproduced", "reproduced") else
                   "not reproduced" if "not reproduced" in parts else "inconclusive")
    return rows


def table() -> str:
    lines = ["| dataset | spider seeds | S = share of weights with σ(ρ̃) < 0.5 (95% CI) | (a) selection | paired seeds "
             "| ln(median abs(m) gauss / spider) | p (Holm) | (b) inhibition | C5 |", "|---|---|---|---|---|---|---|---|---|"]
    for r in evaluate():
        ci = "" if math.isnan(r["S_ci"][0]) else f" ({r['S_ci'][0]:.3f}, {r['S_ci'][1]:.3f})"
        p = f"{r['p']:.3g} ({r['p_holm']:.3g})" if "p_holm" in r else "–"
        dd = "–" if math.isnan(r["d"]) else f"{r['d']:+.3f}"
        lines.append(f"| {r['dataset']} | {r['n']} | {r['S']:.3f}{ci} | {r['selection']} | {r['pairs']} | {dd} | {p} "
                     f"| {r['inhibition']} | **{r['C5']}** |")
    return "\n".join(lines)


def figure(path=None):
    """Left: sigma(rho~) histogram at the end of the stream (all seeds pooled), per dataset. Middle: share of
    weights below 0.5 along the stream. Right: median |posterior mean| along the stream, spider vs spider-gauss."""
    from pathlib import Path

    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path) if path else Path(__file__).resolve().parent / "figures" / "sparsity.png"
    ss, gauss = _runs("spider"), _runs("spider-gauss")
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), dpi=100)
    edges = np.linspace(0, 1, HIST_BINS + 1)
    for i, d in enumerate(sorted(ss)):
        col = f"C{i}"
        h = np.sum([_final(r)["incl_hist"] for r in ss[d].values()], 0)
        axes[0].stairs(h / h.sum(), edges, color=col, label=f"{d} (n={len(ss[d])})")
        xs = [w[0] for w in next(iter(ss[d].values()))["weights_curve"]]
        fr = np.array([[w[1]["frac_incl_below_half"] for w in r["weights_curve"]] for r in ss[d].values()])
        axes[1].plot(xs, fr.mean(0), marker="o", ms=2, color=col, label=d)
        med = np.array([[w[1]["abs_mean_q10_q50_q90"][1] for w in r["weights_curve"]] for r in ss[d].values()])
        axes[2].plot(xs, med.mean(0), color=col, label=f"{d} spider")
        if d in gauss:
            gm = np.array([[w[1]["abs_mean_q10_q50_q90"][1] for w in r["weights_curve"]] for r in gauss[d].values()])
            axes[2].plot(xs, gm.mean(0), color=col, ls="--", label=f"{d} spider-gauss (n={len(gauss[d])})")
    axes[0].axvline(0.5, color="grey", lw=0.8)
    axes[0].set(xlabel="posterior inclusion probability σ(ρ̃), end of stream", ylabel="share of the 3,851 weights")
    axes[1].set(xlabel="fraction of the stream", ylabel="share of weights with σ(ρ̃) < 0.5")
    axes[2].set(xlabel="fraction of the stream", ylabel="median |posterior mean| of the weights")
    for ax in axes:
        ax.legend(fontsize=6)
    fig.suptitle("SPIDER (authors' update), full streams: weight selection by the spike-and-slab prior", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(table())
    print(figure())
