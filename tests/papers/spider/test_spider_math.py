"""Mathematics of the SPIDER/POST streaming machinery: closed forms, numerical integration, limits."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from reprorec.papers.spider.models import ADFModel, moment_match
from reprorec.papers.spider.models import Spider, StreamingCP, spike_slab_ep

D = torch.float64


def scalar_model(m0: float, v0: float, binary: bool, noise_var: float | None = None) -> StreamingCP:
    """K=1, R=1 CP: f = u, a single parameter. A huge (a, b) pins the noise precision at 1/noise_var."""
    model = StreamingCP((1,), 1, binary, v0=v0, a0=1e12 / (noise_var or 1.0), b0=1e12)
    model.mu[0][:] = m0
    return model


def test_gaussian_adf_equals_conjugate_posterior_sequential_and_vectorized():
    ys = torch.tensor([0.3, -1.2, 2.5, 0.7], dtype=D)
    m0, v0, s2 = 0.4, 2.0, 0.5
    prec = 1 / v0 + len(ys) / s2
    exact_v, exact_m = 1 / prec, (m0 / v0 + ys.sum() / s2) / prec
    idx = torch.zeros(len(ys), 1, dtype=torch.long)
    for sequential in (True, False):
        model = scalar_model(m0, v0, False, s2)
        model.process_batch(idx, ys, sequential=sequential)
        assert float(model.mu[0]) == pytest.approx(float(exact_m), rel=1e-9)
        assert float(model.vu[0]) == pytest.approx(float(exact_v), rel=1e-9)


@pytest.mark.parametrize("y,m0,v0", [(1.0, 0.3, 1.5), (0.0, 0.8, 0.4), (1.0, -2.0, 3.0)])
def test_probit_update_matches_quadrature_of_tilted_distribution(y, m0, v0):
    # f = u, so v_f = v and log Z = log Phi((2y-1) m / sqrt(1 + v)) is exact for N(u|m,v) Phi((2y-1)u)
    model = scalar_model(m0, v0, True)
    model.update(torch.zeros(1, 1, dtype=torch.long), torch.tensor([y], dtype=D))
    s = 2 * y - 1
    sd = math.sqrt(v0)
    lo, hi = m0 - 12 * sd, m0 + 12 * sd
    tilted = lambda u, p: u ** p * stats.norm.pdf(u, m0, sd) * stats.norm.cdf(s * u)  # noqa: E731
    z = integrate.quad(tilted, lo, hi, args=(0,), epsabs=1e-13)[0]
    mean = integrate.quad(tilted, lo, hi, args=(1,), epsabs=1e-13)[0] / z
    var = integrate.quad(tilted, lo, hi, args=(2,), epsabs=1e-13)[0] / z - mean ** 2
    assert float(model.mu[0]) == pytest.approx(mean, rel=1e-7, abs=1e-9)
    assert float(model.vu[0]) == pytest.approx(var, rel=1e-7)


@pytest.mark.parametrize("m_c,v_c,rho0,tau0", [(0.3, 0.2, 0.5, 1.0), (-1.5, 0.5, 0.5, 1.0), (0.05, 0.01, 0.2, 2.0)])
def test_spike_and_slab_ep_step_matches_quadrature(m_c, v_c, rho0, tau0):
    # posterior = cavity x site; the site starts as N(0, 1/site_prec); EP must return the tilted moments
    site_prec, site_h = 0.7, 0.1
    prec = 1 / v_c + site_prec
    v, m = 1 / prec, (m_c / v_c + site_h) / prec
    t = lambda x: torch.tensor([x], dtype=D)  # noqa: E731
    m_new, v_new, sp, sh, n = spike_slab_ep(t(m), t(v), t(site_prec), t(site_h), rho0, tau0)
    sd = math.sqrt(v_c)
    slab = lambda w, p: w ** p * stats.norm.pdf(w, m_c, sd) * rho0 * stats.norm.pdf(w, 0, math.sqrt(tau0))  # noqa: E731
    lo, hi = m_c - 15 * sd, m_c + 15 * sd
    spike_mass = (1 - rho0) * stats.norm.pdf(0.0, m_c, sd)  # the delta at 0 adds mass, not moments
    z = integrate.quad(slab, lo, hi, args=(0,), epsabs=1e-14, points=[0.0])[0] + spike_mass
    mean = integrate.quad(slab, lo, hi, args=(1,), epsabs=1e-14, points=[0.0])[0] / z
    var = integrate.quad(slab, lo, hi, args=(2,), epsabs=1e-14, points=[0.0])[0] / z - mean ** 2
    assert n == 1
    assert float(m_new) == pytest.approx(mean, rel=1e-7, abs=1e-12)
    assert float(v_new) == pytest.approx(var, rel=1e-7)
    # the new site is posterior / cavity, so cavity x site reproduces the posterior
    assert float(1 / v_c + sp) == pytest.approx(1 / float(v_new), rel=1e-9)


def test_ep_skips_an_invalid_cavity():
    # posterior precision below the site precision => cavity precision < 0 => untouched
    m, v = torch.tensor([0.2], dtype=D), torch.tensor([2.0], dtype=D)
    out = spike_slab_ep(m, v, torch.tensor([1.0], dtype=D), torch.tensor([0.0], dtype=D), 0.5, 1.0)
    assert float(out[0]) == 0.2 and float(out[1]) == 2.0 and out[4] == 0


@pytest.mark.parametrize("cls,kw", [(Spider, {"hidden": (4, 3)}), (StreamingCP, {"factor_scale": 0.8})])
@pytest.mark.parametrize("binary", [False, True])
def test_closed_form_derivatives_match_autodiff_of_log_z(cls, kw, binary):
    """dlogZ/dm (through v_f too, as the authors' T.grad) and dlogZ/dv from the closed forms equal
    torch.autograd on log Z built from torch.func gradients (the reference ADFModel.derivs)."""
    model = cls((5, 4, 3), 2, binary, seed=3, **kw)
    g = torch.Generator().manual_seed(0)
    model.vu = [torch.rand(v.shape, generator=g, dtype=D) + 0.1 for v in model.vu]
    model.vw = torch.rand(model.vw.shape, generator=g, dtype=D) + 0.1
    idx = torch.tensor([[1, 2, 0]])
    y = torch.tensor([1.0 if binary else 0.7], dtype=D)
    mu, vu = model.gather(idx)
    ours = model.derivs(mu, vu)
    ref = ADFModel.derivs(model, mu, vu)
    for a, b in zip(ours, ref):
        assert torch.allclose(a, b, atol=1e-12)
    # full derivative of log Z w.r.t. the means and variances by autograd
    mw, vw = model.mw.clone().requires_grad_(), model.vw.clone().requires_grad_()
    mu_r, vu_r = mu.clone().requires_grad_(), vu.clone().requires_grad_()
    model.mw, model.vw = mw, vw
    f, gw, gu, _, _ = ADFModel.derivs(model, mu_r, vu_r)
    vf = (gw ** 2 * vw).sum(1) + (gu ** 2 * vu_r).sum(1)
    lf, lv = model.logz_grads(y, f, vf, model.b / model.a)
    logz = (torch.special.log_ndtr((2 * y - 1) * f / torch.sqrt(1 + vf)) if binary else
            -0.5 * (math.log(2 * math.pi) + torch.log(vf + model.b / model.a) + (y - f) ** 2 / (vf + model.b / model.a)))
    dm_u, dv_u = torch.autograd.grad(logz.sum(), (mu_r, vu_r), retain_graph=True)
    f2, gw2, gu2, hw2, hu2 = ours
    with torch.no_grad():
        lf, lv = model.logz_grads(y, f2, (gw2 ** 2 * model.vw).sum(1) + (gu2 ** 2 * vu).sum(1), model.b / model.a)
        assert torch.allclose(lf[:, None] * gu2 + 2 * lv[:, None] * hu2, dm_u, atol=1e-10)
        assert torch.allclose(lv[:, None] * gu2 ** 2, dv_u, atol=1e-10)
    if gw.shape[1]:
        dm_w, dv_w = torch.autograd.grad(logz.sum(), (mw, vw))
        assert torch.allclose(lf[:, None] * gw2 + 2 * lv[:, None] * hw2, dm_w, atol=1e-10)
        assert torch.allclose(lv[:, None] * gw2 ** 2, dv_w, atol=1e-10)


def test_moment_match_and_invalid_updates_are_skipped():
    m, v = moment_match(torch.tensor(1.0), torch.tensor(2.0), torch.tensor(0.5), torch.tensor(-0.25))
    assert float(m) == 2.0 and float(v) == 2.0 - 4.0 * (0.25 + 0.5)
    model = scalar_model(0.0, 1.0, False, 1.0)
    # c = dm^2 - 2 dv = 4.2 > 1/v: the new variance v (1 - v c) would be negative -> skipped, no change
    dprec, dh = model._site_deltas(torch.tensor([0.0]), torch.tensor([1.0]), torch.tensor([2.0]), torch.tensor([-0.1]))
    assert float(dprec) == 0.0 and float(dh) == 0.0 and model.skipped == 1


def synthetic_cp(n=(12, 10, 8), rank=2, noise=0.1, n_train=6000, seed=0, loc=0.0):
    """Synthetic low-rank tensor (tests only): y = CP(U) + N(0, noise^2) at random entries.

    loc > 0 gives factors with a common positive part, i.e. marginal (per-index) effects; with
    loc = 0 every single-index marginal of y is zero, which a randomly initialised NN cannot see."""
    rng = np.random.default_rng(seed)
    U = [rng.normal(loc, 1, (d, rank)) / (1 + loc) for d in n]
    idx = np.stack([rng.integers(0, d, n_train + 2000) for d in n], 1)
    f = np.prod([U[k][idx[:, k]] for k in range(3)], 0).sum(1)
    y = f + rng.normal(0, noise, len(f))
    t = lambda a: torch.as_tensor(a)  # noqa: E731
    return t(idx[:n_train]), t(y[:n_train]), t(idx[n_train:]), t(f[n_train:]), float(np.std(y))


@pytest.mark.parametrize("cls,kw,limit", [(StreamingCP, {"factor_scale": 0.5}, 0.13),
                                          pytest.param(Spider, {"hidden": (20, 20)}, 0.25, marks=pytest.mark.slow)])
def test_one_pass_over_a_low_rank_tensor_reaches_the_noise_level(cls, kw, limit):
    idx, y, tidx, tf, sd = synthetic_cp(loc=1.0)  # noise sd 0.1, target sd ~0.5
    model = cls((12, 10, 8), 2 if cls is StreamingCP else 3, False, seed=0, **kw)
    before = float(((model.predict(tidx) - tf) ** 2).mean().sqrt())
    min_var = math.inf
    for s in range(0, len(y), 64):
        model.process_batch(idx[s:s + 64], y[s:s + 64], sequential=False)
        min_var = min(min_var, *(float(v.min()) for v in [*model.vu, model.vw] if v.numel()))
    rmse = float(((model.predict(tidx) - tf) ** 2).mean().sqrt())
    assert min_var > 0  # no variance ever became non-positive
    assert before > 0.4 and rmse < limit, (before, rmse, sd)  # error vs the noiseless truth, near the noise sd 0.1
    assert 1 / math.sqrt(float(model.a / model.b)) < 0.45  # the learned noise sd is small too (it absorbs v_f)
