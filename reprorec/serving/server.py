"""Request path of CPU-GPU hybrid serving, with an explicit device memory budget and pipelining.

Per request batch: (1) gather the requested rows' stored parts (fp32 rows, or INT8/INT4 codes +
scale + offset) from host memory -- in this process (`CPUTable`) or from a lookup service in
another process (`remote.RemoteTables`, standing for the external CPU hosts) -- and the batch's
other features, straight into a pre-allocated staging slot (pinned when the device is a GPU);
(2) copy the slot's used prefix to the device in one ``non_blocking`` copy on a separate CUDA
stream; (3) dequantize there and run the dense part. With ``pipelined=True`` a background thread
does (1)+(2) for batch k+1 while the caller's thread runs (3) for batch k (two staging slots);
torch ops and socket reads release the GIL, so the two overlap on CPU too. On a CPU-only machine
``device='cpu'`` runs the same path, the copy being a no-op and the staging memory unpinned
(`StagingBuffer.why_not_pinned`).

``memory_budget`` (bytes) is what the deployment may keep resident on the device: the dense part
plus the device staging slots. The server refuses to start beyond it (`MemoryBudgetError`), and
`fits_on_device` says whether a model's tables would fit at all -- the case hybrid serving exists
for is tables larger than the budget. Activations of the dense forward are not counted (on CUDA the
benchmark reports the allocator's peak beside the budget).
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import torch

from .staging import LayoutError, StagingBuffer, packed_offsets
from .tables import CPUTable, parts_of


class MemoryBudgetError(RuntimeError):
    """What would be resident on the device exceeds the configured memory budget."""


def module_bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))


def fits_on_device(model, memory_budget: int | None) -> tuple[bool, int]:
    """(whether the whole training model -- ID tables included, fp32 -- fits ``memory_budget``, its bytes)."""
    need = module_bytes(model)
    return (memory_budget is None or need <= memory_budget), need


class HybridServer:
    def __init__(self, dense, tables: dict[str, CPUTable] | None, table_keys: dict[str, str],
                 device: str | torch.device = "cpu", memory_budget: int | None = None,
                 max_batch: int | None = None, remote=None):
        """tables: the ID tables in this process, or None with ``remote`` (a `RemoteTables` client)
        serving them from another process. ``max_batch`` sizes the staging slots (default: the first
        request's row count; a later, larger request is refused with `LayoutError`)."""
        if (tables is None) == (remote is None):
            raise ValueError("give the ID tables either in-process (tables) or through a lookup service (remote)")
        self.device = torch.device(device)
        self.dense = dense.to(self.device).eval()
        self.tables, self.table_keys, self.remote = tables, table_keys, remote
        self.specs = ({n: (t.precision, t.dim) for n, t in tables.items()} if tables is not None else
                      {n: (s["precision"], s["dim"]) for n, s in remote.specs.items()})
        missing = set(table_keys) - set(self.specs)
        if missing:
            raise ValueError(f"no table for {sorted(missing)}")
        self.memory_budget, self.max_batch = memory_budget, max_batch
        self.cuda = self.device.type == "cuda"
        self.copy_stream = torch.cuda.Stream(self.device) if self.cuda else None
        self.staging: StagingBuffer | None = None
        self.done = None
        self._check_budget(0)

    @property
    def device_resident_bytes(self) -> int:
        """Dense part + device staging slots: what the budget limits."""
        return module_bytes(self.dense) + (self.staging.device_bytes if self.staging else 0)

    def _check_budget(self, staging_bytes: int) -> None:
        need = module_bytes(self.dense) + staging_bytes
        if self.memory_budget is not None and need > self.memory_budget:
            raise MemoryBudgetError(f"dense part + staging need {need:,} B on {self.device}, budget is "
                                    f"{self.memory_budget:,} B")

    def _layout(self, batch: dict) -> dict:
        layout = {}
        for name, key in self.table_keys.items():
            ids = batch[key]
            for part, (shape, dtype) in parts_of(*self.specs[name]).items():
                layout[f"t/{name}/{part}"] = ((*ids.shape[1:], *shape), dtype)
        for k, v in batch.items():
            layout[f"b/{k}"] = (tuple(v.shape[1:]), v.dtype)
        return layout

    def _allocate(self, batch: dict) -> None:
        rows = len(next(iter(batch.values())))
        layout = self._layout(batch)
        slot_bytes = packed_offsets(layout, max(rows, self.max_batch or 0))["_end"]
        self._check_budget(2 * slot_bytes if self.cuda else 0)  # before allocating anything
        self.staging = StagingBuffer(layout, max(rows, self.max_batch or 0), self.device, slots=2)
        if self.cuda:
            self.done = [None, None]

    def _prepare(self, batch: dict, slot: int = 0) -> tuple[int, int, object]:
        """Host side: gather into staging slot ``slot``, start the copy. -> (slot, rows, ready event)."""
        if self.staging is None:
            self._allocate(batch)
        rows = len(next(iter(batch.values())))
        if self._layout(batch) != self.staging.layout:
            raise LayoutError("request layout (keys, per-row shapes or dtypes) differs from the staging layout")
        if self.cuda and self.done[slot] is not None:
            self.done[slot].synchronize()  # the dense part has finished reading this slot's last request
        views = self.staging.host_views(slot, rows)
        parts = {name: {p: views[f"t/{name}/{p}"].view(-1, *views[f"t/{name}/{p}"].shape[batch[key].dim():])
                        for p in parts_of(*self.specs[name])}
                 for name, key in self.table_keys.items()}
        ids = {name: batch[key].reshape(-1) for name, key in self.table_keys.items()}
        if self.remote is not None:
            self.remote.gather_into(ids, parts)
        else:
            for name in self.table_keys:
                self.tables[name].gather_into(ids[name], parts[name])
        for k, v in batch.items():
            views[f"b/{k}"].copy_(v)
        if not self.cuda:
            return slot, rows, None
        with torch.cuda.stream(self.copy_stream):
            self.staging.copy_to_device(slot, rows)
            ready = torch.cuda.Event()
            ready.record(self.copy_stream)
        return slot, rows, ready

    @torch.no_grad()
    def _finish(self, slot: int, rows: int, ready) -> torch.Tensor:
        if ready is not None:
            torch.cuda.current_stream(self.device).wait_event(ready)
        views = self.staging.device_views(slot, rows)
        emb = {}
        for name in self.table_keys:
            precision, dim = self.specs[name]
            got = {p: views[f"t/{name}/{p}"] for p in parts_of(precision, dim)}
            emb[name] = CPUTable.decode(got, precision, dim)
        batch = {k[2:]: v for k, v in views.items() if k.startswith("b/")}
        out = self.dense.dense_forward(emb, batch).float()
        if self.cuda:
            self.done[slot] = torch.cuda.Event()
            self.done[slot].record(torch.cuda.current_stream(self.device))
        return out.cpu() if self.cuda else out.clone()  # never hand out a view of a staging slot

    def score(self, batch: dict) -> torch.Tensor:
        return self._finish(*self._prepare(batch, 0))

    def serve(self, batches: list[dict], pipelined: bool = True) -> tuple[list[torch.Tensor], list[float]]:
        """Score a stream of batches -> (scores per batch, latency per batch in seconds).

        Latency of batch k runs from the start of its lookup to its scores being on the host.
        """
        scores, lat = [], []
        if not pipelined:
            for b in batches:
                t0 = time.perf_counter()
                scores.append(self.score(b))
                lat.append(time.perf_counter() - t0)
            return scores, lat
        with ThreadPoolExecutor(max_workers=1) as pool:
            def job(b, slot):
                return time.perf_counter(), self._prepare(b, slot)

            nxt = pool.submit(job, batches[0], 0) if batches else None
            for k in range(len(batches)):
                t0, prepared = nxt.result()
                if k + 1 < len(batches):
                    nxt = pool.submit(job, batches[k + 1], (k + 1) % 2)  # overlaps the dense compute below
                scores.append(self._finish(*prepared))
                lat.append(time.perf_counter() - t0)
        return scores, lat
