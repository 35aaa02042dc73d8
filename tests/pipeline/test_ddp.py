"""Lightning DDP on CPU (gloo): batches are sharded without padding, one record is written, and its
metrics are exactly those of the best checkpoint evaluated in a single process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from reprorec import lightning_glue as glue

REPO = Path(__file__).resolve().parents[2]


def _batches(monkeypatch, n, batch_size, shuffle, world):
    out = []
    for rank in range(world):
        monkeypatch.setattr(glue, "_rank_world", lambda r=rank: (r, world))
        sampler = glue.EpochBatchSampler(n, batch_size, shuffle, seed=3)
        sampler.set_epoch(2)
        got = list(sampler)
        assert len(got) == len(sampler)
        out.append(got)
    return out


def test_evaluation_shards_score_every_row_exactly_once(monkeypatch):
    shards = _batches(monkeypatch, n=103, batch_size=10, shuffle=False, world=3)
    rows = torch.cat([b for shard in shards for b in shard])
    assert sorted(rows.tolist()) == list(range(103))  # no row twice (a DistributedSampler pads), none lost
    assert [len(s) for s in shards] == [4, 4, 3]


def test_training_shards_are_disjoint_and_equally_long(monkeypatch):
    shards = _batches(monkeypatch, n=103, batch_size=10, shuffle=True, world=3)
    assert [len(s) for s in shards] == [3, 3, 3]  # 11 batches: equal step counts, or the all-reduce hangs
    rows = torch.cat([b for shard in shards for b in shard]).tolist()
    assert len(rows) == len(set(rows)) == 90
    monkeypatch.setattr(glue, "_rank_world", lambda: (0, 1))
    single = glue.EpochBatchSampler(103, 10, True, seed=3)
    single.set_epoch(2)
    assert [b.tolist() for b in list(single)[0::3][:3]] == [b.tolist() for b in shards[0]]  # same global order


@pytest.mark.slow
def test_ddp_run_writes_one_record_with_exact_metrics(tmp_path):
    env = {**os.environ, "REPRO_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "reprorec.cli", "run", "baselines", "biased-mf", "--dataset", "ml-100k",
                           "--seed", "0", "--profile", "quick", "--set", "train.max_epochs=2", "--accelerator", "cpu",
                           "--devices", "2", "--strategy", "ddp", "--no-progress"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = list(Path(os.environ["REPRO_RESULTS_DIR"]).rglob("*.json"))
    assert len(records) == 1 and proc.stdout.count('"record"') == 1
    recorded = json.loads(records[0].read_text())["metrics"]["test"]

    import lightning as L

    import reprorec.papers.baselines.methods as B
    from reprorec import config as C
    from reprorec.data import movielens
    from reprorec.lightning_glue import SupervisedModule
    from reprorec.rating import BiasedMF, RatingData

    cfg = C.resolve(C.load(REPO / "reprorec/papers/baselines/configs/ml-100k-biased-mf.yaml"), "quick", ["train.max_epochs=2"])
    table = movielens.load_ratings("ml-100k")
    data = RatingData.build(table.frame, B._split(cfg, len(table.frame), 0, table.frame))
    module = SupervisedModule(BiasedMF(data.n_users, data.n_items, int(C.get(cfg, "model.dim")), data.global_mean),
                              "regression")
    best = next(Path(os.environ["REPRO_RUNS_DIR"]).rglob("best.ckpt"))
    module.load_state_dict(torch.load(best, weights_only=False)["state_dict"])
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    single = trainer.test(module, B._loaders(data.tensors, cfg, 0)["test"], verbose=False)[0]
    assert {k: single[f"test/{k}"] for k in recorded} == recorded


def test_precision_and_world_size_make_a_separate_experiment():
    from reprorec import config as C
    from reprorec.experiment import execution_settings
    from reprorec.train import RunContext

    assert execution_settings(RunContext()) == {} == execution_settings(RunContext(precision="32-true"))
    cfg = C.resolve(C.load(REPO / "reprorec/papers/baselines/configs/ml-100k-biased-mf.yaml"), "quick", [])
    assert C.config_hash(cfg) == "05437ca5ce25"  # the committed quick records' hash: reference runs keep theirs
    for ctx in (RunContext(precision="bf16-mixed"), RunContext(devices=2, strategy="ddp")):
        assert C.config_hash({**cfg, "execution": execution_settings(ctx)}) != "05437ca5ce25"
