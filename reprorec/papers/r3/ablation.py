"""λ sweep for R3: the same r3 config per category with only ``model.lam`` changed.

λ = 0 is NeuMF (bit-identical, see tests/test_r3.py), so the sweep takes its λ = 0 point from the
neumf records and its default-λ point from the r3 records instead of re-running them. Sweep records
are ordinary result records under results/r3/<dataset>/r3/<profile>/ablation/, marked with
``trial = {"study": "r3-lambda-sweep", ...}`` so that the leaderboard (which skips trials) does not
mix them into the r3 row; reprorec/papers/r3/report.py plots them.

    python -m reprorec.papers.r3.ablation --profile full --seeds 3 [--lams 0.1 10] [--datasets ...]
"""
from __future__ import annotations

import argparse

from reprorec import config as C
from reprorec import registry
from reprorec.experiment import run_experiment

DEFAULT_LAMS = (0.1, 10.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", default="quick", choices=["quick", "full"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--lams", type=float, nargs="+", default=list(DEFAULT_LAMS))
    ap.add_argument("--datasets", nargs="*", default=None)
    args = ap.parse_args(argv)
    registry.papers()
    configs = [(p, C.load(p)) for p in registry.config_files("r3")]
    configs = [(p, c) for p, c in configs if c["method"] == "r3" and (not args.datasets or c["dataset"] in args.datasets)]
    if args.datasets:  # in the order given: cheap categories first when time is short
        configs.sort(key=lambda pc: args.datasets.index(pc[1]["dataset"]))
    for path, cfg in configs:
        for lam in args.lams:
            for seed in range(args.seeds):
                out = run_experiment(path, profile=args.profile, seed=seed, overrides={"model": {"lam": lam}},
                                     kind="ablation", extra={"trial": {"study": "r3-lambda-sweep", "lam": lam}})
                print(f"{cfg['dataset']} lam={lam:g} seed={seed}: {out.status} "
                      f"test mse={out.record['metrics']['test']['mse']:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    from reprorec.cli import quiet_lightning

    quiet_lightning()
    raise SystemExit(main())
