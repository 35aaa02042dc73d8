"""One ID embedding table held in host (CPU) memory, in fp32 or row-wise INT8/INT4.

`lookup(ids)` gathers only the requested rows and dequantizes just those, so the cost per request
is proportional to the batch, not to the table. The server path splits that in two: `gather_into`
copies the requested rows' stored *parts* (fp32 rows, or codes + scale + offset) into a staging
buffer on the host, and `decode` turns them into fp32 rows wherever they land (on the device, so a
quantized table also crosses the host->device link quantized).
"""
from __future__ import annotations

import torch

from .quantize import dequantize_rows, quantize_rows

PRECISIONS = ("fp32", "int8", "int4")


def parts_of(precision: str, dim: int) -> dict[str, tuple[tuple, torch.dtype]]:
    """{part: (shape per row, dtype)} of a table's stored form: fp32 rows, or packed codes + scale + offset."""
    if precision == "fp32":
        return {"rows": ((dim,), torch.float32)}
    width = (dim + 1) // 2 if precision == "int4" else dim
    return {"codes": ((width,), torch.uint8), "scale": ((), torch.float32), "offset": ((), torch.float32)}


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

    def parts(self) -> dict[str, tuple[tuple, torch.dtype]]:
        """{part: (shape per looked-up row, dtype)} of what one row ships as."""
        return parts_of(self.precision, self.dim)

    def gather_into(self, ids: torch.Tensor, out: dict[str, torch.Tensor]) -> None:
        """Write the stored parts of rows ``ids`` (1-D) into ``out`` = {part: (len(ids), *shape) view}."""
        if self.precision == "fp32":
            torch.index_select(self.codes, 0, ids, out=out["rows"])
            return
        torch.index_select(self.codes, 0, ids, out=out["codes"])
        torch.index_select(self.scale, 0, ids, out=out["scale"])
        torch.index_select(self.offset, 0, ids, out=out["offset"])

    @staticmethod
    def decode(parts: dict[str, torch.Tensor], precision: str, dim: int) -> torch.Tensor:
        """Gathered parts (on any device) -> fp32 rows (n, dim)."""
        if precision == "fp32":
            return parts["rows"]
        return dequantize_rows(parts["codes"], parts["scale"], parts["offset"], precision, dim)

    @classmethod
    def random(cls, rows: int, dim: int, precision: str, seed: int = 0) -> "CPUTable":
        """SYNTHETIC table built directly in its stored form (never as a full fp32 matrix), for serving
        benchmarks whose tables are larger than memory would allow in fp32; deterministic in ``seed``."""
        g = torch.Generator().manual_seed(seed)
        if precision == "fp32":
            return cls("fp32", dim, rows, torch.randn(rows, dim, generator=g) * 0.05)
        width = (dim + 1) // 2 if precision == "int4" else dim
        codes = torch.randint(0, 256, (rows, width), generator=g, dtype=torch.uint8)
        if precision == "int4" and dim % 2:
            codes &= 0x0F  # the padding nibble of odd widths is zero, as `quantize_rows` writes it
        levels = 15 if precision == "int4" else 255
        scale = torch.rand(rows, generator=g) * (0.2 / levels) + 1e-4
        return cls(precision, dim, rows, codes, scale, -scale * levels / 2)

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
