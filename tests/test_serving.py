"""CPU-GPU hybrid serving: quantization bounds, fp32 parity with training, bundle versions, pipelining."""
from __future__ import annotations

import json

import pytest
import torch

from reprorec.serving import BundleVersionError, CPUTable, HybridServer, export_bundle, load_bundle
from reprorec.serving.models import TablesMLP
from reprorec.serving.quantize import dequantize_rows, error_bound, quantize_rows


def test_int8_row_by_hand():
    # row [0, 1, 2.55]: offset 0, scale 2.55/255 = 0.01; 1.0 -> code 100 exactly; 2.55 -> 255
    w = torch.tensor([[0.0, 1.0, 2.55], [-1.0, -1.0, -1.0]])
    codes, scale, offset = quantize_rows(w, "int8")
    assert codes[0].tolist() == [0, 100, 255]
    assert scale[0].item() == pytest.approx(0.01) and offset[0].item() == 0.0
    assert codes[1].tolist() == [0, 0, 0] and offset[1].item() == -1.0  # constant row is exact
    back = dequantize_rows(codes, scale, offset, "int8", 3)
    assert torch.allclose(back, w, atol=1e-6)


def test_int4_packing_by_hand():
    # row [0, 1.5, 0.1, 0.2, 0.7]: offset 0, scale 1.5/15 = 0.1 -> codes [0, 15, 1, 2, 7] (+ pad 0)
    w = torch.tensor([[0.0, 1.5, 0.1, 0.2, 0.7]])
    codes, scale, offset = quantize_rows(w, "int4")
    assert codes.shape == (1, 3) and codes.dtype == torch.uint8
    assert codes[0].tolist() == [0 | (15 << 4), 1 | (2 << 4), 7]
    assert torch.allclose(dequantize_rows(codes, scale, offset, "int4", 5), w, atol=1e-6)


@pytest.mark.parametrize("precision,levels", [("int8", 255), ("int4", 15)])
def test_quantization_error_bounded_per_row(precision, levels):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(200, 17, generator=g) * torch.rand(200, 1, generator=g) * 3
    table = CPUTable.from_weight(w, precision)
    back = table.dense_weight()
    bound = (w.max(1).values - w.min(1).values) / levels / 2  # s_r / 2, by hand
    assert torch.allclose(error_bound(w, precision), bound)
    err = (back - w).abs().max(1).values
    assert (err <= bound + 1e-6).all()
    assert (err > bound / 4).float().mean() > 0.9  # the bound is tight, not vacuous
    # memory: fp32 rows 68 B; int8 17 + 8 B; int4 9 + 8 B
    assert table.nbytes == 200 * ((17 if precision == "int8" else 9) + 8)


def _model(seed=0):
    torch.manual_seed(seed)
    return TablesMLP([50, 30, 7], dim=6, n_numeric=2, hidden=[16])


def _batches(n=4, size=32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [{"cat0": torch.randint(0, 50, (size,), generator=g), "cat1": torch.randint(0, 30, (size,), generator=g),
             "cat2": torch.randint(0, 7, (size,), generator=g), "num": torch.randn(size, 2, generator=g)}
            for _ in range(n)]


def test_fp32_serving_matches_training_model(tmp_path):
    model = _model().eval()
    export_bundle(model, tmp_path / "b", "fp32")
    dense, tables, keys, _ = load_bundle(tmp_path / "b")
    server = HybridServer(dense, tables, keys, device="cpu")
    for b in _batches():
        with torch.no_grad():
            ref = model(b)
        assert torch.allclose(server.score(b), ref, atol=1e-5)


def test_pipelined_equals_unpipelined_and_quantized_close(tmp_path):
    model = _model().eval()
    batches = _batches(6)
    for precision in ("fp32", "int8", "int4"):
        export_bundle(model, tmp_path / precision, precision)
        server = HybridServer(*load_bundle(tmp_path / precision)[:3])
        seq, _ = server.serve(batches, pipelined=False)
        pipe, lat = server.serve(batches, pipelined=True)
        assert len(lat) == len(batches) and all(t > 0 for t in lat)
        for a, b in zip(seq, pipe):
            assert torch.equal(a, b)


def test_bundle_version_mismatch_refused(tmp_path):
    a, b = _model(0), _model(1)
    va = export_bundle(a, tmp_path / "a")
    vb = export_bundle(b, tmp_path / "b")
    assert va != vb
    # a deployment that copied the dense part of export b next to the tables of export a
    (tmp_path / "a" / "dense.pt").write_bytes((tmp_path / "b" / "dense.pt").read_bytes())
    man = json.loads((tmp_path / "a" / "manifest.json").read_text())
    man["dense"] = json.loads((tmp_path / "b" / "manifest.json").read_text())["dense"]  # sha256 consistent
    (tmp_path / "a" / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(BundleVersionError, match="version mismatch.*the dense model.*same export"):
        load_bundle(tmp_path / "a")
    with pytest.raises(BundleVersionError, match="requested"):
        load_bundle(tmp_path / "b", expected_version=va)
    assert load_bundle(tmp_path / "b", expected_version=vb)[3] == vb
