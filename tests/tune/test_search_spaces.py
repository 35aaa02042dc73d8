"""Every experiment whose method declares an Optuna search space can be tuned: the space samples on a
dry run and every key it sets is a key of the method's config schema, with a valid value (a misspelt
key would otherwise tune nothing and silently return the untuned number as 'best')."""
from __future__ import annotations

import pytest

from reprorec import config as C
from reprorec import registry
from reprorec.tune.storage import dry_run


def _tunable():
    for path in (p for paper in registry.papers() for p in registry.config_files(paper)):
        cfg = C.load(path)
        method = registry.method(cfg["paper"], cfg["method"])
        if method.search_space is not None:
            yield pytest.param(path, method, id=f"{cfg['paper']}/{path.stem}")


@pytest.mark.parametrize("path,method", list(_tunable()))
def test_search_space_only_sets_schema_keys(path, method):
    overrides, distributions = dry_run(method.search_space, f"{method.paper}/{method.name}")
    cfg = C.resolve(C.load(path), "quick", overrides)
    assert C.validate_config(cfg) == [], f"{path.name}: the search space sets keys or values its schema rejects"
    assert distributions
