"""Pre-allocated host staging buffers for the host -> device copy of each request.

Pinning host memory is a page-locking system call; doing it per request (``t.pin_memory()`` on
every looked-up tensor) costs more than the copy it is meant to speed up, and allocates. A
`StagingBuffer` instead pins ``slots`` byte buffers once, each large enough for one request of up to
``max_rows`` rows of a fixed layout (every table part and batch feature, per row), plus one matching
device buffer per slot. A request writes its tensors into views of a slot's host buffer (regions
packed for its row count), the used prefix goes to the device in ONE ``non_blocking`` copy, and the dense part reads views of the device
buffer. Two slots let the lookup of batch k+1 fill one buffer while batch k computes from the other.

Pinned memory needs CUDA. With a CPU "device" the host buffer is ordinary memory and the device
views *are* the host views (no copy); ``pinned`` is then False and ``why_not_pinned`` says so.
"""
from __future__ import annotations

import math

import torch

ALIGN = 64  # bytes: every region starts on a cache line, and any dtype view of it is legal


def _nbytes(shape: tuple, dtype: torch.dtype) -> int:
    return math.prod(shape) * torch.empty((), dtype=dtype).element_size()


def packed_offsets(layout: dict[str, tuple[tuple, torch.dtype]], rows: int) -> dict[str, int]:
    """Byte offset of each region for a ``rows``-row request (regions packed, so the used part of a slot
    is one prefix), plus ``'_end'``: the bytes it occupies."""
    out, off = {}, 0
    for name, (shape, dtype) in layout.items():
        out[name] = off
        off += -(-_nbytes((rows, *shape), dtype) // ALIGN) * ALIGN
    out["_end"] = off
    return out


class LayoutError(ValueError):
    """A request does not fit the layout (or the row capacity) the buffer was allocated for."""


class StagingBuffer:
    def __init__(self, layout: dict[str, tuple[tuple, torch.dtype]], max_rows: int,
                 device: str | torch.device = "cpu", slots: int = 2):
        """layout: {name: (shape per row, dtype)}; a request of n rows holds tensors of shape (n, *shape)."""
        self.layout, self.max_rows, self.device = dict(layout), int(max_rows), torch.device(device)
        if not self.layout:
            raise LayoutError("empty staging layout")
        off = self._offsets(self.max_rows)["_end"]
        self.slot_bytes = off
        self.cuda = self.device.type == "cuda"
        if self.cuda:
            self.host = [torch.empty(off, dtype=torch.uint8, pin_memory=True) for _ in range(slots)]
            self.dev = [torch.empty(off, dtype=torch.uint8, device=self.device) for _ in range(slots)]
            self.pinned, self.why_not_pinned = True, None
        else:
            self.host = [torch.empty(off, dtype=torch.uint8) for _ in range(slots)]
            self.dev = self.host
            self.pinned = False
            self.why_not_pinned = ("device is the CPU: no host->device copy, and pinned memory needs CUDA; "
                                   "the staging buffers are ordinary pre-allocated host memory")
        self.slots = slots

    @property
    def device_bytes(self) -> int:
        """Bytes this buffer holds on the device (0 on a CPU device, where nothing is copied)."""
        return self.slot_bytes * self.slots if self.cuda else 0

    def _offsets(self, rows: int) -> dict[str, int]:
        return packed_offsets(self.layout, rows)

    def _views(self, buf: torch.Tensor, rows: int) -> dict[str, torch.Tensor]:
        offs = self._offsets(rows)
        return {name: buf[offs[name]:offs[name] + _nbytes((rows, *shape), dtype)].view(dtype).view(rows, *shape)
                for name, (shape, dtype) in self.layout.items()}

    def host_views(self, slot: int, rows: int) -> dict[str, torch.Tensor]:
        """Writable host views of ``slot`` for a request of ``rows`` rows."""
        if rows > self.max_rows:
            raise LayoutError(f"request of {rows} rows exceeds the staging capacity of {self.max_rows} rows")
        return self._views(self.host[slot], rows)

    def device_views(self, slot: int, rows: int) -> dict[str, torch.Tensor]:
        return self._views(self.dev[slot], rows)

    def used_bytes(self, rows: int) -> int:
        """Bytes of a slot that a ``rows``-row request occupies (what the copy moves)."""
        return self._offsets(rows)["_end"]

    def copy_to_device(self, slot: int, rows: int) -> None:
        """One non_blocking copy of the used prefix (call on the copy stream); a no-op on CPU."""
        if self.cuda:
            n = self.used_bytes(rows)
            self.dev[slot][:n].copy_(self.host[slot][:n], non_blocking=True)
