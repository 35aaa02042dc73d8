"""Experiment configs: YAML -> plain dict, profile and ``key=value`` overrides, stable hash.

A config file ``reprorec/papers/<paper>/configs/<dataset>-<method>.yaml`` has the keys
  paper, dataset, method, source (where the values come from), metric {name, mode},
  data {...}, model {...}, train {...}, profiles {quick: {...}, full: {...}},
  reference [{metric, value, source, note}]   # published numbers, never mixed with ours
Resolution: file -> profiles[profile] deep-merged -> overrides. The hash covers the resolved
config minus the `profiles` and `reference` blocks, so editing a reference never invalidates a result.
"""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

NOT_HASHED = ("profiles", "reference", "source", "tuned_from")  # tuned_from: provenance of a configs/tuned/ file


def deep_merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_override(text: str) -> dict:
    """``train.lr=0.01`` -> {'train': {'lr': 0.01}}; the value is parsed as YAML (numbers, lists, bools)."""
    if "=" not in text:
        raise ValueError(f"override {text!r} is not of the form key.path=value")
    key, raw = text.split("=", 1)
    value = yaml.safe_load(raw)
    node: dict[str, Any] = {}
    cur = node
    parts = key.strip().split(".")
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value
    return node


def load(path: str | Path) -> dict:
    with open(path) as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: a config must be a YAML mapping")
    for key in ("paper", "dataset", "method"):
        if key not in cfg:
            raise ValueError(f"{path}: missing required key {key!r}")
    cfg["_file"] = str(path)
    return cfg


def resolve(cfg: dict, profile: str = "quick", overrides: list[str] | dict | None = None) -> dict:
    out = deep_merge({k: v for k, v in cfg.items() if k != "profiles"}, cfg.get("profiles", {}).get(profile) or {})
    out["profiles"] = cfg.get("profiles", {})
    if isinstance(overrides, dict):
        out = deep_merge(out, overrides)
    else:
        for text in overrides or []:
            out = deep_merge(out, parse_override(text))
    out["profile"] = profile
    return out


def hashed_part(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k not in NOT_HASHED and not k.startswith("_")}


def config_hash(cfg: dict) -> str:
    blob = json.dumps(hashed_part(cfg), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def get(cfg: dict, dotted: str, default=None):
    cur: Any = cfg
    for p in dotted.split("."):
        if not isinstance(cur, dict) or p not in cur:
            return default
        cur = cur[p]
    return cur
