"""One ID embedding table held in host (CPU) memory, in fp32 or row-wise INT8/INT4.

`lookup(ids)` gathers only the requested rows and dequantizes just those, so the cost per request
is proportional to the batch, not to the table.
"""
from __future__ import annotations

import torch

from .quantize import dequantize_rows, quantize_rows

PRECISIONS = ("fp32", "int8", "int4")


class CPUTable:
    def __init__(self, precision: str, dim: int, rows: int, codes: torch.Tensor,
                 scale: torch.Tensor | None = None, offset: torch.Tensor | None = None):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.precision, self.dim, self.rows = precision, dim, rows
        self.codes, self.scale, self.offset = codes, scale, offset

    @classmethod
    def from_weight(cls, weight: torch.Tensor, precision: str = "fp32") -> "CPUTable":
        w = weight.detach().to("cpu", torch.float32)
        if precision == "fp32":
            return cls("fp32", w.shape[1], w.shape[0], w.contiguous().clone())
        codes, scale, offset = quantize_rows(w, precision)
        return cls(precision, w.shape[1], w.shape[0], codes, scale, offset)

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        """ids of any shape -> fp32 embeddings of shape ids.shape + (dim,)."""
        flat = ids.reshape(-1)
        if self.precision == "fp32":
            out = self.codes.index_select(0, flat)
        else:
            out = dequantize_rows(self.codes.index_select(0, flat), self.scale.index_select(0, flat),
                                  self.offset.index_select(0, flat), self.precision, self.dim)
        return out.reshape(*ids.shape, self.dim)

    def dense_weight(self) -> torch.Tensor:
        """The whole table as fp32 (dequantized): what an all-on-device deployment would hold."""
        return self.lookup(torch.arange(self.rows))

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.codes, self.scale, self.offset) if t is not None)

    def state(self) -> dict:
        return {"precision": self.precision, "dim": self.dim, "rows": self.rows, "codes": self.codes,
                "scale": self.scale, "offset": self.offset}

    @classmethod
    def from_state(cls, s: dict) -> "CPUTable":
        return cls(s["precision"], s["dim"], s["rows"], s["codes"], s["scale"], s["offset"])
