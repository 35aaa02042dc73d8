"""One cache for expensive intermediate results (pretrained facet and KGE vectors).

Several experiments of one seed share a pretrained model (MF-LET's facets, TransRA's KGE), so it is
computed once and read back. Three rules keep a cached value from changing any number:

- the key is the inputs (config blocks, data fingerprints, seed) *and* a fingerprint of the source
  that computes the value, so editing that code recomputes instead of reusing stale vectors a clean
  clone could not regenerate;
- the value is computed on its own seeded random streams (`isolated_rng`), so a hit and a miss leave
  the run's global random state alike and a record does not depend on what ran before it;
- writes are atomic (temp file + rename in the same folder): a killed run never leaves half a file.

Location: ``$REPRO_CACHE_DIR/pretrained/<namespace>/`` (``REPRO_CACHE_DIR`` also holds the processed
data tables; default ``~/.cache/reprorec/processed``). Deleting the folder only costs time.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from .data.base import cache_dir
from .records import source_fingerprint
from .train import isolated_rng


def cache_root() -> Path:
    return cache_dir() / "pretrained"


def cache_key(inputs: dict, code: Sequence[str]) -> str:
    """16 hex of sha256 over the inputs (JSON, sorted keys) and the source fingerprint of ``code``."""
    blob = json.dumps({"inputs": inputs, "code": source_fingerprint(*code)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cache_path(namespace: str, name: str, inputs: dict, code: Sequence[str]) -> Path:
    return cache_root() / namespace / f"{name}-{cache_key(inputs, code)}.pt"


def save_atomic(value: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(value, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def cached(namespace: str, name: str, *, inputs: dict, code: Sequence[str], seed: int,
           compute: Callable[[], Any]) -> tuple[Any, bool]:
    """``(value, hit)``: the stored value for (inputs, code), or ``compute()`` run under
    ``isolated_rng(seed)`` and stored. ``value`` is anything ``torch.save`` takes (tensors, dicts)."""
    path = cache_path(namespace, name, inputs, code)
    if path.exists():
        return torch.load(path, weights_only=False), True  # our own files, written by save_atomic
    with isolated_rng(seed):
        value = compute()
    save_atomic(value, path)
    return value, False
