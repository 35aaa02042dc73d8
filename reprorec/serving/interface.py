"""The contract between a ranking model and the hybrid server: "ID tables + dense module".

A `HybridModel` keeps its large ID tables in ``self.tables`` (an ``nn.ModuleDict`` of
``nn.Embedding``) and names, in ``self.table_keys``, the batch key whose ids index each table.
Everything else (small feature embeddings, DCN, MLP, projections) is the *dense part*, reached
only through ``dense_forward(emb, batch)``. Training calls ``forward``, which is exactly
``dense_forward(lookup(batch), batch)``; the server calls ``dense_forward`` with rows it looked up
itself in host memory. Because both paths share ``dense_forward``, fp32 serving reproduces the
training model's scores.
"""
from __future__ import annotations

import torch
from torch import nn


class HybridModel(nn.Module):
    tables: nn.ModuleDict
    table_keys: dict[str, str]

    def lookup(self, batch: dict) -> dict[str, torch.Tensor]:
        return {name: self.tables[name](batch[key]) for name, key in self.table_keys.items()}

    def dense_forward(self, emb: dict[str, torch.Tensor], batch: dict) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, batch: dict) -> torch.Tensor:
        return self.dense_forward(self.lookup(batch), batch)

    def dense_state_dict(self) -> dict[str, torch.Tensor]:
        """State of the dense part only (the ID tables are exported separately)."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("tables.")}

    def builder(self) -> tuple[str, dict]:
        """(import path of a factory, JSON-able kwargs) that rebuild this model's architecture.

        The default is the class itself with ``self.init_kwargs``; set ``init_kwargs`` in __init__.
        """
        kwargs = getattr(self, "init_kwargs", None)
        if kwargs is None:
            raise NotImplementedError(f"{type(self).__name__} must set self.init_kwargs (or override builder())")
        return f"{type(self).__module__}:{type(self).__qualname__}", kwargs
