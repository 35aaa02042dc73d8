"""The two streaming models on the ADF engine: SPIDER (Bayesian NN over concatenated factors, with a
spike-and-slab prior refined by EP) and POST-style CP (f = sum_r prod_k u_k[i_k, r]).

Assumed-density filtering for streaming tensor models (SPIDER/SBDT and a CP model for POST).

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

from . import native

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


def spike_slab_ep(m, v, site_prec, site_h, rho0: float, tau0: float, max_var: float = 1e6):
    """EP refinement of each weight's spike-and-slab prior term, elementwise.

    Cavity = posterior / site; tilted = cavity x [rho0 N(w|0, tau0) + (1 - rho0) delta(w)], whose
    mean and variance become the new posterior; the site is new posterior / cavity. Entries with an
    invalid cavity (precision <= 0, variance >= max_var) or non-finite result keep their old values
    (SBDT prior.py's validity check). Returns (m, v, site_prec, site_h, n_updated).
    """
    cav_prec, cav_h = 1 / v - site_prec, m / v - site_h
    v_c = 1 / cav_prec
    m_c = cav_h * v_c
    rho_star = _log_normal(m_c, v_c + tau0) - _log_normal(m_c, v_c)
    p = torch.sigmoid(math.log(rho0 / (1 - rho0)) + rho_star)
    v_t = 1 / (cav_prec + 1 / tau0)
    m_t = v_t * cav_h
    m_new, v_new = p * m_t, p * (v_t + (1 - p) * m_t ** 2)
    ok = (cav_prec > 0) & (v_c < max_var) & (v_new > 0) & (v_new < max_var) & torch.isfinite(m_new) & torch.isfinite(
        rho_star)
    v_new_safe = torch.where(ok, v_new, v)
    m_new_safe = torch.where(ok, m_new, m)
    site_prec = torch.where(ok, 1 / v_new_safe - cav_prec, site_prec)
    site_h = torch.where(ok, m_new_safe / v_new_safe - cav_h, site_h)
    return m_new_safe, v_new_safe, site_prec, site_h, int(ok.sum())


def _log_normal(x, var):
    return -0.5 * (math.log(2 * math.pi) + torch.log(var) + x ** 2 / var)


class Spider(ADFModel):
    """SBDT/SPIDER: f = NN([u_1; ...; u_K]); each layer's input (plus a bias unit) scaled by
    1/sqrt(fan-in + 1), ReLU hidden layers (SBDT network_layer.py). `spike_slab=False` is the ablation
    with the plain Gaussian N(m_init, v0) prior and no EP refinement."""

    def __init__(self, shape, rank, binary, hidden=(50, 50), *, spike_slab=True, rho0=0.5, tau0=1.0, v0=1.2,
                 **kw):
        sizes = [len(shape) * rank, *hidden, 1]
        self.layers = [(o, i + 1) for i, o in zip(sizes[:-1], sizes[1:])]  # (out, in + bias)
        n = sum(o * i for o, i in self.layers)
        super().__init__(shape, rank, binary, n, v0=v0, **kw)
        self.spike_slab, self.rho0, self.tau0 = spike_slab, rho0, tau0
        # the prior site starts as the N(0, v0) the posterior variance was initialised with (SBDT prior.py)
        self.site_prec = torch.full_like(self.vw, 1 / v0)
        self.site_h = torch.zeros_like(self.mw)
        self.ep_updated = 0
        self._one = torch.ones((), dtype=self.dtype)

    def init_weights(self, g):  # randn / sqrt(fan_in + 1), as SBDT prior.py
        return torch.cat([torch.randn(o * i, generator=g, dtype=torch.float64) / math.sqrt(i) for o, i in self.layers])

    def f_entry(self, w, u):
        h, off = u, 0
        for li, (o, i) in enumerate(self.layers):
            W = w[off:off + o * i].reshape(o, i)
            off += o * i
            h = W @ (torch.cat([h, h.new_ones(1)]) / math.sqrt(i))
            if li < len(self.layers) - 1:
                h = torch.relu(h)
        return h[0]

    def _layer_views(self, flat):
        """(out, in + 1) views of each layer's block of a flat per-weight vector (no copies)."""
        out, off = [], 0
        for o, i in self.layers:
            out.append(flat[off:off + o * i].view(o, i))
            off += o * i
        return out

    def forward(self, mu):
        """Batched f at factor values `mu` (B, K*R) and the per-layer activations and pre-activations."""
        one, acts, zs, a = mu.new_ones(len(mu), 1), [], [], mu
        Ws = self._layer_views(self.mw)
        for li, ((o, i), W) in enumerate(zip(self.layers, Ws)):
            at = torch.cat([a, one], 1) / math.sqrt(i)
            acts.append(at)
            z = at @ W.T
            zs.append(z)
            a = torch.relu(z) if li < len(Ws) - 1 else z
        return a[:, 0], acts, zs

    @torch.no_grad()
    def predict(self, idx):
        return self.forward(self.gather(idx)[0])[0]

    def linearise(self, mu, vu):
        """The quantities of `derivs` without forming any (B, P) matrix.

        Per layer, df/dW = delta (x) a (delta = df/dz, a = the scaled input with its bias unit) and
        H d restricted to W = ddot (x) a + delta (x) adot, so every contraction with d = g * v reduces to
        matrix products with the variance table V:  sum_i dW[b,o,i] a[b,i] = delta (a^2 V^T),
        sum_o delta[b,o] dW[b,o,i] = a (delta^2 V), and v_f's weight part = sum_i a^2 (delta^2 V).
        Returns the per-layer factors (a, adot, delta, ddot) for `weight_site_sums`."""
        f, acts, zs = self.forward(mu)
        Ws, Vs = self._layer_views(self.mw), self._layer_views(self.vw)
        L, sq = len(Ws), [math.sqrt(i) for _, i in self.layers]
        masks = [(z > 0).to(mu.dtype) for z in zs[:-1]]
        deltas = [None] * L
        deltas[-1] = mu.new_ones(len(mu), 1)
        for li in range(L - 1, 0, -1):
            deltas[li - 1] = deltas[li] @ Ws[li][:, :-1] / sq[li] * masks[li - 1]
        d2s = [d * d for d in deltas]
        d2V = [d2 @ V for d2, V in zip(d2s, Vs)]  # (B, i): sum_o delta^2 V
        gu = deltas[0] @ Ws[0][:, :-1] / sq[0]
        vf = sum((a * a * dv).sum(1) for a, dv in zip(acts, d2V)) + (gu * gu * vu).sum(1)
        adot, atdots = gu * vu, []
        for li, (W, V) in enumerate(zip(Ws, Vs)):
            atd = torch.cat([adot, adot.new_zeros(len(adot), 1)], 1) / sq[li]
            atdots.append(atd)
            zd = deltas[li] * ((acts[li] * acts[li]) @ V.T) + atd @ W.T
            adot = zd * masks[li] if li < L - 1 else zd
        back = [acts[li][:, :-1] * d2V[li][:, :-1] for li in range(L)]
        ddots = [None] * L
        ddots[-1] = torch.zeros_like(deltas[-1])
        for li in range(L - 1, 0, -1):
            ddots[li - 1] = (back[li] + ddots[li] @ Ws[li][:, :-1]) / sq[li] * masks[li - 1]
        hu = (back[0] + ddots[0] @ Ws[0][:, :-1]) / sq[0]
        return f, vf, gu, hu, (acts, atdots, deltas, ddots)

    def derivs(self, mu, vu):
        """Flat per-entry df/dw and H d (B, P) assembled from `linearise`'s factors (tests, reference)."""
        f, _, gu, hu, (acts, atdots, deltas, ddots) = self.linearise(mu, vu)
        flat = lambda ts: torch.cat([t.reshape(len(mu), -1) for t in ts], 1)  # noqa: E731
        gW = [d[:, :, None] * a[:, None, :] for d, a in zip(deltas, acts)]
        hW = [dd[:, :, None] * a[:, None, :] + d[:, :, None] * ad[:, None, :]
              for a, ad, d, dd in zip(acts, atdots, deltas, ddots)]
        return f, flat(gW), gu, flat(hW), hu

    def weight_site_sums(self, lf, lv, wpart, block: int = 40_000):
        """Sum over the batch of each weight's site increments (see ADFModel._site_deltas), per layer
        and in chunks of entries so that the (chunk, o, i) temporaries stay in cache.

        With P1 = lf delta + 2 lv ddot and Q1 = 2 lv delta, dlogZ/dW = P1 (x) a + Q1 (x) adot and
        c = dm^2 - 2 dv = dm^2 - 2 (lv delta^2) (x) a^2. When every 1 - v c of a chunk is finite and
        positive (the usual case; one aminmax pass checks it) no entry is invalid and the masks are
        skipped; otherwise the chunk goes through the generic `_site_deltas` with its checks."""
        acts, atdots, deltas, ddots = wpart
        Ms, Vs = self._layer_views(self.mw), self._layer_views(self.vw)
        sp, sh = torch.zeros_like(self.mw), torch.zeros_like(self.mw)
        lf, lv2 = lf[:, None], 2 * lv[:, None]
        for a, ad, d, dd, M, V, ps, hs in zip(acts, atdots, deltas, ddots, Ms, Vs, self._layer_views(sp),
                                              self._layer_views(sh)):
            P1 = lf * d + lv2 * dd
            Q1 = lv2 * d
            R1 = Q1 * d  # 2 lv delta^2 = -2 x (dlogZ/dv's row factor)
            a2 = a * a
            step = max(1, block // M.numel())
            for s in range(0, len(a), step):
                e = slice(s, s + step)
                dm = P1[e, :, None] * a[e, None, :]
                dm.addcmul_(Q1[e, :, None], ad[e, None, :])
                c = dm * dm
                c.addcmul_(R1[e, :, None], a2[e, None, :], value=-1)
                den = torch.addcmul(self._one, c, V, value=-1)
                lo, hi = torch.aminmax(den)
                if lo > 0 and torch.isfinite(hi):
                    inv = den.reciprocal_()
                    dprec = c.mul_(inv)
                    dh = dm.mul_(inv).addcmul_(M, dprec)
                else:
                    dv = 0.5 * R1[e, :, None] * a2[e, None, :]
                    dprec, dh = self._site_deltas(M[None], V[None], dm, dv)
                ps += dprec.sum(0)
                hs += dh.sum(0)
        return sp, sh

    def process_batch(self, idx, y, sequential: bool, native_ok: bool = True) -> None:
        """As ADFModel.process_batch; the sequential mode runs the compiled per-entry loop when it is
        available (bit-identical to the Python loop, which `native_ok=False` forces)."""
        ext = native.module() if sequential and native_ok else None
        if ext is None:
            return super().process_batch(idx, y, sequential)
        self.mw, self.vw, self.a, self.b, skipped = ext.sequential_updates(
            idx, y.to(self.dtype), self.mu, self.vu, self.mw, self.vw, self.a, self.b,
            [o for o, _ in self.layers], [i for _, i in self.layers], self.binary, LOG2PI)
        self.skipped += skipped
        self.after_batch()

    def after_batch(self):
        if self.spike_slab:
            self.mw, self.vw, self.site_prec, self.site_h, n = spike_slab_ep(
                self.mw, self.vw, self.site_prec, self.site_h, self.rho0, self.tau0)
            self.ep_updated += n


class StreamingCP(ADFModel):
    """POST-style streaming Bayesian CP: f = sum_r prod_k u_k[i_k, r], diagonal Gaussian factors,
    the same ADF update and likelihoods as SPIDER (no NN, no spike-and-slab)."""

    def __init__(self, shape, rank, binary, **kw):
        super().__init__(shape, rank, binary, 0, **kw)

    def f_entry(self, w, u):
        return u.reshape(len(self.shape), self.R).prod(0).sum()

    def derivs(self, mu, vu):
        """f = sum_r prod_k u_kr; df/du_kr = prod_{j!=k} u_jr; (H d)_kr = sum_{j!=k} d_jr prod_{l!=k,j} u_lr."""
        B, K, R = len(mu), len(self.shape), self.R
        U = mu.reshape(B, K, R)
        f = U.prod(1).sum(1)
        others = lambda skip: [U[:, l] for l in range(K) if l not in skip]  # noqa: E731
        prod = lambda ts: torch.stack(ts).prod(0) if ts else torch.ones_like(U[:, 0])  # noqa: E731
        g = torch.stack([prod(others({k})) for k in range(K)], 1)
        d = g * vu.reshape(B, K, R)
        h = torch.stack([sum((d[:, j] * prod(others({k, j})) for j in range(K) if j != k), torch.zeros_like(U[:, 0]))
                         for k in range(K)], 1)
        empty = mu.new_zeros(B, 0)
        return f, empty, g.reshape(B, -1), empty, h.reshape(B, -1)


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
