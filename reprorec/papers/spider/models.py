"""The two streaming models on the ADF engine: SPIDER (Bayesian NN over concatenated factors, with a
spike-and-slab prior refined by EP) and POST-style CP (f = sum_r prod_k u_k[i_k, r])."""
from __future__ import annotations

import math

import torch

from . import native
from .adf import LOG2PI, ADFModel


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
