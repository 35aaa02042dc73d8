"""Feature schema of a CTR batch: which keys a batch dict holds and how each is embedded.

A batch is a ``dict[str, Tensor]`` of equal-length tensors (what ``reprorec.lightning_glue.make_loader`` yields):

  batch[<id field>]   (B,)   int64  row of a large ID table (user, item, ...); 0 = unseen / OOV
  batch["cat"]        (B, F) int64  attribute ids in ONE shared index space (``CategoricalEncoder``:
                                    per-field offsets, so each field owns its rows = per-field embeddings)
  batch[<multi-hot>]  (B, L) int64  ids of a bag (e.g. genres), 0 = padding
  batch["num"]        (B, N) float  numeric fields (already transformed, e.g. log1p)
  batch["y"]          (B,)   float  click label

Large ID tables are separate from the attribute table because they have their own dimension,
optional hashing and sparse (row-wise) optimisation, and can be initialised from pretrained vectors.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class IdField:
    """A large ID table. ``num_ids`` rows incl. row 0 (OOV); ``buckets`` hashes ids into fewer rows."""

    name: str
    num_ids: int
    dim: int | None = None  # None -> the model's embed_dim
    buckets: int | None = None


@dataclass(frozen=True)
class MultiHotField:
    """A bag of ids from a vocabulary of ``vocab_size`` (incl. padding id 0), pooled by ``mode``."""

    name: str
    vocab_size: int
    mode: str = "mean"


@dataclass
class FeatureSchema:
    id_fields: list[IdField] = field(default_factory=list)
    cat_fields: list[str] = field(default_factory=list)  # columns of batch["cat"], in order
    cat_size: int = 0  # rows of the shared attribute table (CategoricalEncoder.size)
    multi_hot: list[MultiHotField] = field(default_factory=list)
    numeric: list[str] = field(default_factory=list)  # columns of batch["num"], in order
    cat_cardinalities: list[int] = field(default_factory=list)  # rows per attribute field (OOV incl.), in order

    def cat_offsets(self) -> list[int]:
        """First row of each attribute field in the shared table (local id = global id - offset)."""
        out, acc = [], 0
        for n in self.cat_cardinalities:
            out.append(acc)
            acc += n
        return out

    @property
    def n_fields(self) -> int:
        return len(self.id_fields) + len(self.cat_fields) + len(self.multi_hot) + len(self.numeric)

    def id_field(self, name: str) -> IdField:
        for f in self.id_fields:
            if f.name == name:
                return f
        raise KeyError(f"no ID field {name!r}; have {[f.name for f in self.id_fields]}")

    def keys(self) -> list[str]:
        """Batch keys the model reads (besides the label)."""
        keys = [f.name for f in self.id_fields] + [m.name for m in self.multi_hot]
        return keys + (["cat"] if self.cat_fields else []) + (["num"] if self.numeric else [])
