"""Training loop for KGE models: shuffled mini-batches of true triples, corrupted negatives, a loss,
Adam, the model's post-step constraints, optional early stopping on validation MRR.

A plain loop rather than a Lightning Trainer on purpose: a KGE step is a few hundred microseconds,
the pretrained vectors are cached by the caller (so checkpoint/resume buys nothing here), and the
parity benchmark measures triples/s of exactly this loop.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Literal, Optional

import torch

from ..progress import bar
from ..config import NonNegInt, PosFloat, PosInt, Section

from .evaluation import evaluate
from .losses import LOSSES, self_adversarial
from .models import KGEModel
from .sampling import NegativeSampler
from .triples import KnownTriples, TripleSet


@dataclass
class KGETrainConfig:
    epochs: int = 50
    batch_size: int = 1024
    lr: float = 1e-3
    loss: str = "margin"          # 'margin' | 'self_adversarial'
    margin: float = 1.0
    temperature: float = 1.0      # self-adversarial only
    num_negs: int = 1
    typed_negatives: bool = False
    filtered_negatives: bool = False
    eval_every: int = 0           # epochs between validation MRR checks (0 = never)
    patience: int = 0             # early stopping on val MRR, in evaluations (0 = off)
    seed: int = 0

    @classmethod
    def from_dict(cls, d: dict | None) -> "KGETrainConfig":
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in (d or {}).items() if k in fields})


class KGETrainKeys(Section):
    """The ``train`` block of a KGE config: KGETrainConfig's fields. A key left unset keeps the default
    of the code that builds the KGETrainConfig (TransRA's pretraining sets its own), so none is repeated here."""
    epochs: Optional[PosInt] = None
    batch_size: Optional[PosInt] = None
    lr: Optional[PosFloat] = None
    loss: Optional[Literal["margin", "self_adversarial"]] = None
    margin: Optional[PosFloat] = None
    temperature: Optional[PosFloat] = None
    num_negs: Optional[PosInt] = None
    typed_negatives: Optional[bool] = None
    filtered_negatives: Optional[bool] = None
    eval_every: Optional[NonNegInt] = None
    patience: Optional[NonNegInt] = None

    def given(self) -> dict:
        return self.model_dump(exclude_unset=True)


def train_kge(model: KGEModel, train: TripleSet, cfg: KGETrainConfig, val: torch.Tensor | None = None,
              known: KnownTriples | None = None, log=None, candidate_types=None) -> dict:
    """Train in place; returns {'epochs', 'train_seconds', 'triples_per_s', 'loss', 'val_mrr' curve}.

    ``known`` (all true triples: train+val+test) filters the validation ranking and ``candidate_types``
    restricts its candidates (see ``evaluate``); when early stopping is on, the weights of the best
    validation epoch are restored at the end.
    """
    g = torch.Generator().manual_seed(cfg.seed)
    sampler = NegativeSampler(train, cfg.num_negs, cfg.typed_negatives, cfg.filtered_negatives,
                              KnownTriples(train.triples, train.n_entities, train.n_relations)
                              if cfg.filtered_negatives else None)
    loss_fn = LOSSES.lookup(cfg.loss)
    loss_kw = {"margin": cfg.margin} | ({"temperature": cfg.temperature} if loss_fn is self_adversarial else {})
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    data = train.triples
    history = {"loss": [], "val_mrr": []}
    best, best_state, bad = -1.0, None, 0
    train_seconds, seen, epoch = 0.0, 0, 0
    model.train()
    epochs = bar(range(1, cfg.epochs + 1), desc="KGE epochs", unit="epoch")  # drawn on a terminal only
    for epoch in epochs:
        t0 = time.perf_counter()
        order = torch.randperm(len(data), generator=g)
        total = 0.0
        for start in range(0, len(data), cfg.batch_size):
            pos = data[order[start:start + cfg.batch_size]]
            neg, valid = sampler.sample(pos, g)
            both = torch.cat([pos, neg.reshape(-1, 3)])  # one scoring call: positives and negatives share projections
            s = model.score(both[:, 0], both[:, 1], both[:, 2])
            s_pos, s_neg = s[:len(pos)], s[len(pos):].view(neg.shape[:2])
            loss = loss_fn(s_pos, s_neg, valid, **loss_kw)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            model.post_step()
            total += loss.item() * len(pos)
        train_seconds += time.perf_counter() - t0
        seen += len(data)
        history["loss"].append(total / len(data))
        epochs.set_postfix(loss=f"{history['loss'][-1]:.4f}", refresh=False)
        if val is not None and cfg.eval_every and epoch % cfg.eval_every == 0:
            mrr = evaluate(model, val, known, candidate_types=candidate_types)["mrr"]
            history["val_mrr"].append((epoch, mrr))
            if log:
                log(f"epoch {epoch}: loss {history['loss'][-1]:.4f} val mrr {mrr:.4f}")
            if mrr > best:
                best, best_state, bad = mrr, copy.deepcopy(model.state_dict()), 0
            else:
                bad += 1
                if cfg.patience and bad >= cfg.patience:
                    break
    epochs.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return {"epochs": epoch, "train_seconds": train_seconds, "triples_per_s": seen / max(train_seconds, 1e-9),
            **history}
