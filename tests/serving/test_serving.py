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


# --- staging buffers, memory budget, lookup service in another process -------------------------------

from reprorec.serving import (LayoutError, MemoryBudgetError, RemoteLookupError, RemoteTables,  # noqa: E402
                              StagingBuffer, fits_on_device)
from reprorec.serving.remote import synthetic_tables  # noqa: E402

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device: pinned staging, the copy stream and the device budget "
                                       "are only exercised on a GPU")


def test_staging_on_cpu_is_preallocated_unpinned_and_bounded():
    s = StagingBuffer({"a": ((3,), torch.float32), "b": ((), torch.int64)}, max_rows=10)
    assert not s.pinned and "pinned memory needs CUDA" in s.why_not_pinned and s.device_bytes == 0
    v = s.host_views(0, 4)
    v["a"].fill_(1.5)
    v["b"].copy_(torch.arange(4))
    d = s.device_views(0, 4)
    assert d["a"].data_ptr() == v["a"].data_ptr() and torch.equal(d["b"], torch.arange(4))  # no copy on CPU
    assert s.used_bytes(4) == 64 + 64 and s.used_bytes(10) == 128 + 128  # regions packed, 64-byte aligned
    assert s.host_views(1, 4)["a"].data_ptr() != v["a"].data_ptr()  # two slots
    with pytest.raises(LayoutError, match="exceeds the staging capacity"):
        s.host_views(0, 11)


def test_server_reuses_its_staging_memory(tmp_path):
    model = _model().eval()
    export_bundle(model, tmp_path / "b", "int4")
    server = HybridServer(*load_bundle(tmp_path / "b")[:3], max_batch=32)
    batches = _batches(4)
    server.serve(batches, pipelined=True)
    ptrs = [t.data_ptr() for t in server.staging.host]
    server.serve(batches, pipelined=True)
    assert [t.data_ptr() for t in server.staging.host] == ptrs  # nothing allocated per request
    with pytest.raises(LayoutError):
        server.score(_batches(1, size=33)[0])


def test_memory_budget_enforced(tmp_path):
    model = _model().eval()
    dense_bytes = sum(p.numel() * 4 for n, p in model.named_parameters() if not n.startswith("tables."))
    table_bytes = sum(e.weight.numel() * 4 for e in model.tables.values())
    fits, need = fits_on_device(model, dense_bytes + table_bytes // 2)
    assert not fits and need == dense_bytes + table_bytes  # the whole model exceeds this budget ...
    export_bundle(model, tmp_path / "b", "int4")
    dense, tables, keys, _ = load_bundle(tmp_path / "b")
    server = HybridServer(dense, tables, keys, memory_budget=dense_bytes + table_bytes // 2)  # ... hybrid fits
    assert server.device_resident_bytes == dense_bytes
    server.score(_batches(1)[0])
    with pytest.raises(MemoryBudgetError, match="budget"):
        HybridServer(dense, tables, keys, memory_budget=dense_bytes - 1)


@pytest.mark.slow  # a service in its own Python process (imports torch)
def test_remote_lookup_matches_in_process_and_stops(tmp_path):
    model = _model().eval()
    batches = _batches(5)
    for precision in ("fp32", "int4"):
        version = export_bundle(model, tmp_path / precision, precision)
        dense, tables, keys, _ = load_bundle(tmp_path / precision)
        local = HybridServer(dense, tables, keys)
        ref, _ = local.serve(batches, pipelined=False)
        with RemoteTables({"bundle": str(tmp_path / precision)}, max_requests=100, idle_timeout=30) as remote:
            assert remote.version == version
            server = HybridServer(dense, None, keys, remote=remote)
            seq, _ = server.serve(batches, pipelined=False)
            pipe, _ = server.serve(batches, pipelined=True)
            with pytest.raises(RemoteLookupError, match="refusing to mix exports"):
                remote.gather_into({"f0": torch.tensor([1])}, {"f0": {p: torch.empty((1, *s), dtype=d) for p, (s, d)
                                                                      in remote.parts("f0").items()}}, version="other")
        assert remote.proc.returncode == 0  # the service exited when told to stop
        for a, b, c in zip(ref, seq, pipe):
            assert torch.equal(a, b) and torch.equal(a, c)


@pytest.mark.slow  # a service in its own Python process (imports torch)
def test_remote_service_bounded_by_request_count():
    spec = {"rows": {"f0": 100}, "dim": 4, "precision": "int4", "seed": 0}
    remote = RemoteTables({"synthetic": spec}, max_requests=2, idle_timeout=30)
    out = {"f0": {p: torch.empty((3, *s), dtype=d) for p, (s, d) in remote.parts("f0").items()}}
    for _ in range(2):
        remote.gather_into({"f0": torch.tensor([0, 5, 99])}, out)
    tables, _ = synthetic_tables(spec)
    assert torch.equal(out["f0"]["codes"], tables["f0"].codes[[0, 5, 99]])
    assert remote.proc.wait(timeout=30) == 0  # served its 2 requests, then exited by itself
    with pytest.raises((ConnectionError, OSError, RemoteLookupError)):
        remote.gather_into({"f0": torch.tensor([1])}, out)
    remote.close()


@pytest.mark.slow  # a service in its own Python process (imports torch)
def test_remote_service_listens_on_loopback_only():
    import socket

    remote = RemoteTables({"synthetic": {"rows": {"f0": 10}, "dim": 2, "precision": "fp32", "seed": 0}},
                          max_requests=1, idle_timeout=30)
    assert remote.sock.getpeername()[0] == "127.0.0.1"
    host = socket.gethostbyname(socket.gethostname())
    if host != "127.0.0.1" and not host.startswith("127."):
        with pytest.raises(OSError):
            socket.create_connection((host, remote.port), timeout=2).close()
    remote.close()


def test_synthetic_tables_deterministic_and_never_fp32_sized():
    a = CPUTable.random(1000, 7, "int4", seed=3)
    b = CPUTable.random(1000, 7, "int4", seed=3)
    assert torch.equal(a.codes, b.codes) and a.codes.shape == (1000, 4) and (a.codes[:, -1] >> 4 == 0).all()
    assert a.nbytes == 1000 * (4 + 8)
    rows = a.lookup(torch.tensor([0, 999]))
    assert rows.shape == (2, 7) and rows.abs().max() < 0.2


@needs_cuda
def test_cuda_staging_is_pinned_and_scores_match_cpu(tmp_path):
    model = _model().eval()
    batches = _batches(6)
    export_bundle(model, tmp_path / "b", "int4")
    dense, tables, keys, _ = load_bundle(tmp_path / "b")
    ref, _ = HybridServer(dense, tables, keys, "cpu").serve(batches, pipelined=False)
    dense, tables, keys, _ = load_bundle(tmp_path / "b")
    server = HybridServer(dense, tables, keys, "cuda", max_batch=32)
    got, _ = server.serve(batches, pipelined=True)
    assert server.staging.pinned and all(t.is_pinned() for t in server.staging.host)
    for a, b in zip(ref, got):
        assert torch.allclose(a, b, atol=1e-4)


@needs_cuda
def test_cuda_budget_counts_staging(tmp_path):
    model = _model().eval()
    export_bundle(model, tmp_path / "b", "int4")
    dense, tables, keys, _ = load_bundle(tmp_path / "b")
    dense_bytes = sum(p.numel() * p.element_size() for p in dense.parameters())
    server = HybridServer(dense, tables, keys, "cuda", memory_budget=dense_bytes + 1, max_batch=32)
    with pytest.raises(MemoryBudgetError):
        server.score(_batches(1)[0])  # the device staging slots do not fit the budget any more
