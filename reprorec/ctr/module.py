"""Lightning module for CTR models with large sparse ID tables: two optimisers, one step.

Dense Adam cannot take sparse gradients and updating a whole multi-million-row table each step
is the cost large ID tables exist to avoid, so parameters are split: every sparse embedding
weight (ID tables, the attribute table, multi-hot bags) goes to ``torch.optim.SparseAdam`` (lazy Adam: only looked-up rows move), everything else to
Adam (with ``weight_decay``). Lightning 2.x runs several optimisers only under manual optimisation,
so ``CTRModule`` steps both itself; metrics, checkpoints (both optimiser states), early stopping and
resume stay those of ``SupervisedModule`` / ``reprorec.train.fit_evaluate``. Frozen tables
(``requires_grad=False``, e.g. after ``IdEmbedding.load_pretrained(freeze=True)``) get no optimiser.
"""
from __future__ import annotations

import torch
from torch import nn

from ..lightning_glue import SupervisedModule


def split_params(model: nn.Module) -> tuple[list, list]:
    """(dense, sparse) trainable parameters; sparse = weights of ``nn.Embedding/EmbeddingBag(sparse=True)``."""
    sparse_ids = {id(m.weight) for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag)) and m.sparse}
    dense, sparse = [], []
    for p in model.parameters():
        if p.requires_grad:
            (sparse if id(p) in sparse_ids else dense).append(p)
    return dense, sparse


def make_optimizers(model: nn.Module, lr: float, sparse_lr: float | None = None,
                    weight_decay: float = 0.0) -> list[torch.optim.Optimizer]:
    dense, sparse = split_params(model)
    opts: list[torch.optim.Optimizer] = []
    if dense:
        # fused: one kernel for all dense tensors instead of a loop of small ops (CPU supports it since torch 2.4)
        opts.append(torch.optim.Adam(dense, lr=lr, weight_decay=weight_decay, fused=True))
    if sparse:
        opts.append(torch.optim.SparseAdam(sparse, lr=sparse_lr or lr))
    return opts


class CTRModule(SupervisedModule):
    """Binary CTR learner (BCE on logits; val/test auc + logloss) with dense Adam + SparseAdam."""

    def __init__(self, model: nn.Module, lr: float = 1e-3, sparse_lr: float | None = None,
                 weight_decay: float = 0.0, target: str = "y"):
        super().__init__(model, "binary", lr=lr, weight_decay=weight_decay, target=target)
        self.sparse_lr = sparse_lr
        self.automatic_optimization = False

    def configure_optimizers(self):
        return make_optimizers(self.model, self.lr, self.sparse_lr, self.weight_decay)

    def training_step(self, batch, _):
        opts = self.optimizers()
        opts = opts if isinstance(opts, list) else [opts]
        for opt in opts:
            opt.zero_grad()
        loss = self.training_loss(batch)
        self.manual_backward(loss)
        for opt in opts:
            opt.step()
        return loss.detach()
