"""Names -> methods and experiments. Papers register themselves; nothing here knows a paper.

A *method* is a function ``run(cfg, ctx) -> RunResult`` registered under (paper, method name),
optionally with a ``search_space(trial) -> overrides`` for the Optuna harness. An *experiment*
is a config file ``reprorec/papers/<paper>/configs/<dataset>-<method>.yaml``; tuned configs live in
``configs/tuned/`` and win over the hand-written ones when ``use_tuned`` is asked for.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

PAPERS_DIR = Path(__file__).resolve().parent / "papers"


@dataclass(frozen=True)
class Method:
    paper: str
    name: str
    run: Callable
    search_space: Callable | None = None
    doc: str = ""


_METHODS: dict[tuple[str, str], Method] = {}


def register(paper: str, name: str, search_space: Callable | None = None):
    """Decorator: ``@register("r3", "r3")`` on ``def run(cfg, ctx) -> RunResult``."""
    def deco(fn):
        _METHODS[(paper, name)] = Method(paper, name, fn, search_space, (fn.__doc__ or "").strip())
        return fn
    return deco


def papers() -> list[str]:
    """Paper packages under papers/ (folders with an __init__.py), imported so they register."""
    names = sorted(p.parent.name for p in PAPERS_DIR.glob("*/__init__.py"))
    for name in names:
        importlib.import_module(f"reprorec.papers.{name}")
    return names


def method(paper: str, name: str) -> Method:
    if paper not in papers():
        raise KeyError(f"unknown paper {paper!r}; known: {', '.join(papers())}")
    if (paper, name) not in _METHODS:
        known = sorted(m for p, m in _METHODS if p == paper)
        raise KeyError(f"unknown method {name!r} for paper {paper!r}; known: {', '.join(known)}")
    return _METHODS[(paper, name)]


def methods(paper: str | None = None) -> list[Method]:
    papers()
    return [m for (p, _), m in sorted(_METHODS.items()) if paper is None or p == paper]


def config_files(paper: str) -> list[Path]:
    """The paper's experiments: every YAML in its configs/ (tuned/ excluded), sorted."""
    return sorted((PAPERS_DIR / paper / "configs").glob("*.yaml"))


def tuned_config_path(paper: str, dataset: str, method_name: str) -> Path:
    return PAPERS_DIR / paper / "configs" / "tuned" / f"{dataset}-{method_name}.yaml"


def find_config(paper: str, dataset: str, method_name: str, use_tuned: bool = False) -> Path:
    from .config import load

    if use_tuned and tuned_config_path(paper, dataset, method_name).exists():
        return tuned_config_path(paper, dataset, method_name)
    for path in config_files(paper):
        cfg = load(path)
        if cfg["dataset"] == dataset and cfg["method"] == method_name:
            return path
    raise FileNotFoundError(f"no config for paper={paper} dataset={dataset} method={method_name} "
                            f"in {PAPERS_DIR / paper / 'configs'}")
