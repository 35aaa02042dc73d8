"""Experiment configs: layered YAML -> plain dict, profile / study / ``key=value`` overrides, a schema per
method, a stable hash.

A config file ``reprorec/papers/<paper>/configs/<dataset>-<method>.yaml`` has the keys
  paper, dataset, method, source (where the values come from), metric {name, mode},
  data {...}, model {...}, train {...}, profiles {quick: {...}, full: {...}},
  reference [{metric, value, source, note}]   # published numbers, never mixed with ours
and only what differs from its layers: ``configs/defaults.yaml`` of the same folder (when present) is
the bottom layer of every experiment there, and ``extends: <file>`` (relative to the file, repeatable
as a list) puts further files in between. Layer files are not experiments (``defaults.yaml`` and files
whose name starts with ``_``).

Resolution: layers -> file -> profiles[profile] -> study -> overrides, each deep-merged. The recorded
config is exactly that (schema defaults are NOT injected), so a config's hash only changes when one
of its files does. The hash covers the resolved config minus ``profiles``, ``reference``, ``source``
and ``tuned_from``, so editing a reference never invalidates a result.

Schema. Each registered method declares one pydantic model of its whole config
(``register(paper, name, schema=...)``): typed keys, their defaults, ranges and allowed values. Code
reads values through ``settings(cfg)`` (a validated, typed view with the defaults filled in), so a
default lives in the schema and nowhere else.

Why pydantic (v2) rather than dataclasses: the configs are nested, hand-written YAML, and what a user
needs from a check is the exact key, what was given and what is allowed. Pydantic reports every
error with its full location, forbids unknown keys per section (``extra="forbid"``), does range checks
(``Field(ge=1)``), ``Literal`` choices and the lax coercions YAML needs (PyYAML reads ``1e-3`` as the
string "1e-3") in one declaration, where dataclasses would need a hand-written validator of the same
size as the schema itself. It is already a dependency of the stack (Lightning, wandb).
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

NOT_HASHED = ("profiles", "reference", "source", "tuned_from")  # tuned_from: provenance of a configs/tuned/ file
BUILTIN_PROFILES = ("quick", "full")  # always valid; a file that does not define one changes nothing under it
LAYER_NAMES = ("defaults.yaml",)


class ConfigError(ValueError):
    """A config problem, said in one line (the CLI prints it as ``error: <message>``)."""


# ---------------------------------------------------------------------------------------------- schema
class Section(BaseModel):
    """A block of a config: unknown keys are errors; values are coerced the way YAML needs."""
    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())


PosInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
UnitInterval = Annotated[float, Field(ge=0, lt=1)]   # [0, 1)
Dropout = UnitInterval
Fraction = Annotated[float, Field(gt=0, lt=1)]       # (0, 1)


class Metric(Section):
    name: str
    mode: Literal["min", "max"] = "min"


class Study(Section):
    """Which named study (a variant of an experiment) produced this config, and at which grid point."""
    name: str
    point: Optional[dict[str, Any]] = None


class Execution(Section):
    """Trainer settings that change numbers (several processes, lower precision); set by the runner."""
    devices: Any = None
    num_nodes: Optional[int] = None
    strategy: Optional[str] = None
    precision: Optional[str] = None


class FitTrain(Section):
    """The ``train`` keys of every Lightning run (reprorec/train.py)."""
    max_epochs: PosInt = 10
    patience: Optional[NonNegInt] = None      # early stopping on the validation metric (None/0 = off)
    precision: str = "32-true"
    gradient_clip: Optional[PosFloat] = None


class SupervisedTrain(FitTrain):
    """``train`` of a model fitted by reprorec.lightning_glue.SupervisedModule."""
    lr: PosFloat
    weight_decay: NonNegFloat = 0.0
    optimizer: Literal["adam", "adamw", "sgd", "adagrad"] = "adam"
    batch_size: PosInt = 1024
    eval_batch_size: PosInt = 8192


class RandomSplit(Section):
    kind: Literal["random"] = "random"
    ratios: tuple[Fraction, Fraction, Fraction] = (0.8, 0.1, 0.1)


class LeaveLastOutSplit(Section):
    kind: Literal["leave_last_out"]


class TimeCutSplit(Section):
    kind: Literal["time_cut"]
    val_start: float
    test_start: float


Split = Annotated[RandomSplit | LeaveLastOutSplit | TimeCutSplit, Field(discriminator="kind")]


class Experiment(Section):
    """Keys every experiment has; a method's schema subclasses this and adds its blocks."""
    paper: str
    dataset: str
    method: str
    profile: str = "quick"
    source: Optional[str] = None
    metric: Metric
    leaderboard_note: str = ""
    profiles: dict[str, Optional[dict[str, Any]]] = {}
    reference: list[dict[str, Any]] = []
    tuned_from: Optional[dict[str, Any]] = None
    study: Optional[Study] = None
    execution: Optional[Execution] = None
    allow_ineligible: bool = False  # run on a dataset the paper's eligibility rules refuse (reprorec/eligibility.py)


def experiment_schema(**blocks: type[Section]) -> type[Experiment]:
    """An Experiment subclass with the given blocks (named after them); a block whose keys all have
    defaults may be left out of a config (it then takes its defaults), one with a required key may not."""
    defaults = {k: b() for k, b in blocks.items() if not any(f.is_required() for f in b.model_fields.values())}
    name = "".join(b.__name__ for b in blocks.values()) + "Config"
    return type(name, (Experiment,), {"__annotations__": blocks, **defaults})


# ---------------------------------------------------------------------------------------------- files
def deep_merge(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in update.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def read_yaml(path: str | Path) -> Any:
    """YAML -> Python, or a one-line ConfigError naming file:line:col."""
    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        what = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise ConfigError(f"{where}: malformed YAML: {what}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None


def is_layer(path: str | Path) -> bool:
    """Layer files (``defaults.yaml``, ``_*.yaml``) hold shared values; they are not experiments."""
    name = Path(path).name
    return name in LAYER_NAMES or name.startswith("_")


def _layers(path: Path, seen: tuple[Path, ...] = ()) -> list[tuple[Path, dict]]:
    """[(file, mapping)] bottom layer first: defaults.yaml of the folder, the ``extends`` chain, the file."""
    if path in seen:
        raise ConfigError(f"{path}: extends itself (cycle: {' -> '.join(map(str, seen + (path,)))})")
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a YAML mapping")
    out: list[tuple[Path, dict]] = []
    defaults = path.parent / "defaults.yaml"
    if not seen and defaults.exists() and path.name != "defaults.yaml":
        out += _layers(defaults, seen + (path,))
    parents = data.pop("extends", None) or []
    for parent in [parents] if isinstance(parents, str) else parents:
        parent_path = Path(os.path.normpath(path.parent / parent))
        out += [x for x in _layers(parent_path, seen + (path,)) if x[0] not in {p for p, _ in out}]
    return out + [(path, data)]


def load(path: str | Path) -> dict:
    """The merged layers of one experiment file (profiles not yet applied); ``_file`` names the file and
    ``_layers`` the files that made it (for error messages; neither is hashed)."""
    path = Path(path)
    layers = _layers(path)
    cfg: dict = {}
    for _, data in layers:
        cfg = deep_merge(cfg, data)
    for key in ("paper", "dataset", "method"):
        if key not in cfg:
            raise ConfigError(f"{path}: missing required key {key!r}")
    cfg["_file"] = str(path)
    cfg["_layers"] = [(str(p), d) for p, d in layers]
    return cfg


def parse_override(text: str) -> dict:
    """``train.lr=0.01`` -> {'train': {'lr': 0.01}}; the value is parsed as YAML (numbers, lists, bools)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key.path=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ConfigError(f"{key.strip()} in --set {text}: the value is not valid YAML") from None
    node: dict[str, Any] = {}
    cur = node
    parts = key.strip().split(".")
    for p in parts[:-1]:
        cur = cur.setdefault(p, {})
    cur[parts[-1]] = value
    return node


def parse_flat(text: str) -> tuple[str, Any]:
    """``model.rank=3`` -> ('model.rank', 3)."""
    if "=" not in text:
        raise ConfigError(f"{text!r} is not of the form key.path=value")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw)


def profiles_of(cfg: dict) -> list[str]:
    return sorted(set(BUILTIN_PROFILES) | set(cfg.get("profiles") or {}))


def resolve(cfg: dict, profile: str = "quick", overrides: list[str] | dict | None = None,
            study: dict | None = None) -> dict:
    """``study``: {'name', 'set' (overrides), 'point' (grid point or None), 'file'}: see reprorec.studies."""
    known = profiles_of(cfg)
    if profile not in known:
        raise ConfigError(f"unknown profile {profile!r} for {cfg.get('_file', 'this config')}; "
                          f"known: {', '.join(known)}")
    out = deep_merge({k: v for k, v in cfg.items() if k != "profiles"}, (cfg.get("profiles") or {}).get(profile) or {})
    out["profiles"] = cfg.get("profiles", {})
    if study:
        out = deep_merge(out, study.get("set") or {})
        out["study"] = {"name": study["name"], **({"point": study["point"]} if study.get("point") else {})}
        out["_study_file"], out["_study_set"] = study.get("file"), study.get("set") or {}
    if isinstance(overrides, dict):
        out = deep_merge(out, overrides)
        out["_override_dict"] = overrides
    else:
        for text in overrides or []:
            out = deep_merge(out, parse_override(text))
    out["profile"] = profile
    if isinstance(overrides, list):
        out["_overrides"] = list(overrides)
    return out


def hashed_part(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k not in NOT_HASHED and not k.startswith("_")}


def config_hash(cfg: dict) -> str:
    blob = json.dumps(hashed_part(cfg), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def get(cfg: dict, dotted: str, default=None):
    """Raw lookup in a config dict (no schema): for code that handles records of any method."""
    cur: Any = cfg
    for p in dotted.split("."):
        if not isinstance(cur, dict) or p not in cur:
            return default
        cur = cur[p]
    return cur


# ---------------------------------------------------------------------------------------------- validation
def schema_of(cfg: dict) -> type[Experiment]:
    from . import registry

    return registry.method(cfg["paper"], cfg["method"]).schema or Experiment


def _public(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if not k.startswith("_")}


def settings(cfg: dict) -> Experiment:
    """The typed view of a resolved config under its method's schema, defaults filled in."""
    try:
        return schema_of(cfg).model_validate(_public(cfg))
    except ValidationError as exc:
        raise ConfigError(_messages(exc, schema_of(cfg), cfg)[0]) from None


def section(cfg: dict, name: str, model: type[Section]) -> Section:
    """One block read through ``model``, ignoring keys that belong to others: for shared code (the
    Lightning trainer) that runs under every method's schema."""
    block = cfg.get(name) or {}
    try:
        return model.model_validate({k: v for k, v in block.items() if k in model.model_fields})
    except ValidationError as exc:
        raise ConfigError(_messages(exc, model, cfg, prefix=(name,))[0]) from None


def metric(cfg: dict) -> Metric:
    return Metric.model_validate(cfg["metric"])


def validate_config(cfg: dict, schema: type[Experiment] | None = None) -> list[str]:
    """One line per problem of a resolved config under its method's schema ([] when valid). Each line
    names the key, where its value came from (a file, a profile, a --set) and what is allowed."""
    try:
        schema = schema or schema_of(cfg)
    except KeyError as exc:
        return [str(exc.args[0]) if exc.args else str(exc)]
    try:
        schema.model_validate(_public(cfg))
        return []
    except ValidationError as exc:
        return _messages(exc, schema, cfg)


def check(cfg: dict) -> dict:
    """``cfg`` unchanged when valid; otherwise a ConfigError with the first problem (one line)."""
    problems = validate_config(cfg)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(problems[0] + more)
    return cfg


def _sub_model(model: Any, loc: tuple) -> Any:
    """The pydantic model that owns the key at ``loc`` (None when it is not a model)."""
    import typing

    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
        args = [a for a in typing.get_args(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
        model = ann if isinstance(ann, type) else (args[0] if len(args) == 1 else None)
    return model


def origin(cfg: dict, dotted: str) -> str:
    """Where the value at ``dotted`` came from: the --set that set it, the profile block, or the file."""
    for text in reversed(cfg.get("_overrides") or []):
        key = text.split("=", 1)[0].strip()
        if key == dotted or dotted.startswith(key + ".") or key.startswith(dotted + "."):
            return f"--set {text}"
    if get(cfg.get("_override_dict") or {}, dotted) is not None:
        return "the given overrides (e.g. a record's config)"
    study = cfg.get("study")
    if isinstance(study, dict) and study.get("name") and cfg.get("_study_file"):
        if get(cfg.get("_study_set") or {}, dotted) is not None:
            return f"{cfg['_study_file']} (study {study['name']})"
    prof = cfg.get("profile")
    for path, data in reversed(cfg.get("_layers") or []):
        if prof and get((data.get("profiles") or {}).get(prof) or {}, dotted) is not None:
            return f"{path} (profiles.{prof})"
        if get(data, dotted) is not None or (dotted in data):
            return str(path)
    return cfg.get("_file") or "the config"


def _messages(exc: ValidationError, schema: type[BaseModel], cfg: dict, prefix: tuple = ()) -> list[str]:
    out = []
    for err in exc.errors():
        loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p in ("random", "leave_last_out",
                                                                                         "time_cut")))
        dotted = ".".join(str(p) for p in loc)
        where = origin(cfg, dotted)
        if err["type"] == "extra_forbidden":
            owner = _sub_model(schema, loc[len(prefix):-1]) if not prefix else _sub_model(schema, loc[1:-1])
            allowed = ", ".join(owner.model_fields) if owner is not None else "(see the method's schema)"
            what = f"unknown key; allowed: {allowed}"
        elif err["type"] == "missing" and isinstance(loc[-1], int):
            dotted = ".".join(str(p) for p in loc[:-1])
            what = f"too few values; got {get(cfg, dotted)!r}"
        elif err["type"] == "missing":
            what = "required key is missing"
        else:
            what = f"{err['msg'].removeprefix('Input ')}; got {err.get('input')!r}"
        out.append(f"{dotted} in {where}: {what}")
    return out


def check_file(path: str | Path) -> list[str]:
    """Every problem of an experiment file, under every profile it declares (one line each)."""
    try:
        raw = load(path)
        out: list[str] = []
        for prof in profiles_of(raw):
            out += [m for m in validate_config(resolve(raw, prof)) if m not in out]
        return out
    except ConfigError as exc:
        return [str(exc)]

