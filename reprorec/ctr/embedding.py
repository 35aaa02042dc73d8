"""Embedding layers of the CTR backbone: large ID tables and the per-field feature embedding.

``IdEmbedding`` is one large ID table (user or item): its own dimension, optional hashing of ids
into a fixed bucket count (so the table size does not grow with the id space), sparse gradients
(``nn.Embedding(sparse=True)``: a step touches only the looked-up rows, which ``SparseAdam``
updates lazily), and ``load_pretrained`` — the hook through which KGE / contrastive vectors from
the pretraining window initialise the table, frozen or finetuned.

``FeatureEmbedding(sparse='auto')`` makes every table of at least ``SPARSE_MIN_ROWS`` rows sparse
(``True``/``False`` force it). ``FeatureEmbedding`` turns a batch (see ``schema``) into one flat vector per row: ID tables,
the shared attribute table (one lookup for all single-valued fields), pooled multi-hot bags and
numeric fields (each a learned vector scaled by the value, as FuxiCTR does, or passed raw).
"""
from __future__ import annotations

import torch
from torch import nn

from ..data.ctr_schema import FeatureSchema

# sparse="auto": below this many rows a dense gradient + fused dense Adam is cheaper than building,
# coalescing and applying a sparse gradient (measured on ML-100K's <2k-row tables; see benchmarks/README.md).
SPARSE_MIN_ROWS = 100_000
HASH_PRIME = 1_000_000_007  # multiplicative hash; coprime with any bucket count < 1e9 except its multiples


def hash_ids(ids: torch.Tensor, buckets: int) -> torch.Tensor:
    """Map ids (>= 0) into [0, buckets). Row 0 stays row 0 (OOV keeps its own bucket's row).

    Multiplying by a prime coprime to ``buckets`` is a bijection on each block of ``buckets``
    consecutive ids, so dense id ranges no larger than the table never collide.
    """
    return torch.remainder(ids * HASH_PRIME, buckets)


class IdEmbedding(nn.Module):
    def __init__(self, num_ids: int, dim: int, buckets: int | None = None, sparse: bool = True,
                 init_std: float = 1e-2):
        super().__init__()
        self.num_ids, self.buckets = num_ids, buckets
        rows = buckets if buckets else num_ids
        self.table = nn.Embedding(rows, dim, sparse=sparse)
        nn.init.normal_(self.table.weight, std=init_std)

    def rows(self, ids: torch.Tensor) -> torch.Tensor:
        return hash_ids(ids, self.buckets) if self.buckets else ids

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.table(self.rows(ids))

    def collisions(self, ids: torch.Tensor | None = None) -> int:
        """Distinct ids that share a row with another distinct id: n_distinct_ids - n_distinct_rows."""
        ids = torch.arange(self.num_ids) if ids is None else torch.unique(ids)
        return int(len(ids) - len(torch.unique(self.rows(ids))))

    @torch.no_grad()
    def load_pretrained(self, vectors: torch.Tensor, ids: torch.Tensor | None = None, freeze: bool = False) -> None:
        """Initialise rows from pretrained vectors: ``vectors[k]`` goes to id ``ids[k]`` (default: id k).

        Ids hashed to one row get the mean of their vectors. ``freeze=True`` stops gradients to the
        whole table (the optimiser factory then leaves it out).
        """
        vectors = torch.as_tensor(vectors, dtype=self.table.weight.dtype)
        if vectors.shape[1] != self.table.embedding_dim:
            raise ValueError(f"pretrained dim {vectors.shape[1]} != table dim {self.table.embedding_dim}")
        ids = torch.arange(len(vectors)) if ids is None else torch.as_tensor(ids, dtype=torch.long)
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        rows = self.rows(ids)
        total = torch.zeros_like(self.table.weight).index_add_(0, rows, vectors)
        count = torch.zeros(len(total)).index_add_(0, rows, torch.ones(len(rows)))
        hit = count > 0
        self.table.weight[hit] = total[hit] / count[hit, None]
        self.table.weight.requires_grad_(not freeze)


class FeatureEmbedding(nn.Module):
    """batch -> (B, out_dim): concatenation of every field's embedding."""

    def __init__(self, schema: FeatureSchema, embed_dim: int = 16, numeric: str = "embed",
                 sparse: bool | str = "auto"):
        super().__init__()
        if numeric not in ("embed", "raw"):
            raise ValueError(f"numeric must be 'embed' or 'raw', got {numeric!r}")
        self.schema, self.embed_dim, self.numeric_mode = schema, embed_dim, numeric

        def is_sparse(rows: int) -> bool:
            return rows >= SPARSE_MIN_ROWS if sparse == "auto" else bool(sparse)

        self.ids = nn.ModuleDict({f.name: IdEmbedding(f.num_ids, f.dim or embed_dim, f.buckets,
                                                      is_sparse(f.buckets or f.num_ids)) for f in schema.id_fields})
        # The attribute table of Criteo-like data is itself millions of rows: sparse like the ID tables.
        self.cat = (nn.Embedding(schema.cat_size, embed_dim, sparse=is_sparse(schema.cat_size))
                    if schema.cat_fields else None)
        self.bags = nn.ModuleDict({m.name: nn.EmbeddingBag(m.vocab_size, embed_dim, mode=m.mode, padding_idx=0,
                                                           sparse=is_sparse(m.vocab_size)) for m in schema.multi_hot})
        n_num = len(schema.numeric)
        self.num = nn.Parameter(torch.randn(n_num, embed_dim) * 1e-2) if n_num and numeric == "embed" else None
        for emb in [self.cat, *self.bags.values()]:
            if emb is not None:
                nn.init.normal_(emb.weight, std=1e-2)
        self.out_dim = (sum(f.dim or embed_dim for f in schema.id_fields)
                        + embed_dim * (len(schema.cat_fields) + len(schema.multi_hot))
                        + (embed_dim * n_num if numeric == "embed" else n_num))

    def id_table(self, name: str) -> IdEmbedding:
        return self.ids[name]

    def forward(self, batch: dict) -> torch.Tensor:
        parts = [emb(batch[name]) for name, emb in self.ids.items()]
        if self.cat is not None:
            parts.append(self.cat(batch["cat"]).flatten(1))
        parts += [bag(batch[name]) for name, bag in self.bags.items()]
        if self.schema.numeric:
            x = batch["num"]
            parts.append((x[:, :, None] * self.num).flatten(1) if self.num is not None else x)
        return torch.cat(parts, dim=1)

