"""Names -> things: one `Resolver` class for every name lookup (methods, KGE and CTR models, KGE losses,
split kinds, negative sampling, quantisation precisions, MF-LET facet pretraining, tuning samplers and
pruners), and the method/experiment registry built on it. Papers register themselves; nothing here knows a paper.

A *method* is a function ``run(cfg, ctx) -> RunResult`` registered under (paper, method name),
optionally with a ``search_space(trial) -> overrides`` for the Optuna harness. An *experiment*
is a config file ``reprorec/papers/<paper>/configs/<dataset>-<method>.yaml``; tuned configs live in
``configs/tuned/`` and win over the hand-written ones when ``use_tuned`` is asked for.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")
PAPERS_DIR = Path(__file__).resolve().parent / "papers"


class UnknownName(KeyError, ValueError):
    """An unknown name: a KeyError for lookups and a ValueError for callers that validate settings; its
    text is the one-line message (a plain KeyError would print it quoted)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Resolver(Generic[T]):
    """name -> class (or function), after PyKEEN's class_resolver, in small.

    Names are matched normalised (case, '-', '_' and spaces ignored: 'TransRA', 'trans-ra' and
    'transra' are one name); an unknown name raises a one-line `UnknownName` (a KeyError and a ValueError)
    that lists the known ones;
    two different names that normalise alike are refused (registering the same name again replaces
    it, e.g. on a module reload).
    """

    def __init__(self, kind: str, items: dict[str, T] | None = None):
        self.kind = kind
        self._items: dict[str, tuple[str, T]] = {}
        for name, value in (items or {}).items():
            self.register(name, value)

    @staticmethod
    def normalize(name: str) -> str:
        return "".join(ch for ch in str(name).lower() if ch not in "-_ ")

    def register(self, name: str, value: T) -> T:
        key = self.normalize(name)
        if key in self._items and self._items[key][0] != name:
            raise ValueError(f"{self.kind} {name!r} clashes with {self._items[key][0]!r} (same normalised name)")
        self._items[key] = (name, value)
        return value

    def unregister(self, name: str) -> None:
        self._items.pop(self.normalize(name), None)

    def lookup(self, name: str) -> T:
        try:
            return self._items[self.normalize(name)][1]
        except KeyError:
            raise UnknownName(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}") from None

    def canonical(self, name: str) -> str:
        """The registered spelling of ``name`` ('Self-Adversarial' -> 'self_adversarial')."""
        self.lookup(name)
        return self._items[self.normalize(name)][0]

    def make(self, name: str, *args, **kwargs):
        """``lookup(name)(*args, **kwargs)``: build an instance of the named class."""
        return self.lookup(name)(*args, **kwargs)

    def names(self) -> list[str]:
        return sorted(name for name, _ in self._items.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.normalize(name) in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Method:
    paper: str
    name: str
    run: Callable
    search_space: Callable | None = None
    doc: str = ""
    schema: type | None = None  # a reprorec.config.Experiment subclass: the method's config keys and defaults


_METHODS: dict[str, Resolver[Method]] = {}  # paper -> its methods


def register(paper: str, name: str, search_space: Callable | None = None, schema: type | None = None):
    """Decorator: ``@register("r3", "r3", schema=R3Config)`` on ``def run(cfg, ctx) -> RunResult``."""
    def deco(fn):
        methods_of = _METHODS.setdefault(paper, Resolver(f"{paper} method"))
        methods_of.register(name, Method(paper, name, fn, search_space, (fn.__doc__ or "").strip(), schema))
        return fn
    return deco


def unregister(paper: str, name: str) -> None:
    if paper in _METHODS:
        _METHODS[paper].unregister(name)


def papers() -> list[str]:
    """Paper packages under papers/ (folders with an __init__.py), imported so they register."""
    names = sorted(p.parent.name for p in PAPERS_DIR.glob("*/__init__.py"))
    for name in names:
        importlib.import_module(f"reprorec.papers.{name}")
    return names


def method(paper: str, name: str) -> Method:
    if paper not in papers():
        raise KeyError(f"unknown paper {paper!r}; known: {', '.join(papers())}")
    return _METHODS.get(paper, Resolver(f"{paper} method")).lookup(name)


def methods(paper: str | None = None) -> list[Method]:
    papers()
    return [_METHODS[p].lookup(m) for p in sorted(_METHODS) if paper is None or p == paper for m in _METHODS[p]]


def config_files(paper: str) -> list[Path]:
    """The paper's experiments: every YAML in its configs/ (tuned/ and layer files excluded), sorted."""
    from .config import is_layer

    return sorted(p for p in (PAPERS_DIR / paper / "configs").glob("*.yaml") if not is_layer(p))


def experiment_configs(paper: str, warn: bool = True) -> list[tuple[Path, dict]]:
    """(file, loaded config) of every experiment of ``paper``; a file that does not load (malformed YAML,
    a broken layer) is skipped with a one-line warning, so it never breaks commands about the others."""
    import sys

    from .config import ConfigError, load

    out = []
    for path in config_files(paper):
        try:
            out.append((path, load(path)))
        except ConfigError as exc:
            if warn:
                print(f"warning: skipped {exc}", file=sys.stderr)
    return out


def tuned_config_path(paper: str, dataset: str, method_name: str) -> Path:
    return PAPERS_DIR / paper / "configs" / "tuned" / f"{dataset}-{method_name}.yaml"


def experiment_name(cfg_or_record: dict) -> str:
    """The experiment (arm) a config or record belongs to: its file name minus the dataset, e.g.
    'kge-attention-transe' for method kge-attention with kge.model transe. Several experiments may share
    one method and differ in config; this is the name the leaderboard and the reports show."""
    file = cfg_or_record.get("config_file") or cfg_or_record.get("_file")
    stem = Path(file).stem if file else ""
    prefix = f"{cfg_or_record['dataset']}-"
    return stem[len(prefix):] if stem.startswith(prefix) and "/tuned/" not in str(file) else cfg_or_record["method"]


def find_config(paper: str, dataset: str, method_name: str, use_tuned: bool = False) -> Path:
    """The experiment file for ``method_name`` on ``dataset``: ``method_name`` is a method, or an experiment
    name when several experiments share a method (``kge-attention-transe``)."""
    if use_tuned and tuned_config_path(paper, dataset, method_name).exists():
        return tuned_config_path(paper, dataset, method_name)
    by_name = PAPERS_DIR / paper / "configs" / f"{dataset}-{method_name}.yaml"
    if by_name in config_files(paper):
        return by_name
    matches = [path for path, cfg in experiment_configs(paper, warn=False)
               if cfg["dataset"] == dataset and cfg["method"] == method_name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(p.stem[len(dataset) + 1:] for p in matches)
        raise KeyError(f"method {method_name} has several experiments on {dataset}: {names}; name one")
    raise FileNotFoundError(f"no config for paper={paper} dataset={dataset} method={method_name} "
                            f"in {PAPERS_DIR / paper / 'configs'}")
