"""Request path of CPU-GPU hybrid serving, with optional pipelining.

Per request batch: (1) look up and dequantize the ID rows in host memory, (2) copy them (and the
other features) to the accelerator — from pinned memory with ``non_blocking=True`` on a separate
CUDA stream when the device is a GPU — and (3) run the dense part there. With ``pipelined=True`` a
background thread does (1)+(2) for batch k+1 while the caller's thread runs (3) for batch k; torch
ops release the GIL, so the two overlap on CPU too. On a CPU-only machine ``device='cpu'`` runs
the same code path with the copies being no-ops.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import torch

from .tables import CPUTable


class HybridServer:
    def __init__(self, dense, tables: dict[str, CPUTable], table_keys: dict[str, str],
                 device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.dense = dense.to(self.device).eval()
        self.tables, self.table_keys = tables, table_keys
        self.cuda = self.device.type == "cuda"
        self.copy_stream = torch.cuda.Stream(self.device) if self.cuda else None

    def _prepare(self, batch: dict) -> tuple[dict, dict, object]:
        """Host side: lookup + dequantize, pin, start the async copy. Returns device tensors + a ready event."""
        emb = {n: t.lookup(batch[self.table_keys[n]]) for n, t in self.tables.items()}
        if not self.cuda:
            return emb, batch, None
        with torch.cuda.stream(self.copy_stream):
            emb = {k: v.pin_memory().to(self.device, non_blocking=True) for k, v in emb.items()}
            batch = {k: v.pin_memory().to(self.device, non_blocking=True) for k, v in batch.items()}
            ready = torch.cuda.Event()
            ready.record(self.copy_stream)
        return emb, batch, ready

    @torch.no_grad()
    def _finish(self, emb: dict, batch: dict, ready) -> torch.Tensor:
        if ready is not None:
            stream = torch.cuda.current_stream(self.device)
            stream.wait_event(ready)
            for t in (*emb.values(), *batch.values()):
                t.record_stream(stream)  # memory made on the copy stream is used on this one
        return self.dense.dense_forward(emb, batch).float().cpu()

    def score(self, batch: dict) -> torch.Tensor:
        return self._finish(*self._prepare(batch))

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
            def job(b):
                return time.perf_counter(), self._prepare(b)

            nxt = pool.submit(job, batches[0]) if batches else None
            for k in range(len(batches)):
                t0, prepared = nxt.result()
                if k + 1 < len(batches):
                    nxt = pool.submit(job, batches[k + 1])  # overlaps the dense compute below
                scores.append(self._finish(*prepared))
                lat.append(time.perf_counter() - t0)
        return scores, lat
