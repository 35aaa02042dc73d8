"""Peak memory of reading a full-size CTR log through HF `datasets` vs reading it whole, as rows grow.

Data: a SYNTHETIC file in the Criteo DAC format (label, 13 integer fields with ~20 % empty, 26 hashed
categorical fields with ~5 % empty, tab separated), generated once with a fixed seed; the real 45.8M-row
train.txt is not on this machine. Each measurement is a fresh process (peak RSS = ru_maxrss of that
process) working on the first N rows:

  hf-stream   reprorec.data.hf.arrow_stream: parse in 16 MiB blocks, write each block through datasets'
              ArrowWriter, memory-map the Arrow file, then one pass over every column in 64k-row batches
              (label mean, non-empty count of every field) -- the path the full Criteo/Avazu logs take.
  whole       the same rows parsed by the same reader into one in-memory Arrow table, then the same pass.

  python benchmarks/hf_stream_rss.py                    # 0.25M..3M rows (~750 MB file), several minutes
  python benchmarks/hf_stream_rss.py --rows 100000 200000 --out /tmp/x.json   # seconds

Writes results/benchmarks/hf_stream_rss.json (through benchmarks/record.py) and hf_stream_rss.png (peak RSS
above the imports vs rows, per mode).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEFAULT_ROWS = [250_000, 500_000, 1_000_000, 2_000_000, 3_000_000]


def generate(path: Path, rows: int, seed: int = 0, chunk: int = 500_000) -> None:
    """Criteo-format rows, written by pyarrow's CSV writer (fast, no quoting, empty = missing)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(seed)
    vocab = pa.array([f"{v:08x}" for v in rng.integers(0, 2**32, 50_000, dtype=np.uint64)])
    with open(path, "wb") as f:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            cols = {"label": pa.array(rng.random(n) < 0.25, pa.bool_()).cast(pa.int8())}
            for i in range(1, 14):
                v = rng.zipf(1.5, n).astype(np.int64)
                cols[f"I{i}"] = pa.array(v, mask=rng.random(n) < 0.2)
            for i in range(1, 27):
                idx = pa.array(np.minimum(rng.zipf(1.2, n), 50_000) - 1, mask=rng.random(n) < 0.05)
                cols[f"C{i}"] = pa.DictionaryArray.from_arrays(idx, vocab).cast(pa.string())
            pacsv.write_csv(pa.table(cols), f, pacsv.WriteOptions(include_header=False, delimiter="\t",
                                                                  quoting_style="none"))


def child(mode: str, path: str, rows: int) -> dict:
    """One measurement (run in its own process)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from reprorec.data.criteo import iter_batches
    from reprorec.data.hf import arrow_stream

    base = _rss_now_mb()  # both modes import the same modules first: the difference is the data
    t0 = time.perf_counter()
    if mode == "hf-stream":
        with tempfile.TemporaryDirectory() as cache:
            ds = arrow_stream(Path(path), "criteo", max_rows=rows, cache=Path(cache), progress=False)
            out = _scan(ds.data.table.to_batches(max_chunksize=65536), pa, pc)
            out["arrow_bytes"] = sum(os.path.getsize(f["filename"]) for f in ds.cache_files)
            del ds
    else:
        batches, n = [], 0
        for b in iter_batches(Path(path), block_size=16 << 20):
            b = b.slice(0, rows - n) if n + b.num_rows > rows else b
            batches.append(b)
            n += b.num_rows
            if n >= rows:
                break
        table = pa.Table.from_batches(batches)
        out = _scan(table.to_batches(max_chunksize=65536), pa, pc)
        out["table_bytes"] = table.nbytes
    out.update(mode=mode, rows_asked=rows, seconds=round(time.perf_counter() - t0, 3),
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), base_rss_mb=base)
    out["peak_over_base_mb"] = round(out["peak_rss_mb"] - base, 1)
    return out


def _rss_now_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def _scan(batches, pa, pc) -> dict:
    n, clicks, filled = 0, 0, 0
    for b in batches:
        n += b.num_rows
        clicks += pc.sum(b.column(0)).as_py() or 0
        filled += sum(b.num_rows - b.column(i).null_count for i in range(1, b.num_columns))
    return {"rows": n, "click_rate": clicks / max(n, 1), "filled_cells": filled}


def figure(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    for mode, style in (("hf-stream", "o-"), ("whole", "s--")):
        pts = sorted((r["rows"], r["peak_over_base_mb"]) for r in results if r["impl"] == mode)
        ax.plot([p[0] / 1e6 for p in pts], [p[1] for p in pts], style, label=mode)
    ax.set_xlabel("rows (millions, synthetic Criteo format)")
    ax.set_ylabel("peak RSS above imports (MB)")
    ax.set_title("Reading a CTR log: datasets Arrow stream vs whole table", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=DEFAULT_ROWS)
    ap.add_argument("--modes", nargs="+", default=["hf-stream", "whole"])
    ap.add_argument("--out", default=str(REPO / "results" / "benchmarks" / "hf_stream_rss.json"))
    ap.add_argument("--allow-dirty", action="store_true", help="write the record from uncommitted code (a throwaway)")
    ap.add_argument("--child", nargs=3, metavar=("MODE", "FILE", "ROWS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], int(args.child[2]))))
        return 0
    from record import load_fields, write  # benchmarks/record.py, the one record writer

    reps = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "criteo-synth.txt"
        t0 = time.perf_counter()
        generate(src, max(args.rows))
        gen = {"rows": max(args.rows), "bytes": src.stat().st_size, "seconds": round(time.perf_counter() - t0, 1)}
        print(f"generated {gen}", flush=True)
        for i, rows in enumerate(sorted(args.rows)):
            for mode in args.modes:
                start = load_fields("start")
                p = subprocess.run([sys.executable, __file__, "--child", mode, str(src), str(rows)],
                                   capture_output=True, text=True, check=True,
                                   env={**os.environ, "OMP_NUM_THREADS": "1", "REPRO_PROGRESS": "0"})
                r = {"impl": mode, "rep": i, **json.loads(p.stdout.strip().splitlines()[-1]), **start,
                     **load_fields("end")}
                reps.append(r)
                print(f"{mode:9s} rows={r['rows']:>9,} peak RSS {r['peak_rss_mb']:8.1f} MB "
                      f"({r['peak_over_base_mb']:+.1f} over imports)  {r['seconds']:.1f}s", flush=True)
    summary = {}
    for mode in args.modes:
        pts = sorted((r["rows"], r["peak_over_base_mb"]) for r in reps if r["impl"] == mode)
        if len(pts) > 1:
            (x0, y0), (x1, y1) = pts[0], pts[-1]
            summary[mode] = {"rows": [x0, x1], "peak_over_base_mb": [y0, y1],
                             "mb_per_million_rows": round((y1 - y0) / ((x1 - x0) / 1e6), 1)}
    out = Path(args.out)
    path = write(out.stem, reps=reps, summary=summary, out_dir=out.parent, allow_dirty=args.allow_dirty,
                 settings={"rows": sorted(args.rows), "modes": args.modes, "block_size": "16 MiB", "scan_batch": 65536},
                 data={"kind": "synthetic Criteo DAC format (label, 13 int with ~20% empty, 26 hashed cat with ~5% "
                               "empty, Zipf ids)", "seed": 0, "file": gen})
    figure(reps, out.with_suffix(".png"))
    print(json.dumps(summary, indent=1))
    print(f"wrote {path} and {out.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
