"""Lightning glue shared by every supervised model: batches from in-memory tensors, and one
LightningModule that turns a plain ``nn.Module`` into a rating-regression or binary-CTR learner.

Models are plain ``nn.Module``s with ``forward(batch: dict) -> Tensor`` (a rating, or a logit for
binary tasks) and optionally ``regularization(batch) -> Tensor`` (added to the loss; e.g. L2 on the looked-up rows only).
"""
from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from .bootstrap import TestRows, enabled as bootstrap_enabled
from .metrics import binary_metrics, regression_metrics
from .registry import Resolver

OPTIMIZERS = Resolver("optimizer", {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD,
                                    "adagrad": torch.optim.Adagrad})


class TensorBatches(Dataset):
    """Indexed by a *list* of row ids, returns a dict of sliced tensors: batching is one index op."""

    def __init__(self, tensors: dict[str, torch.Tensor]):
        lengths = {len(t) for t in tensors.values()}
        if len(lengths) != 1:
            raise ValueError(f"all tensors need the same length, got {lengths}")
        self.tensors = tensors
        self.n = lengths.pop()

    def __len__(self):
        return self.n

    def __getitem__(self, idx):
        idx = torch.as_tensor(idx)
        return {k: t[idx] for k, t in self.tensors.items()}


def _rank_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class EpochBatchSampler(Sampler):
    """Batches of row ids; the shuffle of epoch e depends on (seed, e) only.

    Lightning calls ``set_epoch`` each epoch, so a run resumed from epoch e's checkpoint sees exactly
    the batches an uninterrupted run would.

    Under DDP (Lightning is told not to insert its own DistributedSampler, which would pad the last
    shard with repeated rows and so bias the evaluation metrics) rank r of w takes batches r, r+w, ...
    of the same global order. Evaluation shards may differ in size: every row is scored exactly once
    and torchmetrics gathers the states. Training shards are cut to the same number of batches on
    every rank (up to w-1 batches of an epoch's order are skipped), because a rank with an extra
    step would wait forever in the gradient all-reduce.
    """

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int = 0, drop_last: bool = False):
        self.n, self.batch_size, self.shuffle, self.seed, self.drop_last = n, batch_size, shuffle, seed, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.n, generator=g)
        else:
            order = torch.arange(self.n)
        stop = self.n - (self.n % self.batch_size if self.drop_last else 0)
        starts = range(0, stop, self.batch_size)
        rank, world = _rank_world()
        mine = starts[rank::world]
        if self.shuffle and world > 1:  # training: the same number of steps on every rank
            mine = mine[:len(starts) // world]
        for start in mine:
            yield order[start:start + self.batch_size]

    def _global_len(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def __len__(self):
        rank, world = _rank_world()
        total = self._global_len()
        if world == 1:
            return total
        return total // world if self.shuffle else len(range(rank, total, world))


def make_loader(tensors: dict[str, torch.Tensor], batch_size: int, shuffle: bool = False, seed: int = 0) -> DataLoader:
    ds = TensorBatches(tensors)
    return DataLoader(ds, sampler=EpochBatchSampler(len(ds), batch_size, shuffle, seed), batch_size=None,
                      num_workers=0)


class SupervisedModule(L.LightningModule):
    """Rating regression (MSE loss) or binary classification (BCE on logits) around ``model``.

    Logs ``val/<metric>`` and ``test/<metric>``: mse/rmse/mae for regression, auc/logloss for binary.
    After ``trainer.test`` in a single process, ``test_rows`` holds the per-row test outputs (in the
    loader's row order) from which reprorec.bootstrap draws the record's replicates; the metrics
    themselves are computed exactly as without it.
    """

    def __init__(self, model: nn.Module, task: str, lr: float = 1e-3, weight_decay: float = 0.0,
                 optimizer: str = "adam", target: str = "y"):
        super().__init__()
        if task not in ("regression", "binary"):
            raise ValueError(f"task must be 'regression' or 'binary', got {task!r}")
        self.model, self.task, self.target = model, task, target
        self.lr, self.weight_decay, self.optimizer_name = lr, weight_decay, optimizer
        make = regression_metrics if task == "regression" else binary_metrics
        self.val_metrics = make().clone(prefix="val/")
        self.test_metrics = make().clone(prefix="test/")
        self.test_rows: TestRows | None = None
        self._test_out: list = []

    def forward(self, batch):
        return self.model(batch)

    def loss(self, out, y):
        if self.task == "regression":
            return nn.functional.mse_loss(out, y)
        return nn.functional.binary_cross_entropy_with_logits(out, y)

    def training_loss(self, batch):
        out = self.model(batch)
        loss = self.loss(out, batch[self.target].float())
        if hasattr(self.model, "regularization"):
            loss = loss + self.model.regularization(batch)
        self.log("train/loss", loss, prog_bar=True, on_step=False, on_epoch=True, batch_size=len(out))
        return loss

    def training_step(self, batch, _):
        return self.training_loss(batch)

    def _eval(self, batch, metrics, keep: list | None = None):
        out = self.model(batch)
        pred = out if self.task == "regression" else torch.sigmoid(out)
        y = batch[self.target]
        metrics.update(pred.float(), y.float() if self.task == "regression" else y.long())
        if keep is not None:
            keep.append((pred.detach().float().cpu(), y.detach().float().cpu()))

    def validation_step(self, batch, _):
        self._eval(batch, self.val_metrics)

    def on_validation_epoch_end(self):
        self.log_dict(self.val_metrics.compute(), prog_bar=True)
        self.val_metrics.reset()

    def on_test_epoch_start(self):
        self._test_out, self.test_rows = [], None

    def test_step(self, batch, _):
        keep = self._test_out if bootstrap_enabled() and _rank_world()[1] == 1 else None  # DDP: shards, no rows
        self._eval(batch, self.test_metrics, keep)

    def on_test_epoch_end(self):
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()
        if self._test_out:
            pred = torch.cat([p for p, _ in self._test_out]).double().numpy()
            y = torch.cat([t for _, t in self._test_out]).double().numpy()
            self.test_rows = TestRows("regression", {"pred": pred, "y": y}) if self.task == "regression" \
                else TestRows("binary", {"prob": pred, "y": y})
        self._test_out = []

    def configure_optimizers(self):
        return OPTIMIZERS.make(self.optimizer_name, self.model.parameters(), lr=self.lr,
                               weight_decay=self.weight_decay)
