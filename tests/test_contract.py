"""Meta-tests: every paper folder follows the contract, and nothing registered goes untested."""
from __future__ import annotations

import importlib
import re

import pytest

from reprorec import registry
from reprorec.papers import README_HEADINGS
from tests import cases

# the modules that subclass the shared cases (imported here so the check does not depend on what pytest collected)
CASE_MODULES = ("tests.papers.test_paper_contracts", "tests.kge.test_kge_models", "tests.ctr.test_ctr_models",
                "tests.rating.test_rating_models")
REQUIRED = ("__init__.py", "methods.py", "models.py", "README.md", "configs")
# data.py, pretrain.py (cached pretrained vectors), report.py (figures, tables), claims.yaml (the claims layer),
# native.py + *.cpp (a compiled kernel and its loader), replication.py (the eligibility and derive_experiments
# hooks: reprorec/eligibility.py, reprorec/replicate.py), tuning.yaml (an equal tuning budget:
# reprorec/tune/budget.py). Variants are named studies (configs/studies/) run by
# `reprorec sweep`, profiles run by `reprorec reproduce --profile`: no paper keeps its own runner script.
OPTIONAL = ("data.py", "pretrain.py", "report.py", "claims.yaml", "native.py", "replication.py", "tuning.yaml")


@pytest.fixture(scope="module")
def covered() -> dict[str, set[str]]:
    for name in CASE_MODULES:
        importlib.import_module(name)
    return cases.COVERED


def test_every_paper_and_model_has_a_contract_test(covered):
    from reprorec.ctr.models import MODELS as CTR
    from reprorec.kge import MODELS as KGE

    assert set(registry.papers()) <= covered["paper"], "papers without a PaperCase in tests/papers/"
    assert set(KGE) <= covered["kge"], "KGE models without a KGEModelCase"
    assert set(CTR) <= covered["ctr"], "CTR models without a CTRModelCase"


def test_every_registered_method_has_a_config():
    missing = [f"{m.paper}/{m.name}" for m in registry.methods() if cases.method_config(m.paper, m.name) is None]
    assert not missing, f"registered methods without a config: {missing}"


@pytest.mark.parametrize("paper", registry.papers())
def test_paper_folder_has_the_contract_files(paper):
    folder = registry.PAPERS_DIR / paper
    present = {p.name for p in folder.iterdir() if not p.name.startswith((".", "__pycache__"))}
    assert set(REQUIRED) <= present, f"{paper}: missing {set(REQUIRED) - present}"
    odd = {p for p in present - set(REQUIRED + OPTIONAL) if not p.endswith(".cpp")}
    assert not odd, f"{paper}: files outside the contract: {odd}"


@pytest.mark.parametrize("paper", registry.papers())
def test_paper_cites_itself_as_data(paper):
    module = importlib.import_module(f"reprorec.papers.{paper}")
    entries = module.CITATION if isinstance(module.CITATION, list) else [module.CITATION]
    for c in entries:
        assert {"title", "authors", "venue", "year", "url", "bibtex"} <= set(c), c
        assert c["authors"] and c["url"].startswith("https://") and c["bibtex"].startswith("@")


@pytest.mark.parametrize("paper", registry.papers())
def test_readme_has_the_fixed_headings_in_order(paper):
    text = (registry.PAPERS_DIR / paper / "README.md").read_text()
    text = re.sub(r"```.*?```", "", text, flags=re.S)  # '#' lines inside code blocks are comments
    headings = [line.rstrip() for line in text.splitlines() if line.startswith("## ")]
    assert tuple(headings) == README_HEADINGS, headings
