"""The factored SPIDER update (per-layer products, chunked, unmasked fast path) is the same ADF update
as the generic formulation: flat (B, P) torch.func derivatives + masked per-element site deltas."""
from __future__ import annotations

import copy

import pytest
import torch

from reprorec.papers.spider.models import ADFModel
from reprorec.papers.spider.models import Spider

D = torch.float64


class Reference(Spider):
    """SPIDER through the generic ADFModel path with torch.func derivatives (no closed forms)."""
    derivs = ADFModel.derivs
    linearise = ADFModel.linearise
    weight_site_sums = ADFModel.weight_site_sums
    predict = ADFModel.predict


def batches(shape, n, size, binary, seed=0):
    g = torch.Generator().manual_seed(seed)
    idx = torch.stack([torch.randint(0, d, (n,), generator=g) for d in shape], 1)
    y = (torch.rand(n, generator=g) < 0.3).to(D) if binary else torch.randn(n, generator=g, dtype=D)
    return [(idx[s:s + size], y[s:s + size]) for s in range(0, n, size)]


def assert_same_state(a, b, tol=1e-12):
    for x, y in [(a.mw, b.mw), (a.vw, b.vw), *zip(a.mu, b.mu), *zip(a.vu, b.vu), (a.a, b.a), (a.b, b.b)]:
        assert torch.allclose(x, y, rtol=tol, atol=tol), float((x - y).abs().max())
    assert a.skipped == b.skipped and a.ep_updated == b.ep_updated


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("sequential", [False, True])
def test_factored_update_equals_generic_torch_func_update(binary, sequential):
    shape = (7, 6, 5)
    ours = Spider(shape, 3, binary, hidden=(6, 5), seed=1)
    ref = Reference(shape, 3, binary, hidden=(6, 5), seed=1)
    for idx, y in batches(shape, 48 if sequential else 96, 16, binary):
        ours.process_batch(idx, y, sequential)
        ref.process_batch(idx, y, sequential)
    assert_same_state(ours, ref)
    assert ours.ep_updated > 0
    test = batches(shape, 30, 30, binary, seed=5)[0][0]
    assert torch.allclose(ours.predict(test), ref.predict(test), rtol=1e-12, atol=1e-12)


def test_chunking_and_the_masked_branch_agree_with_the_reference():
    """Weights with a huge variance make 1 - v c <= 0 for some entries: those chunks take the masked
    branch, skip exactly the reference's entries, and the chunk size does not change the result."""
    shape = (7, 6, 5)
    ref = Reference(shape, 3, False, hidden=(6, 5), seed=2)
    ref.vw[::7] = 50.0
    (idx, y), = batches(shape, 32, 32, False, seed=3)
    y = y * 5  # large residuals -> large dlogZ/dm
    ours = copy.deepcopy(ref)
    ours.__class__ = Spider
    mu, vu = ours.gather(idx)
    f, vf, gu, hu, wpart = ours.linearise(mu, vu)
    lf, lv = ours.logz_grads(y, f, vf, ours.b / ours.a)
    want = ADFModel.weight_site_sums(ref, lf, lv, ref.linearise(mu, vu)[4])
    for block in (1, 100, 10 ** 6):
        ours.skipped = 0
        got = ours.weight_site_sums(lf, lv, wpart, block=block)
        for a, b in zip(got, want):
            assert torch.allclose(a, b, rtol=1e-12, atol=1e-12)
        assert ours.skipped == ref.skipped > 0
