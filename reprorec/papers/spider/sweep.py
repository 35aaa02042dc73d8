"""Runs outside the headline configs, written as ordinary result records by the same path.

  python -m reprorec.papers.spider.sweep prefix --seeds 2      all methods on the first 25,600 stream entries of
                                                      acc, dblp, post-movielens (profile `prefix`)
  python -m reprorec.papers.spider.sweep grid --seeds 1        SPIDER rank sweep R in {3,5,8,10} at batch 128 and
                                                      batch sweep {64,128,256,512} at R=8 (profile
                                                      `sweep-R<r>-B<b>`, so every cell is its own
                                                      leaderboard section) on --datasets (default alog)
  python -m reprorec.papers.spider.sweep table                 markdown table of the grid records (for the README)

Records land in results/spider/<dataset>/<method>/<profile>/; existing ones are skipped.
"""
from __future__ import annotations

import argparse
import statistics
from collections import defaultdict

from reprorec.experiment import run_experiment
from reprorec.records import iter_records
from reprorec.registry import PAPERS_DIR
from reprorec.train import set_threads

CONFIGS = PAPERS_DIR / "spider" / "configs"
PREFIX_METHODS = ["spider", "spider-gauss", "post", "nn-adam", "cp-offline"]
RANKS, BATCHES = [3, 5, 8, 10], [64, 128, 256, 512]


def grid_cells():
    return [(r, 128) for r in RANKS] + [(8, b) for b in BATCHES if b != 128]


def run_prefix(seeds: int, datasets: list[str]) -> None:
    for seed in range(seeds):
        for d in datasets:
            for m in PREFIX_METHODS:
                out = run_experiment(CONFIGS / f"{d}-{m}.yaml", profile="prefix", seed=seed)
                print(out.name, out.status, out.record["metrics"].get("test"), flush=True)


def run_grid(seeds: int, datasets: list[str], method: str = "spider") -> None:
    for seed in range(seeds):
        for d in datasets:
            for r, b in grid_cells():
                over = {"model": {"rank": r}, "train": {"batch_size": b}}
                out = run_experiment(CONFIGS / f"{d}-{method}.yaml", profile=f"sweep-R{r}-B{b}", seed=seed,
                                     overrides=over)
                print(out.name, out.status, out.record["metrics"].get("test"), flush=True)


def table() -> str:
    cells = defaultdict(list)
    for rec in iter_records():
        if rec["paper"] == "spider" and str(rec["profile"]).startswith("sweep-"):
            metric = rec["config"]["metric"]["name"]
            cells[(rec["dataset"], rec["method"], rec["profile"], metric)].append(rec["metrics"]["test"][metric])
    lines = ["| dataset | method | setting | test metric (mean ± std) | n seeds |", "|---|---|---|---|---|"]
    for (d, m, p, metric), vals in sorted(cells.items()):
        sd = f" ± {statistics.stdev(vals):.4f}" if len(vals) > 1 else ""
        lines.append(f"| {d} | {m} | {p.removeprefix('sweep-')} | {metric} {statistics.mean(vals):.4f}{sd} | {len(vals)} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="SPIDER prefix runs and rank/batch sweeps")
    ap.add_argument("what", choices=["prefix", "grid", "table"])
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--datasets", nargs="*")
    args = ap.parse_args(argv)
    set_threads()
    if args.what == "prefix":
        run_prefix(args.seeds, args.datasets or ["dblp", "post-movielens", "acc"])
    elif args.what == "grid":
        run_grid(args.seeds, args.datasets or ["alog"])
    else:
        print(table())


if __name__ == "__main__":
    main()
