"""Progress bars for long work: shown on a terminal, silent otherwise (logs, CI, pytest).

``REPRO_PROGRESS=1`` forces bars on, ``REPRO_PROGRESS=0`` off; by default a bar is drawn only when
stderr is a TTY, so captured output never fills with carriage returns.
"""
from __future__ import annotations

import os
import sys


def enabled(explicit: bool | None = None) -> bool:
    if explicit is not None:
        return explicit
    env = os.environ.get("REPRO_PROGRESS")
    if env not in (None, ""):
        return env not in ("0", "false", "False", "no")
    return sys.stderr.isatty()


def bar(iterable=None, *, enable: bool | None = None, **kw):
    """``tqdm(iterable, **kw)``, disabled unless ``enabled(enable)``."""
    from tqdm.auto import tqdm

    kw.setdefault("leave", False)
    kw.setdefault("dynamic_ncols", True)
    return tqdm(iterable, disable=not enabled(enable), **kw)
