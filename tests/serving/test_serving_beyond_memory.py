"""The beyond-memory serving benchmark end to end on a tiny synthetic set: the record says what the budget
refused, what was pinned, and the modes it timed against the ranker without large tables."""
from __future__ import annotations

import json

import pytest


@pytest.mark.slow  # the benchmark end to end, with its figure
@pytest.mark.usefixtures("one_thread")
def test_tiny_synthetic_run_writes_a_complete_record(tmp_path):
    from benchmarks.serving_beyond_memory import figure, main

    main(["--device", "cpu", "--rows", "3000", "--large-tables", "2", "--dim", "8", "--small-fields", "2", "--small-card", "10",
          "--hidden", "16", "--batch-sizes", "8", "32", "--n-batches", "3", "--repeats", "1",
          "--budget-mib", "0.05", "--out", str(tmp_path), "--allow-dirty"])
    rec = json.loads((tmp_path / "serving-beyond-memory-cpu.json").read_text())
    (size,) = rec["summary"]["sets"][0]["sizes"]
    assert size["int4_table_bytes"] == 2 * 3000 * (4 + 8) and size["fp32_table_bytes"] == 2 * 3000 * 8 * 4
    assert not size["whole_model_fits_budget"] and not size["int4_tables_fit_budget"]  # tables beyond the budget
    assert size["device_resident_bytes"] <= 0.05 * 2**20
    assert not size["staging_pinned"] and "CUDA" in size["staging_note"]
    modes = {r["mode"] for r in size["rows"]}
    assert modes == {"no-large-tables", "hybrid-int4", "hybrid-int4 pipelined", "hybrid-int4-service",
                     "hybrid-int4-service pipelined"}
    assert all(r["p99_ms"] >= r["p50_ms"] > 0 and r["qps"] > 0 for r in size["rows"])
    assert rec["settings"]["ours_thresholds"]["what"].startswith("our own")
    assert len(rec["reps"]) == 2 * 5 and {r["impl"] for r in rec["reps"]} == modes  # 2 batch sizes x 5 modes
    assert all(r["cpu_s"] > 0 and "loadavg_1min_start" in r for r in rec["reps"])
    assert "Serving beyond the device budget on cpu" in (tmp_path / "serving-beyond-memory-cpu.md").read_text()
    figure(rec, tmp_path / "fig.png")
    assert (tmp_path / "fig.png").stat().st_size > 0
