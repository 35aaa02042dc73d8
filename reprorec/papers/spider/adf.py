"""Assumed-density filtering for streaming tensor models (SPIDER/SBDT and a CP model for POST).

Every parameter theta (NN weight or latent-factor element) has a diagonal Gaussian posterior
N(m, v). For one entry, f's predictive distribution is approximated by N(f(m), v_f) with
v_f = sum_theta (df/dtheta)^2 v_theta (delta method). With

    continuous:  log Z = log N(y | f, v_f + 1/E[tau])
    binary:      log Z = log Phi((2y - 1) f / sqrt(1 + v_f))        (probit)

moment matching gives m' = m + v dlogZ/dm, v' = v - v^2 ((dlogZ/dm)^2 - 2 dlogZ/dv). As in the
authors' Theano code (T.grad of a logZ that contains T.grad), dlogZ/dm is the full derivative,
through v_f too: dlogZ/dm = dlogZ/df g + dlogZ/dv_f 2 H (g * v), with g = df/dtheta and H the
Hessian of f. Models give f, g and H (g * v) per entry in closed form (`derivs`); a torch.func
reference implementation checks them in the tests.

Sequential mode (the authors'): entries one at a time, each update seeing the previous one.
Vectorized mode: all entries of a batch are moment-matched against the same posterior and their
Gaussian sites are multiplied in, i.e. natural parameters add up (lambda' = lambda + sum_n
(lambda_n - lambda)); for a single entry this is exactly the sequential update. Updates that
would make a precision non-positive (or a value non-finite) are skipped, per entry and in total.
"""
from __future__ import annotations

import math

import torch
from torch.func import grad, vmap

LOG2PI = math.log(2 * math.pi)


def moment_match(m, v, dm, dv):
    """ADF update of N(m, v) given dlogZ/dm and dlogZ/dv (Minka 2001, eqs. 5.12-5.13)."""
    return m + v * dm, v - v ** 2 * (dm ** 2 - 2 * dv)


def gaussian_logz(f, vf, y, noise_var):
    var = vf + noise_var
    return -0.5 * (LOG2PI + torch.log(var) + (y - f) ** 2 / var)


def probit_logz(f, vf, y):
    return torch.special.log_ndtr((2 * y - 1) * f / torch.sqrt(1 + vf))


class ADFModel:
    """Posterior state + the streaming update. Subclasses define `f_entry(w, u)`.

    w: flat vector of shared parameters (NN weights; empty for CP); u: (K*R,) the entry's factors.
    """

    def __init__(self, shape, rank: int, binary: bool, n_weights: int, *, v0: float = 1.2,
                 factor_scale: float | None = None, a0: float = 1.0, b0: float = 1.0, seed: int = 0,
                 dtype=torch.float64):
        g = torch.Generator().manual_seed(seed)
        self.shape, self.R, self.binary, self.dtype = tuple(shape), rank, binary, dtype
        scale = 1.0 / rank if factor_scale is None else factor_scale  # SBDT prior.py: randn / R
        self.mu = [torch.randn(n, rank, generator=g, dtype=dtype) * scale for n in shape]
        self.vu = [torch.full((n, rank), v0, dtype=dtype) for n in shape]
        self.mw = self.init_weights(g).to(dtype) if n_weights else torch.zeros(0, dtype=dtype)
        self.vw = torch.full((n_weights,), v0, dtype=dtype)
        self.a, self.b = torch.tensor(a0, dtype=dtype), torch.tensor(b0, dtype=dtype)
        self.skipped = 0  # count of parameter updates skipped as invalid

    # -- model ------------------------------------------------------------------------------------
    def init_weights(self, g) -> torch.Tensor:
        return torch.zeros(0)

    def f_entry(self, w, u):  # pragma: no cover - abstract
        raise NotImplementedError

    def gather(self, idx):
        """(B, K*R) factor means and variances of a batch of entries."""
        mu = torch.cat([self.mu[k][idx[:, k]] for k in range(len(self.shape))], 1)
        vu = torch.cat([self.vu[k][idx[:, k]] for k in range(len(self.shape))], 1)
        return mu, vu

    @torch.no_grad()
    def predict(self, idx) -> torch.Tensor:
        """f at the posterior means (the authors' predict_deterministic)."""
        mu, _ = self.gather(idx)
        return vmap(self.f_entry, in_dims=(None, 0))(self.mw, mu)

    # -- ADF --------------------------------------------------------------------------------------
    def derivs(self, mu, vu):
        """Per entry: f, df/dw (B, P), df/du (B, KR), and H d with d = (df/dw * v_w, df/du * v_u).

        H d (Hessian of f times the variance-weighted gradient) is half of dv_f/dm. This reference
        version uses torch.func (reverse-over-reverse); models override it with closed forms.
        """
        def fg(w, u):
            return grad(self.f_entry, argnums=(0, 1))(w, u)

        rows = []
        for n in range(len(mu)):  # reference only: clarity over speed
            gw, gu = fg(self.mw, mu[n])
            _, (hw, hu) = torch.func.jvp(fg, (self.mw, mu[n]), (gw * self.vw, gu * vu[n]))
            rows.append((self.f_entry(self.mw, mu[n]), gw, gu, hw, hu))
        return tuple(torch.stack(t) for t in zip(*rows))

    def logz_grads(self, y, f, vf, noise_var):
        """dlogZ/df and dlogZ/dv_f of the Gaussian or probit likelihood, per entry."""
        if self.binary:
            s = 2 * y - 1
            c = torch.sqrt(1 + vf)
            z = s * f / c
            r = torch.exp(-0.5 * z ** 2 - 0.5 * LOG2PI - torch.special.log_ndtr(z))  # phi(z) / Phi(z)
            return r * s / c, -r * z / (2 * (1 + vf))
        var = vf + noise_var
        return (y - f) / var, -0.5 / var + 0.5 * (y - f) ** 2 / var ** 2

    def linearise(self, mu, vu):
        """Per entry: f, v_f, df/du, H d restricted to u, and whatever `weight_site_sums` needs.

        Generic version from the flat `derivs` (B, P) matrices; Spider overrides it with products of
        per-layer factors that never form (B, P) matrices here."""
        f, gw, gu, hw, hu = self.derivs(mu, vu)
        vf = (gw ** 2 * self.vw).sum(1) + (gu ** 2 * vu).sum(1)
        return f, vf, gu, hu, (gw, hw)

    def weight_site_sums(self, lf, lv, wpart):
        """Summed natural-parameter increments of the shared weights over the batch (generic version)."""
        gw, hw = wpart
        dmw, dvw = lf[:, None] * gw + 2 * lv[:, None] * hw, lv[:, None] * gw ** 2
        dprec, dh = self._site_deltas(self.mw[None], self.vw[None], dmw, dvw)
        return dprec.sum(0), dh.sum(0)

    def update(self, idx: torch.Tensor, y: torch.Tensor) -> None:
        """One joint ADF update from a batch of entries (a single entry = the exact sequential step)."""
        y = y.to(self.dtype)
        mu, vu = self.gather(idx)
        noise_var = self.b / self.a
        f, vf, gu, hu, wpart = self.linearise(mu, vu)
        lf, lv = self.logz_grads(y, f, vf, noise_var)
        dmu, dvu = lf[:, None] * gu + 2 * lv[:, None] * hu, lv[:, None] * gu ** 2
        if self.mw.numel():
            self.mw, self.vw = self._apply(self.mw, self.vw, *self.weight_site_sums(lf, lv, wpart))
        self._combine_factors(idx, mu, vu, dmu, dvu)
        if not self.binary:  # conjugate Gamma update of the noise precision (SBDT network.py)
            a, b = self.a + 0.5 * len(y), self.b + 0.5 * ((y - f) ** 2 + vf).sum()
            if torch.isfinite(b) and b > 0:
                self.a, self.b = a, b

    def logz(self, idx, y):
        """log Z per entry at the current posterior (used by tests to check derivatives)."""
        mu, vu = self.gather(idx)
        f, vf, *_ = self.linearise(mu, vu)
        return probit_logz(f, vf, y) if self.binary else gaussian_logz(f, vf, y, self.b / self.a)

    def _site_deltas(self, m, v, dm, dv):
        """Per-entry natural-parameter increments (dprec, dh) of the moment-matched update.

        With c = dm^2 - 2 dv the update is v' = v (1 - v c), m' = m + v dm, so
        1/v' - 1/v = c / (1 - v c) and m'/v' - m/v = (dm + m c) / (1 - v c): valid iff 1 - v c > 0
        (v' > 0); invalid entries contribute nothing (the authors' remove_invalid_updates).
        """
        c = dm ** 2 - 2 * dv
        den = 1 - v * c
        lo, hi = torch.aminmax(den)
        if lo > 0 and torch.isfinite(hi):  # all valid (a NaN or inf in dm makes den NaN or -inf: v > 0)
            inv = 1 / den
            return c * inv, (dm + m * c) * inv
        ok = (den > 0) & torch.isfinite(den) & torch.isfinite(dm)
        self.skipped += int((~ok).sum())
        inv = torch.where(ok, 1 / torch.where(ok, den, 1.0), 0.0)
        return c * inv, (dm + m * c) * inv

    def _apply(self, m, v, dprec, dh):
        """Posterior x summed sites; elements whose new precision is not positive and finite keep
        their old moments. One aminmax pass decides whether any element needs the mask."""
        prec, h = 1 / v + dprec, m / v + dh
        lo, hi = torch.aminmax(prec)
        if lo > 0 and torch.isfinite(hi + h.sum()):
            return h / prec, 1 / prec
        ok = (prec > 0) & torch.isfinite(prec) & torch.isfinite(h)
        self.skipped += int((~ok).sum())
        return torch.where(ok, h / prec, m), torch.where(ok, 1 / prec, v)

    def _combine_factors(self, idx, mu, vu, dm, dv):
        """Multiply each entry's factor sites into the rows it touches (natural parameters add, so
        entries sharing a row are merged with index_add), all modes at once.

        mu, vu are the gathered rows (B, K*R); dm, dv the per-entry dlogZ/dm, dlogZ/dv there."""
        K, R, B = len(self.shape), self.R, len(idx)
        dprec, dh = self._site_deltas(mu, vu, dm, dv)
        if B == 1:  # sequential mode: each mode's row is touched once
            rows = [idx[:, k] for k in range(K)]
            m, v, sp, sh = mu.view(K, R), vu.view(K, R), dprec.view(K, R), dh.view(K, R)
        else:
            rows, parts = [], []
            for k in range(K):
                uniq, inv = torch.unique(idx[:, k], return_inverse=True)
                sl = slice(k * R, (k + 1) * R)
                z = torch.zeros(len(uniq), R, dtype=self.dtype)
                rows.append(uniq)
                parts.append((self.mu[k][uniq], self.vu[k][uniq], z.index_add(0, inv, dprec[:, sl]),
                              z.index_add(0, inv, dh[:, sl])))
            m, v, sp, sh = (torch.cat(t) for t in zip(*parts))
        new_m, new_v = self._apply(m, v, sp, sh)
        sizes = [len(r) for r in rows]
        for k, (r, nm, nv) in enumerate(zip(rows, new_m.split(sizes), new_v.split(sizes))):
            self.mu[k][r], self.vu[k][r] = nm, nv  # in place: no copy of the table

    def process_batch(self, idx, y, sequential: bool) -> None:
        if sequential:
            for n in range(len(y)):
                self.update(idx[n:n + 1], y[n:n + 1])
        else:
            self.update(idx, y)
        self.after_batch()

    def after_batch(self) -> None:
        """Hook run after each stream batch (SPIDER: the spike-and-slab EP refinement)."""

    def memory_bytes(self) -> int:
        ts = [*self.mu, *self.vu, self.mw, self.vw]
        return sum(t.numel() * t.element_size() for t in ts)
