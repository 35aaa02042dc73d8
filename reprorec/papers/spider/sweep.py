"""Runs outside the headline configs, written as ordinary result records by the same path.

  python -m reprorec.papers.spider.sweep prefix --seeds 2      all methods on the first 25,600 stream entries of
                                                      acc, dblp, post-movielens (profile `prefix`)
  python -m reprorec.papers.spider.sweep table                 markdown table of the rank/batch study records

The rank/batch sweep of spider-vec is the study configs/studies/rank-batch.yaml, the authors' own grid for spider
the study authors-protocol.yaml:
  reprorec sweep spider rank-batch --method spider-vec --dataset alog --seeds 5 --profile full
  reprorec sweep spider authors-protocol --dataset dblp --seeds 3 --profile full
(records in results/spider/<dataset>/<method>/full/study-<name>/). Existing records are skipped.
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
PREFIX_METHODS = ["spider-vec", "spider-gauss-vec", "post", "nn-adam", "cp-offline"]


def run_prefix(seeds: int, datasets: list[str]) -> None:
    for seed in range(seeds):
        for d in datasets:
            for m in PREFIX_METHODS:
                out = run_experiment(CONFIGS / f"{d}-{m}.yaml", profile="prefix", seed=seed)
                print(out.name, out.status, out.record["metrics"].get("test"), flush=True)


def table(study: str = "rank-batch") -> str:
    """Markdown table of one study's records (rank-batch, authors-protocol): one row per grid point."""
    cells = defaultdict(list)
    for rec in iter_records():
        if rec["paper"] == "spider" and (rec["config"].get("study") or {}).get("name") == study:
            metric = rec["config"]["metric"]["name"]
            point = rec["config"]["study"]["point"]
            setting = f"R{point['model.rank']}-B{point['train.batch_size']}"
            cells[(rec["dataset"], rec["method"], setting, metric)].append(rec["metrics"]["test"][metric])
    lines = ["| dataset | method | setting | test metric (mean ± std) | n seeds |", "|---|---|---|---|---|"]
    for (d, m, p, metric), vals in sorted(cells.items()):
        sd = f" ± {statistics.stdev(vals):.4f}" if len(vals) > 1 else ""
        lines.append(f"| {d} | {m} | {p} | {metric} {statistics.mean(vals):.4f}{sd} | {len(vals)} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="SPIDER prefix runs and the rank/batch study table")
    ap.add_argument("what", choices=["prefix", "table"])
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--datasets", nargs="*")
    args = ap.parse_args(argv)
    set_threads()
    if args.what == "prefix":
        run_prefix(args.seeds, args.datasets or ["dblp", "post-movielens", "acc"])
    else:
        print(table())


if __name__ == "__main__":
    main()
