"""Progress bars: drawn on a terminal, silent in logs and captured output unless asked for."""
from __future__ import annotations

import io

import torch

from reprorec import progress
from reprorec.kge.models import TransE
from reprorec.kge.training import KGETrainConfig, train_kge
from reprorec.kge.triples import TripleSet


def test_bars_follow_the_tty_and_the_override(monkeypatch):
    monkeypatch.delenv("REPRO_PROGRESS", raising=False)
    assert progress.enabled() is False  # pytest captures stderr: not a TTY
    monkeypatch.setenv("REPRO_PROGRESS", "1")
    assert progress.enabled() is True and progress.enabled(False) is False
    buf = io.StringIO()
    for _ in progress.bar(range(3), desc="work", file=buf):
        pass
    assert "work" in buf.getvalue()
    monkeypatch.setenv("REPRO_PROGRESS", "0")
    buf = io.StringIO()
    for _ in progress.bar(range(3), desc="work", file=buf):
        pass
    assert buf.getvalue() == ""


def test_kge_training_is_quiet_off_a_terminal(capfd, monkeypatch):
    monkeypatch.delenv("REPRO_PROGRESS", raising=False)
    g = torch.Generator().manual_seed(0)
    triples = torch.stack([torch.randint(0, 20, (200,), generator=g), torch.randint(0, 3, (200,), generator=g),
                           torch.randint(0, 20, (200,), generator=g)], 1)
    model = TransE(20, 3, 8)
    out = train_kge(model, TripleSet(triples, 20, 3), KGETrainConfig(epochs=2, batch_size=64, eval_every=0))
    assert out["epochs"] == 2
    captured = capfd.readouterr()
    assert "KGE epochs" not in captured.err + captured.out
