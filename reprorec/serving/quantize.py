"""Row-wise uniform quantization of embedding rows (the FBGEMM / Guan et al. 2019 scheme).

Each row r gets its own offset o_r = min(row) and scale s_r = (max(row) - min(row)) / (2^b - 1);
a value x is stored as q = round((x - o_r) / s_r) in [0, 2^b - 1] and read back as q * s_r + o_r,
so the error of every element is at most s_r / 2 (plus fp32 rounding). INT4 codes are packed two
per byte (element 2j in the low nibble, 2j+1 in the high one; odd widths are padded with a zero
nibble). Scale and offset are kept in fp32 (production systems often use fp16; fp32 keeps the
bound exact and costs 8 bytes per row).
"""
from __future__ import annotations

import torch

from ..registry import Resolver

BITS = Resolver("precision", {"int8": 8, "int4": 4})  # bits per stored code


def quantize_rows(weight: torch.Tensor, precision: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """fp32 (rows, dim) -> (codes uint8, scale (rows,), offset (rows,)); INT4 codes are (rows, ceil(dim/2))."""
    levels = (1 << BITS.lookup(precision)) - 1
    w = weight.detach().float()
    lo, hi = w.min(dim=1).values, w.max(dim=1).values
    scale = (hi - lo) / levels
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))  # constant row: every code is 0, value = offset
    q = torch.round((w - lo[:, None]) / safe[:, None]).clamp_(0, levels).to(torch.uint8)
    if precision == "int4":
        if q.shape[1] % 2:
            q = torch.cat([q, torch.zeros(q.shape[0], 1, dtype=torch.uint8)], dim=1)
        q = q[:, 0::2] | (q[:, 1::2] << 4)
    return q.contiguous(), scale.contiguous(), lo.contiguous()


def dequantize_rows(codes: torch.Tensor, scale: torch.Tensor, offset: torch.Tensor, precision: str,
                    dim: int) -> torch.Tensor:
    """Inverse of `quantize_rows` for any subset of rows (codes/scale/offset indexed alike)."""
    if precision == "int4":
        q = torch.stack([codes & 0x0F, codes >> 4], dim=-1).flatten(-2)[..., :dim]
    elif precision == "int8":
        q = codes
    else:
        BITS.lookup(precision)  # raises: an unknown precision, one line with the known ones
    return torch.addcmul(offset[..., None], q.float(), scale[..., None])


def error_bound(weight: torch.Tensor, precision: str) -> torch.Tensor:
    """Per-row worst-case absolute error s_r / 2 of `quantize_rows`."""
    w = weight.detach().float()
    return (w.max(dim=1).values - w.min(dim=1).values) / ((1 << BITS.lookup(precision)) - 1) / 2
