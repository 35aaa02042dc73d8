"""Test isolation: tests read the real shared data offline and never write into results/ or runs/."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# REPRO_DATA_DIR when set (a git worktree elsewhere than beside ../shared), else ../shared/data beside the repo
SHARED_DATA = Path(os.environ.get("REPRO_DATA_DIR") or REPO / ".." / "shared" / "data").resolve()

os.environ.setdefault("REPRO_DATA_DIR", str(SHARED_DATA))
os.environ["REPRO_OFFLINE"] = "1"
os.environ.setdefault("WANDB_MODE", "offline")


@pytest.fixture(autouse=True)
def _isolated_outputs(tmp_path, monkeypatch):
    """Each test gets its own results/, runs/, leaderboards/ and processed-table cache."""
    monkeypatch.setenv("REPRO_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("REPRO_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("REPRO_LEADERBOARDS_DIR", str(tmp_path / "leaderboards"))
    cache = os.environ.get("REPRO_TEST_CACHE_DIR") or str(tmp_path / "cache")
    monkeypatch.setenv("REPRO_CACHE_DIR", cache)
    yield


@pytest.fixture
def data_dir() -> Path:
    path = Path(os.environ["REPRO_DATA_DIR"])
    if not path.exists():
        pytest.fail(f"shared data not found at {path}; tests need $REPRO_DATA_DIR or ../shared/data beside the repo")
    return path


@pytest.fixture
def one_thread():
    """Tiny models: extra torch threads only add synchronisation cost on a shared small machine."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def pytest_generate_tests(metafunc):
    """A paper's contract tests (tests/cases.py: PaperCase) run once per method the paper registers."""
    paper = getattr(metafunc.cls, "paper", "") if metafunc.cls is not None else ""
    if paper and "method" in metafunc.fixturenames:
        from reprorec import registry

        metafunc.parametrize("method", [m.name for m in registry.methods(paper)])
