"""Which datasets a paper's experiments may run on: rules declared by the paper, checked at run time.

A paper package may define ``eligibility(cfg) -> (stats, failed)``: the dataset statistics its rules
read (a dict) and one short sentence per failed rule (empty when the dataset qualifies). Every run
(`reprorec.experiment.run_experiment`: run, sweep, tune, reproduce, replicate) calls `check` on its
resolved config before anything trains, so a dataset that fails is refused in one line naming the
rule, whatever command started it. Exploration on such a dataset is allowed with the config key
``allow_ineligible: true`` (``--set allow_ineligible=true``): that key is part of the config hash, so
such runs never mix with eligible ones, and the record carries what failed (``eligibility``).
"""
from __future__ import annotations

import importlib

from .config import ConfigError


def hook(paper: str, name: str):
    """A paper-level function (``eligibility``, ``derive_experiments``, ...) or None when not declared
    (or when ``paper`` is no package under reprorec/papers, e.g. a test's made-up paper)."""
    try:
        module = importlib.import_module(f"reprorec.papers.{paper}")
    except ModuleNotFoundError as exc:
        if exc.name != f"reprorec.papers.{paper}":
            raise
        return None
    return getattr(module, name, None)


def evaluate(cfg: dict) -> dict | None:
    """{'stats', 'failed'} for the config's dataset under its paper's rules; None when it has none."""
    rules = hook(cfg["paper"], "eligibility")
    if rules is None:
        return None
    stats, failed = rules(cfg)
    return {"stats": stats, "failed": list(failed)}


def check(cfg: dict) -> dict | None:
    """The record's ``eligibility`` entry; a one-line ConfigError when a rule fails and no override."""
    out = evaluate(cfg)
    if out is None:
        return None
    if out["failed"] and not cfg.get("allow_ineligible"):
        raise ConfigError(f"{cfg['dataset']} is not eligible for {cfg['paper']}: {'; '.join(out['failed'])} "
                          f"(--set allow_ineligible=true runs it anyway, for exploration)")
    return {**out, "eligible": not out["failed"], "overridden": bool(out["failed"])}
