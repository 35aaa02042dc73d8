"""Facet 1: user-item contrastive pretraining of the ID tables (MF-LET, Section "User-Pin
Contrastive Learning" in the paper's description).

A two-tower model that has *only* a user-ID table and an item-ID table — no other feature — so the
IDs are learned independently of everything the ranking model already sees. Trained on the
pretraining window's positive engagements with in-batch negatives: for a batch of B positive
pairs (u_b, i_b), the logits are s(u_a, i_b) / tau and the loss is the softmax cross-entropy
with the diagonal as target (sampled softmax / InfoNCE with in-batch negatives).
"""
from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from reprorec.lightning_glue import make_loader


def in_batch_softmax_loss(u: torch.Tensor, i: torch.Tensor, temperature: float, normalize: bool = True) -> torch.Tensor:
    """Mean over the batch of -log softmax_b(<u_a, i_b> / tau)[a] (row a's own item is its positive)."""
    if normalize:
        u, i = F.normalize(u, dim=-1), F.normalize(i, dim=-1)
    logits = u @ i.T / temperature
    return F.cross_entropy(logits, torch.arange(len(u), device=u.device))


class TwoTower(nn.Module):
    def __init__(self, n_users: int, n_items: int, dim: int, init_std: float = 0.1):
        super().__init__()
        self.user = nn.Embedding(n_users, dim)
        self.item = nn.Embedding(n_items, dim)
        nn.init.normal_(self.user.weight, std=init_std)
        nn.init.normal_(self.item.weight, std=init_std)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.user(users), self.item(items)


class ContrastiveModule(L.LightningModule):
    def __init__(self, model: TwoTower, temperature: float, lr: float, normalize: bool = True):
        super().__init__()
        self.model, self.temperature, self.lr, self.normalize = model, temperature, lr, normalize

    def training_step(self, batch, _):
        u, i = self.model(batch["user"], batch["item"])
        loss = in_batch_softmax_loss(u, i, self.temperature, self.normalize)
        self.log("pretrain/contrastive_loss", loss, on_step=False, on_epoch=True, batch_size=len(u))
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.model.parameters(), lr=self.lr)


def pretrain_contrastive(users: torch.Tensor, items: torch.Tensor, n_users: int, n_items: int, *, dim: int,
                         temperature: float = 0.1, lr: float = 0.01, epochs: int = 10, batch_size: int = 512,
                         normalize: bool = True, seed: int = 0) -> dict[str, torch.Tensor]:
    """Train the two-tower on positive (user, item) pairs; returns {'user': (n_users, dim), 'item': (n_items, dim)}.

    Batches drop the last partial batch so every row sees the same number of negatives.
    """
    torch.manual_seed(seed)
    model = TwoTower(n_users, n_items, dim)
    loader = make_loader({"user": users, "item": items}, batch_size, shuffle=True, seed=seed)
    loader.sampler.drop_last = True
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, deterministic=True)
    trainer.fit(ContrastiveModule(model, temperature, lr, normalize), loader)
    return {"user": model.user.weight.detach().clone(), "item": model.item.weight.detach().clone()}
