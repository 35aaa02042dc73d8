"""Command-line options that shape how a run trains (resume, accelerator, devices, precision, progress),
shared by `reprorec run/reproduce/verify` and `reprorec tune` without either importing the other."""
from __future__ import annotations

import argparse
import os
import sys


def add_trainer_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--resume", action="store_true", help="continue a killed run from its last checkpoint")
    g.add_argument("--wandb", action="store_true", help="also log to Weights & Biases (offline unless configured)")
    g.add_argument("--accelerator", default=os.environ.get("REPRO_ACCELERATOR", "cpu"), help="Lightning accelerator (cpu, gpu, auto)")
    g.add_argument("--devices", default="1", help="Lightning devices (e.g. 1, 4, auto)")
    g.add_argument("--strategy", default="auto", help="Lightning strategy (e.g. ddp)")
    g.add_argument("--num-nodes", type=int, default=1)
    g.add_argument("--precision", default=None, help="Lightning precision, e.g. bf16-mixed (fp32 is the reference)")
    g.add_argument("--no-progress", action="store_true", help="hide progress bars")


def context_from_args(args):
    from .train import RunContext

    devices = int(args.devices) if str(args.devices).isdigit() else args.devices
    return RunContext(resume=args.resume, accelerator=args.accelerator, devices=devices, strategy=args.strategy,
                      num_nodes=args.num_nodes, precision=args.precision, wandb=args.wandb,
                      progress=not args.no_progress and sys.stderr.isatty())
