"""Every experiment whose method declares an Optuna search space can be tuned: the space samples on a
dry run and every key it sets exists in that experiment's config (a misspelt key would otherwise tune
nothing and silently return the untuned number as 'best')."""
from __future__ import annotations

import pytest

from reprorec import config as C
from reprorec import registry
from reprorec.tune.storage import dry_run


# Keys the training code reads with a default when a config leaves them out (SupervisedModule and
# CTRModule: weight_decay = 0.0), so a search space may set them on any config.
CODE_DEFAULTS = {"train.weight_decay"}


def _leaves(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def _tunable():
    for path in (p for paper in registry.papers() for p in registry.config_files(paper)):
        cfg = C.load(path)
        method = registry.method(cfg["paper"], cfg["method"])
        if method.search_space is not None:
            yield pytest.param(path, method, id=f"{cfg['paper']}/{path.stem}")


@pytest.mark.parametrize("path,method", list(_tunable()))
def test_search_space_only_sets_keys_the_config_has(path, method):
    overrides, distributions = dry_run(method.search_space, f"{method.paper}/{method.name}")
    cfg = C.resolve(C.load(path), "quick", [])
    missing = [k for k in _leaves(overrides) if C.get(cfg, k) is None and k not in CODE_DEFAULTS]
    assert not missing, f"{path.name}: search space sets {missing}, absent from the config"
    assert distributions
