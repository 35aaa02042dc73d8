"""The MF-LET proxy model for the serving benchmark: train arm (5) and hand back model + request batches."""
from __future__ import annotations

from dataclasses import replace

import torch

from reprorec import config as C
from reprorec.registry import find_config
from reprorec.train import RunContext

from .methods import ARMS, train_arm


def trained_proxy(dataset: str, seed: int = 0, profile: str = "full", run_dir: str = "runs/serving-proxy"):
    """Train 'both' (finetuned) on ``dataset``; -> (model, make_batches(size, n), test window, info)."""
    from pathlib import Path

    cfg = C.resolve(C.load(find_config("mflet", dataset, "both")), profile)
    ctx = replace(RunContext(), seed=seed, run_dir=Path(run_dir), progress=False)
    torch.manual_seed(seed)
    model, data, result = train_arm(cfg, ctx, ARMS["both"], frozen=False)
    model.eval()
    test = {k: v for k, v in data.windows["test"].items()}
    n = len(test["y"])

    def make_batches(size: int, count: int):
        out = []
        for k in range(count):
            idx = (torch.arange(size) + k * size) % n  # request batches cycle through the test window
            out.append({key: v[idx] for key, v in test.items()})
        return out

    info = {"dataset": dataset, "seed": seed, "profile": profile, "metrics": result.metrics,
            "tables": {name: list(t.weight.shape) for name, t in model.tables.items()}}
    return model, make_batches, test, info
