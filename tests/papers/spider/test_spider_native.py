"""The compiled sequential (authors', entry-by-entry) SPIDER update is bit-identical to the Python
loop it replaces: same posterior means and variances, noise posterior, EP sites and skip counts,
compared with torch.equal (no tolerance), on valid and on invalid (skipped) updates."""
from __future__ import annotations

import copy

import pytest
import torch

from reprorec.papers.spider import native
from reprorec.papers.spider.models import Spider

D = torch.float64

needs_native = pytest.mark.skipif(native.module() is None, reason="no C++ toolchain: the Python path runs everywhere")


def stream(shape, n, binary, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    idx = torch.stack([torch.randint(0, d, (n,), generator=g) for d in shape], 1)
    y = (torch.rand(n, generator=g) < 0.3).to(D) if binary else torch.randn(n, generator=g, dtype=D) * scale
    return idx, y


def state(m: Spider):
    return [m.mw, m.vw, m.a, m.b, m.site_prec, m.site_h, *m.mu, *m.vu]


def run_both(model: Spider, idx, y, batch):
    py, nat = model, copy.deepcopy(model)
    for s in range(0, len(y), batch):
        py.process_batch(idx[s:s + batch], y[s:s + batch], True, native_ok=False)
        nat.process_batch(idx[s:s + batch], y[s:s + batch], True)
    return py, nat


def assert_identical(py: Spider, nat: Spider):
    for a, b in zip(state(py), state(nat), strict=True):
        assert a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b), float((a - b).abs().max())
    assert (py.skipped, py.ep_updated) == (nat.skipped, nat.ep_updated)


@needs_native
@pytest.mark.parametrize("binary", [False, True])
def test_native_sequential_update_is_bit_identical_to_the_python_loop(binary):
    shape = (40, 9, 60)  # rows repeat within a batch, so later entries see earlier entries' updates
    idx, y = stream(shape, 300, binary)
    py, nat = run_both(Spider(shape, 8, binary, seed=1), idx, y, batch=64)
    assert_identical(py, nat)
    assert py.ep_updated > 0 and not torch.equal(py.mu[0], Spider(shape, 8, binary, seed=1).mu[0])
    test = stream(shape, 50, binary, seed=9)[0]
    assert torch.equal(py.predict(test), nat.predict(test))


@needs_native
def test_native_matches_on_skipped_updates():
    """Huge weight variances and residuals make 1 - v c <= 0 for some weights (and the EP check fail):
    the masked branches run and skip exactly the same updates."""
    shape = (7, 6, 5)
    model = Spider(shape, 3, False, hidden=(6, 5), seed=2)
    model.vw[::7] = 50.0
    idx, y = stream(shape, 96, False, seed=3, scale=5.0)
    py, nat = run_both(model, idx, y, batch=16)
    assert py.skipped > 0
    assert_identical(py, nat)


def test_python_path_pinned():
    """The Python sequential loop (the reference the compiled one is checked against) still computes
    what it computed when the compiled path was introduced (values from commit cc32b73, 1e-12)."""
    shape = (40, 9, 60)
    idx, y = stream(shape, 200, False)
    m = Spider(shape, 8, False, seed=1)
    for s in range(0, 200, 50):
        m.process_batch(idx[s:s + 50], y[s:s + 50], True, native_ok=False)
    got = [float(m.mw.sum()), float(m.vw.sum()), float(m.mu[2].sum()), float(m.vu[0].sum()), float(m.b)]
    assert got == pytest.approx(PINNED, rel=1e-12, abs=1e-12)


PINNED = [-2.860926876207058, 4425.258217251927, 3.8316619502907976, 383.9999088790385, 89.80556225861767]
