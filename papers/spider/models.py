"""The two streaming models on the ADF engine: SPIDER (Bayesian NN over concatenated factors, with a
spike-and-slab prior refined by EP) and POST-style CP (f = sum_r prod_k u_k[i_k, r])."""
from __future__ import annotations

import math

import torch

from .adf import ADFModel


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

    def derivs(self, mu, vu):
        """Closed-form f, per-entry gradients and H (g * v) for the MLP (Pearlmutter's R-operator:
        forward- then backward-mode tangents of backprop along the per-entry direction g * v)."""
        B = len(mu)
        Ws, off = [], 0
        for o, i in self.layers:
            Ws.append(self.mw[off:off + o * i].reshape(o, i))
            off += o * i
        one = mu.new_ones(B, 1)
        acts, zs, a = [], [], mu
        for li, ((o, i), W) in enumerate(zip(self.layers, Ws)):
            at = torch.cat([a, one], 1) / math.sqrt(i)
            acts.append(at)
            z = at @ W.T
            zs.append(z)
            a = torch.relu(z) if li < len(Ws) - 1 else z
        f = a[:, 0]
        L = len(Ws)
        masks = [(z > 0).to(mu.dtype) for z in zs[:-1]]
        # backward: delta_l = df/dz_l
        deltas = [None] * L
        deltas[-1] = mu.new_ones(B, 1)
        for li in range(L - 1, 0, -1):
            deltas[li - 1] = deltas[li] @ Ws[li][:, :-1] / math.sqrt(self.layers[li][1]) * masks[li - 1]
        gWs = [deltas[li][:, :, None] * acts[li][:, None, :] for li in range(L)]
        gu = deltas[0] @ Ws[0][:, :-1] / math.sqrt(self.layers[0][1])
        # direction d = g * v
        vWs, off = [], 0
        for o, i in self.layers:
            vWs.append(self.vw[off:off + o * i].reshape(o, i))
            off += o * i
        dWs = [g * v for g, v in zip(gWs, vWs)]
        du = gu * vu
        # forward tangents
        adot, atdots = du, []
        for li, ((o, i), W) in enumerate(zip(self.layers, Ws)):
            atd = torch.cat([adot, torch.zeros_like(one)], 1) / math.sqrt(i)
            atdots.append(atd)
            zd = torch.einsum("boi,bi->bo", dWs[li], acts[li]) + atd @ W.T
            adot = zd * masks[li] if li < L - 1 else zd
        # backward tangents
        ddots = [None] * L
        ddots[-1] = torch.zeros_like(deltas[-1])
        for li in range(L - 1, 0, -1):
            back = torch.einsum("bo,boi->bi", deltas[li], dWs[li][:, :, :-1]) + ddots[li] @ Ws[li][:, :-1]
            ddots[li - 1] = back / math.sqrt(self.layers[li][1]) * masks[li - 1]
        hWs = [ddots[li][:, :, None] * acts[li][:, None, :] + deltas[li][:, :, None] * atdots[li][:, None, :]
               for li in range(L)]
        hu = (torch.einsum("bo,boi->bi", deltas[0], dWs[0][:, :, :-1]) + ddots[0] @ Ws[0][:, :-1]) / math.sqrt(
            self.layers[0][1])
        flat = lambda ts: torch.cat([t.reshape(B, -1) for t in ts], 1)  # noqa: E731
        return f, flat(gWs), gu, flat(hWs), hu

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
