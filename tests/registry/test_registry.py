"""One name-lookup mechanism: every pluggable family is a `Resolver`, an unknown name is one line that lists
the allowed ones, and the config schema accepts exactly the names the code can build."""
from __future__ import annotations

import importlib
import pkgutil
import types
import typing

import pytest

import reprorec
from reprorec import config as C
from reprorec.registry import Resolver, UnknownName

# (module, attribute): every family of things chosen by name in a config, a CLI flag or a caller
FAMILIES = [
    ("reprorec.kge.models", "MODELS"), ("reprorec.ctr.models", "MODELS"), ("reprorec.kge.losses", "LOSSES"),
    ("reprorec.lightning_glue", "OPTIMIZERS"), ("reprorec.data.splits", "SPLITS"), ("reprorec.data.ctr", "NEGATIVES"),
    ("reprorec.data.tensors", "LOADERS"), ("reprorec.serving.quantize", "BITS"), ("reprorec.tune.storage", "SAMPLERS"),
    ("reprorec.tune.storage", "PRUNERS"), ("reprorec.papers.mflet.pretrain", "PRETRAIN"),
]


def test_names_are_normalised_and_unknown_ones_listed_on_one_line():
    r = Resolver("colour", {"dark_red": 1, "blue": 2})
    assert r.lookup("Dark-Red") == 1 and r.canonical("DARK RED") == "dark_red" and "blue" in r and len(r) == 2
    with pytest.raises(UnknownName) as err:
        r.lookup("green")
    assert str(err.value) == "unknown colour 'green'; known: blue, dark_red"
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)  # lookups and settings checks
    with pytest.raises(ValueError, match="clashes"):
        r.register("darkred", 3)


@pytest.mark.parametrize("module,attr", FAMILIES, ids=[f"{m.removeprefix('reprorec.')}.{a}" for m, a in FAMILIES])
def test_every_family_is_a_resolver(module, attr):
    family = getattr(importlib.import_module(module), attr)
    assert isinstance(family, Resolver) and len(family) >= 2
    with pytest.raises(UnknownName, match=f"; known: {', '.join(family.names())}$"):
        family.lookup("no-such-name")


def _literal(model, *path: str) -> set[str]:
    for name in path:
        model = model.model_fields[name].annotation
        if typing.get_origin(model) in (typing.Union, types.UnionType):  # Optional[X] -> X
            model = next(a for a in typing.get_args(model) if a is not type(None))
    return set(typing.get_args(model))


def test_the_schema_accepts_exactly_the_names_the_code_builds():
    from reprorec.data.splits import SPLITS
    from reprorec.kge.losses import LOSSES
    from reprorec.kge.training import KGETrainKeys
    from reprorec.lightning_glue import OPTIMIZERS

    assert _literal(C.SupervisedTrain, "optimizer") == set(OPTIMIZERS.names())
    assert _literal(KGETrainKeys, "loss") == set(LOSSES.names())
    kinds = {t.model_fields["kind"].annotation for t in typing.get_args(typing.get_args(C.Split)[0])}
    assert {typing.get_args(k)[0] for k in kinds} == set(SPLITS.names())


def test_no_module_keeps_a_hand_rolled_name_table():
    """A module-level dict from names to classes or functions is a second lookup mechanism: use a Resolver."""
    tables = []
    for info in pkgutil.walk_packages(reprorec.__path__, "reprorec."):
        module = importlib.import_module(info.name)
        for attr, value in vars(module).items():
            if isinstance(value, dict) and len(value) > 1 and all(isinstance(k, str) for k in value) \
                    and all(callable(v) for v in value.values()):
                tables.append(f"{info.name}.{attr}")
    assert not tables, f"name tables outside the Resolver: {tables}"
