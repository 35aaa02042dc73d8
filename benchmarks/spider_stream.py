"""Throughput and memory of the SPIDER streaming update: the authors' sequential (entry-by-entry) mode,
compiled and in Python (bit-identical results), and the vectorized variant.

Data: a SYNTHETIC stream (random indices into an ACC-shaped 3000 x 150 x 30000 tensor, standardised
Gaussian targets) — throughput does not depend on the values, and synthetic data keeps this a pure
speed measurement. Model: SPIDER, R = 8, 2 x 50 ReLU, float64, spike-and-slab EP after every batch.
Timed: `process_batch` only (derivatives, moment matching, site combination, EP); no evaluation.
Rates are entries per CPU-second of this process (one torch thread), so other jobs on the machine
inflate wall time but not these numbers; `full_acc_update_min` = 1,128,064 ACC stream entries at that rate.
Memory: the posterior state is fixed-size (factor tables + weights); peak RSS is read after growing
stream prefixes to show it does not grow with stream length.

  python benchmarks/spider_stream.py            # ~1 min on one loaded core (the previous formulation: ~3 min)
  python benchmarks/spider_stream.py --quick    # seconds

Writes results/benchmarks/spider_stream[-quick].json, which `python -m reprorec.papers.spider.report` renders.
(results/benchmarks/spider_stream-before.json is an older version of this script run from commit c85f38b,
before the vectorized update was factored; wall-clock rates.)
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from reprorec.records import code_state, environment, hardware  # noqa: E402
from reprorec.papers.spider.models import Spider  # noqa: E402

SHAPE = (3000, 150, 30000)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def synthetic_stream(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    idx = torch.stack([torch.randint(0, d, (n,), generator=g) for d in SHAPE], 1)
    return idx, torch.randn(n, generator=g, dtype=torch.float64)


ACC_ENTRIES = 1_128_064  # the full ACC stream (564,046 non-zeros + as many sampled zeros)


def measure(mode: str, batch: int, n_entries: int, checkpoints: int = 4) -> dict:
    """mode: vectorized | sequential (compiled when available) | sequential-python (the reference loop)."""
    model = Spider(SHAPE, 8, False, seed=0)
    idx, y = synthetic_stream(n_entries)
    seq, native_ok = mode.startswith("sequential"), mode != "sequential-python"

    def step(sl):
        model.process_batch(idx[sl], y[sl], seq, native_ok=native_ok)

    step(slice(0, batch))  # warm-up (not timed; builds the compiled update on first use)
    seen, t_total, rss, per = 0, 0.0, [], []
    n_b = n_entries // batch
    marks = {max(1, round(n_b * (j + 1) / checkpoints)) for j in range(checkpoints)}
    for b in range(n_b):
        sl = slice(b * batch, (b + 1) * batch)
        t0 = time.process_time()
        step(sl)
        t_total += time.process_time() - t0
        seen += batch
        if b + 1 in marks:
            rss.append([seen, round(peak_rss_mb(), 1)])
            per.append([seen, round(seen / t_total, 1)])
    return {"mode": mode, "batch_size": batch, "entries": seen, "cpu_seconds": round(t_total, 3),
            "entries_per_s": round(seen / t_total, 1),
            "full_acc_update_min": round(ACC_ENTRIES / (seen / t_total) / 60, 1), "entries_per_s_by_prefix": per,
            "peak_rss_mb_by_prefix": rss, "posterior_state_mb": round(model.memory_bytes() / 2 ** 20, 2)}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    scale = 1 if not args.quick else 0.05
    rows = [measure("vectorized", b, int(n * scale)) for b, n in [(128, 25600), (512, 25600)]]
    rows.append(measure("sequential-python", 128, int(2560 * scale) or 128))
    rows.append(measure("sequential", 128, int(12800 * scale) or 128))
    vec, seq_py, seq = rows[0]["entries_per_s"], rows[2]["entries_per_s"], rows[3]["entries_per_s"]
    rec = {"benchmark": "spider_stream", "data": "synthetic (ACC-shaped indices, Gaussian targets)",
           "model": {"rank": 8, "hidden": [50, 50], "dtype": "float64", "shape": SHAPE}, "rows": rows,
           "speedup_vectorized_over_sequential_b128": round(vec / seq, 2),
           "speedup_compiled_over_python_sequential": round(seq / seq_py, 2),
           "code": code_state(), "env": environment(), "hardware": hardware(),
           "note": "one torch thread on a shared 2-core machine; rates per CPU-second of this process"}
    out = REPO / "results" / "benchmarks" / f"spider_stream{'-quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rec, indent=2) + "\n")
    for r in rows:
        print(f"{r['mode']:>17} B={r['batch_size']:<4} {r['entries_per_s']:>9.1f} entries/CPU-s "
              f"(full ACC {r['full_acc_update_min']} min)  peak RSS {r['peak_rss_mb_by_prefix']}")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
