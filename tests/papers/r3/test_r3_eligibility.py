"""R3's eligibility rules in code: computed from the data, refused in one line, overridable and recorded."""

import pytest

from reprorec import config as C
from reprorec import registry
from reprorec.config import ConfigError
from reprorec.data import amazon
from reprorec.eligibility import check, evaluate
from reprorec.experiment import run_experiment
from reprorec.papers.r3 import replication as R

pytestmark = pytest.mark.usefixtures("data_dir")


@pytest.fixture
def data_dir(request):
    from reprorec.data import data_dir as current

    if not (current() / "amazon" / "reviews_Musical_Instruments_5.json.gz").exists():
        pytest.skip("no Amazon data (REPRO_DATA_DIR)")
    return current()


def _cfg(dataset, method="bias", profile="quick", **top):
    cfg = C.resolve(C.load(registry.find_config("r3", "amazon-musical-instruments", method)), profile)
    return {**cfg, "dataset": dataset, **top}


def test_thresholds_sort_the_shared_files_as_the_readme_says():
    verdict = {d: evaluate(_cfg(d)) for d in amazon.available()}
    assert not verdict["amazon-musical-instruments"]["failed"]
    assert not verdict["amazon18-gift-cards"]["failed"]
    assert not verdict["amazon18-magazine-subscriptions"]["failed"]
    app = verdict["amazon18-appliances"]
    assert app["stats"]["train_reviews"] == 113 and len(app["failed"]) == 1 and "training reviews" in app["failed"][0]
    fashion = verdict["amazon18-amazon-fashion"]
    assert fashion["stats"]["median_reviews_per_user"] == 1.0
    assert any("per user" in f for f in fashion["failed"])


def test_ineligible_dataset_refused_in_one_line_naming_the_rule():
    with pytest.raises(ConfigError) as exc:
        check(_cfg("amazon18-appliances"))
    msg = str(exc.value)
    assert "\n" not in msg and "amazon18-appliances is not eligible for r3" in msg
    assert f"113 training reviews (rule: at least {R.MIN_TRAIN_REVIEWS})" in msg and "allow_ineligible" in msg


def test_rule_follows_the_split_ratios():
    """The training-review count is the config's split, not a fixed 80%: a 40% split of Gift Cards (883) fails."""
    cfg = _cfg("amazon18-gift-cards")
    cfg["data"] = {**cfg["data"], "split": {"kind": "random", "ratios": [0.4, 0.3, 0.3]}}
    with pytest.raises(ConfigError, match="training reviews"):
        check(cfg)


def test_run_refuses_and_override_is_recorded(tmp_path):
    path = registry.find_config("r3", "amazon18-gift-cards", "bias")
    over = {"dataset": "amazon18-appliances", "train": {"max_epochs": 1}}
    with pytest.raises(ConfigError, match="not eligible"):
        run_experiment(path, overrides=over, results_root=tmp_path, run_dir=tmp_path / "run")
    out = run_experiment(path, overrides={**over, "allow_ineligible": True}, results_root=tmp_path,
                         run_dir=tmp_path / "run2")
    e = out.record["eligibility"]
    assert out.record["config"]["allow_ineligible"] is True and e["overridden"] and not e["eligible"]
    assert "training reviews" in e["failed"][0] and e["stats"]["reviews"] == 141


def test_eligible_run_records_its_statistics(tmp_path):
    path = registry.find_config("r3", "amazon18-gift-cards", "global-mean")
    out = run_experiment(path, results_root=tmp_path, run_dir=tmp_path / "run")
    e = out.record["eligibility"]
    assert e["eligible"] and not e["overridden"] and e["stats"]["train_reviews"] == 1766
    assert "allow_ineligible" not in out.record["config"]  # a main experiment's hash is untouched
