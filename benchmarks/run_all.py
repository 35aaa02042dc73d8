"""The one entry point for the speed ratios against the peers: runs each benchmark (each writes its record
through benchmarks/record.py) and prints every ratio with its per-rep spread.

  python benchmarks/run_all.py [--kge-reps 3] [--ctr-reps 5] [--skip kge ctr ctr-profile]
  python benchmarks/run_all.py --report           # only print the ratios of the committed records

Peers live in their own venvs outside the repo: PyKEEN (--pykeen-python, default /work/peers/pykeen/bin/python)
and FuxiCTR + DeepCTR-Torch (--ctr-peers-python, default /work/peers/fuxictr/bin/python). Run it from a clean
worktree at a main commit with one thread: the records refuse uncommitted code.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results" / "benchmarks"


def ratios() -> list[str]:
    sys.path.insert(0, str(HERE))
    from record import fmt_ratio

    lines = ["| benchmark | what | ratio (ratio of medians [per-rep range]) | load average (median, range) | commit |",
             "|---|---|---:|---|---|"]
    for name, key in (("kge_parity", "throughput"), ("ctr_throughput", "vs_fuxictr")):
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        rec = json.loads(path.read_text())
        if rec.get("schema") is None:
            continue  # a record from before benchmarks/record.py
        load = rec.get("load", {})
        for what, e in rec["summary"].items():
            peer = f" vs PyKEEN {e['peer_model']}" if "peer_model" in e else " vs FuxiCTR"
            lines.append(f"| {name} | {what}{peer} | {fmt_ratio(e.get(key, {}))} | {load.get('median')} "
                         f"({load.get('min')}–{load.get('max')}) | {rec['code']['commit'][:10]} |")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--kge-reps", type=int, default=3)
    ap.add_argument("--ctr-reps", type=int, default=5)
    ap.add_argument("--skip", nargs="*", default=[], choices=["kge", "ctr", "ctr-profile"])
    ap.add_argument("--pykeen-python", default="/work/peers/pykeen/bin/python")
    ap.add_argument("--ctr-peers-python", default="/work/peers/fuxictr/bin/python")
    args = ap.parse_args(argv)
    py = sys.executable
    if not args.report:
        steps = {"kge": [py, str(HERE / "kge_parity.py"), "--reps", str(args.kge_reps),
                         "--pykeen-python", args.pykeen_python],
                 # criteo-synth (5.6M embedding rows) is left to an explicit ctr_throughput.py run: ML-100K only here
                 "ctr": [py, str(HERE / "ctr_throughput.py"), "--reps", "0", "--ml-reps", str(args.ctr_reps),
                         "--peers-python", args.ctr_peers_python],
                 "ctr-profile": [py, str(HERE / "ctr_throughput.py"), "profile"]}
        for name, cmd in steps.items():
            if name not in args.skip:
                print(f"== {name}: {' '.join(cmd)}", flush=True)
                subprocess.run(cmd, check=True)
    print("\n".join(ratios()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
