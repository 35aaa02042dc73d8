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


def test_biased_mf_space_is_sgd_in_surprise_units_and_holds_surprise_defaults():
    """lr = lr_per_rating * batch / 2 makes one rating's step that of scikit-surprise's SVD (lr_all); its
    defaults (lr_all 0.005, reg_all 0.02, init std 0.1, 100 factors) must lie strictly inside the ranges."""
    import optuna

    space = registry.method("baselines", "biased-mf").search_space
    for seed in range(5):
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
        out = space(trial)
        assert out["train"]["optimizer"] == "sgd"
        assert out["train"]["lr"] == pytest.approx(trial.params["lr_per_rating"] * out["train"]["batch_size"] / 2)
    dists = trial.distributions
    for name, surprise in (("lr_per_rating", 0.005), ("model.reg", 0.02), ("model.init_std", 0.1)):
        assert dists[name].low < surprise < dists[name].high, name
    dims = dists["model.dim"].choices
    assert min(dims) < 100 < max(dims)
