"""The compiled per-entry (sequential) SPIDER update, built on first use from seq_update.cpp.

The authors' update takes one stream entry at a time; at batch 1 the Python interpreter and
autograd dispatch cost more than the arithmetic. seq_update.cpp issues the same ATen operations
as the Python path in the same order, so both give bit-identical posteriors (tested); it is only
faster. Without a C++ toolchain, or with REPRO_SPIDER_NATIVE=0, the Python path runs instead.
The build is cached by torch under ~/.cache/torch_extensions (TORCH_EXTENSIONS_DIR), keyed by a
hash of the source and of the torch installation and interpreter (several virtualenvs on one machine
would otherwise keep rebuilding one shared build directory), so an edited source never loads a stale
build.
"""
from __future__ import annotations

import hashlib
import os
import sys
import warnings
from functools import lru_cache
from pathlib import Path

SOURCE = Path(__file__).with_name("seq_update.cpp")


def enabled() -> bool:
    return os.environ.get("REPRO_SPIDER_NATIVE", "1") != "0"


@lru_cache(maxsize=1)
def _build():
    import torch
    from torch.utils.cpp_extension import load

    key = SOURCE.read_bytes() + f"|{torch.__version__}|{torch.__file__}|{sys.prefix}".encode()
    tag = hashlib.sha256(key).hexdigest()[:12]
    return load(name=f"spider_seq_{tag}", sources=[str(SOURCE)], extra_cflags=["-O2"], verbose=False)


_failed: list[str] = []


def module():
    """The compiled extension, or None (disabled, or the build failed: then one warning says why)."""
    if not enabled() or _failed:
        return None
    try:
        return _build()
    except Exception as e:  # no compiler / headers: fall back to the (identical, slower) Python path
        _failed.append(str(e))
        warnings.warn(f"SPIDER native sequential update unavailable, using the Python path: {e}")
        return None
