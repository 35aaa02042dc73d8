"""Shared test cases: the paper contract and one base case per model family (after PyKEEN's tests/cases.py).

A paper's tests subclass `PaperCase` and name the paper; every method the paper registers is then
checked by the same tests (pytest parametrises ``method`` from the registry, see conftest.py):

  - its config resolves in every profile and names the paper and the method;
  - a tiny run writes a valid record (slow);
  - the same seed gives identical metrics, and a second run that reads the pretrained-vector cache the
    first one wrote gives the same metrics as the first (results independent of caches; slow);
  - a tuning trial (``evaluate_test=False``) reports val only: its objective never sees the test split (slow).

A model family's tests subclass `KGEModelCase`, `CTRModelCase` or `RatingModelCase` once per model
and say how to build a tiny instance. tests/test_contract.py fails when a registered paper, method or
model has no such test.
"""
from __future__ import annotations

import functools
import math
from dataclasses import replace
from typing import ClassVar

import pytest
import torch

from reprorec import config as C
from reprorec import registry
from reprorec.train import RunContext

# every subclass of a case below, by family: {'paper': {'mflet', ...}, 'kge': {'transe', ...}, ...}
COVERED: dict[str, set[str]] = {}


class _Case:
    family: ClassVar[str] = ""
    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if cls.name:
            COVERED.setdefault(cls.family, set()).add(cls.name)


# ---------------------------------------------------------------------------------------------- papers

@functools.lru_cache(maxsize=None)
def _configs(paper: str) -> dict[str, dict]:
    """{method: {dataset: config file}} of a paper's configs/."""
    out: dict[str, dict] = {}
    for path in registry.config_files(paper):
        cfg = C.load(path)
        out.setdefault(cfg["method"], {}).setdefault(cfg["dataset"], path)
    return out


def method_config(paper: str, method: str, prefer: tuple[str, ...] = ()):
    """The config file of ``method``: the first dataset of ``prefer`` that has one, else the first file."""
    found = _configs(paper).get(method)
    if not found:
        return None
    return next((found[d] for d in prefer if d in found), next(iter(found.values())))




def valid_record(rec: dict, paper: str, method: str, seed: int, test: bool = True) -> None:
    """A record passes the records layer's own check, names its run and carries finite metrics."""
    from reprorec.records import check_record

    assert check_record(rec) == []
    assert (rec["paper"], rec["method"], rec["seed"]) == (paper, method, seed)
    # a run reports test (and val where the method has one); a tuning trial reports val and never test
    assert ("test" in rec["metrics"]) == test and ("val" in rec["metrics"] or test), rec["metrics"].keys()
    assert set(rec["metrics"]) <= {"val", "test"}, rec["metrics"].keys()
    for split in rec["metrics"]:
        values = rec["metrics"][split]
        assert values and all(isinstance(v, (int, float)) and math.isfinite(v) for v in values.values()), values


class PaperCase(_Case):
    """Contract of one paper folder; ``method`` is parametrised over the paper's registered methods."""

    family = "paper"
    paper: ClassVar[str] = ""
    prefer: ClassVar[tuple[str, ...]] = ()   # datasets to run the tiny runs on, cheapest first
    profile: ClassVar[str] = "quick"
    tiny: ClassVar[list[str]] = []           # overrides that make a run tiny; one the method's config schema
                                             # rejects (facets.kge.* of an arm without KGE) is dropped
    seed: ClassVar[int] = 1

    def __init_subclass__(cls, **kw):
        cls.name = cls.paper
        super().__init_subclass__(**kw)

    def config(self, method: str) -> dict:
        path = method_config(self.paper, method, self.prefer)
        assert path is not None, f"{self.paper}/{method} has no config in configs/"
        return C.load(path)

    def overrides(self, method: str) -> list[str]:
        raw = self.config(method)
        return [o for o in self.tiny if not C.validate_config(C.resolve(raw, self.profile, [o]))]

    def run(self, method: str, write: bool = False, **ctx_kw):
        from reprorec.experiment import run_experiment

        ctx = replace(RunContext(progress=False), **ctx_kw)
        return run_experiment(method_config(self.paper, method, self.prefer), profile=self.profile, seed=self.seed,
                              overrides=self.overrides(method), ctx=ctx, write=write)

    def test_config_resolves_in_every_profile(self, method):
        raw = self.config(method)
        assert (raw["paper"], raw["method"]) == (self.paper, method)
        for profile in sorted(raw.get("profiles") or {"quick": {}}):
            cfg = C.resolve(raw, profile)
            assert C.get(cfg, "metric.name"), f"{method} [{profile}]: no metric.name"
            assert len(C.config_hash(cfg)) == 12

    @pytest.mark.slow
    def test_tiny_run_writes_a_valid_record_and_same_seed_gives_same_metrics(self, method, one_thread):
        from reprorec.cache import cache_root

        first = self.run(method, write=True)
        assert first.status == "done" and first.path is not None and first.path.exists()
        valid_record(first.record, self.paper, method, self.seed)
        cached = sorted(cache_root().rglob("*.pt"))
        # the second run reads what the first cached (pretrained vectors) and computes nothing new: the
        # same numbers, so a record does not depend on the state of the cache
        again = self.run(method)
        assert sorted(cache_root().rglob("*.pt")) == cached
        assert again.record["metrics"] == first.record["metrics"]

    @pytest.mark.slow
    def test_tuning_trial_never_reports_the_test_split(self, method, one_thread):
        trial = self.run(method, evaluate_test=False)
        valid_record(trial.record, self.paper, method, self.seed, test=False)


# ------------------------------------------------------------------------------------- model families

class _ModelCase(_Case):
    """Shared checks: the resolver (where the family has one) builds the class, outputs are finite and
    batch-shaped, a state dict round trip is exact, and a few optimiser steps fit a tiny batch."""

    steps: ClassVar[int] = 60
    lr: ClassVar[float] = 3e-2

    def make(self) -> torch.nn.Module:
        raise NotImplementedError

    def batch(self) -> dict:
        raise NotImplementedError

    def output(self, model, batch) -> torch.Tensor:
        return model(batch)

    def loss(self, model, batch) -> torch.Tensor:
        raise NotImplementedError

    @pytest.fixture
    def model(self, one_thread):
        torch.manual_seed(0)
        return self.make()

    def test_output_is_finite_and_batch_shaped(self, model):
        out = self.output(model.eval(), self.batch())
        assert torch.isfinite(out).all()
        assert out.shape[0] == len(next(iter(self.batch().values())))

    def test_state_dict_round_trip_is_exact(self, model):
        torch.manual_seed(1)
        other = self.make()
        other.load_state_dict(model.state_dict())
        batch = self.batch()
        assert torch.equal(self.output(model.eval(), batch), self.output(other.eval(), batch))

    def test_same_seed_same_init(self, model):
        torch.manual_seed(0)
        again = self.make()
        for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
            assert torch.equal(a, b), k

    def test_a_few_steps_fit_a_tiny_batch(self, model):
        batch = self.batch()
        opt = torch.optim.Adam(model.parameters(), lr=self.lr)
        model.train()
        start = float(self.loss(model, batch).detach())
        for _ in range(self.steps):
            opt.zero_grad()
            loss = self.loss(model, batch)
            loss.backward()
            opt.step()
        assert float(self.loss(model, batch).detach()) < 0.5 * start


class KGEModelCase(_ModelCase):
    """``name``: the model's name in reprorec.kge.MODELS; ``kwargs``: extra constructor arguments."""

    family = "kge"
    kwargs: ClassVar[dict] = {}
    n_entities, n_relations, dim = 12, 3, 4

    def make(self):
        from reprorec.kge import build_model

        return build_model(self.name, self.n_entities, self.n_relations, self.dim, **self.kwargs)

    def batch(self) -> dict:
        g = torch.Generator().manual_seed(0)
        return {"h": torch.randint(0, self.n_entities, (16,), generator=g),
                "r": torch.randint(0, self.n_relations, (16,), generator=g),
                "t": torch.randint(0, self.n_entities, (16,), generator=g)}

    def output(self, model, batch):
        return model.score(batch["h"], batch["r"], batch["t"])

    def loss(self, model, batch):
        return -self.output(model, batch).mean()  # pull the positives' distance down

    def test_resolver_builds_this_class(self, model):
        from reprorec.kge import MODELS

        assert type(model) is MODELS.lookup(self.name)

    def test_score_all_matches_pointwise_score(self, model):
        b = self.batch()
        every = torch.arange(self.n_entities)
        tails = model.score_all(b["h"], b["r"], "tail")
        heads = model.score_all(b["t"], b["r"], "head")
        for k in range(len(b["h"])):
            n = self.n_entities
            assert torch.allclose(tails[k], model.score(b["h"][k].repeat(n), b["r"][k].repeat(n), every), atol=1e-5)
            assert torch.allclose(heads[k], model.score(every, b["r"][k].repeat(n), b["t"][k].repeat(n)), atol=1e-5)

    def test_entity_vectors_are_one_row_per_entity(self, model):
        assert model.entity_vectors().shape == (self.n_entities, self.dim)


class CTRModelCase(_ModelCase):
    """``name``: the model's name in reprorec.ctr.models.MODELS; ``kwargs``: constructor arguments."""

    family = "ctr"
    kwargs: ClassVar[dict] = {}

    @staticmethod
    def schema():
        from reprorec.data.ctr_schema import FeatureSchema, IdField, MultiHotField

        return FeatureSchema([IdField("user", 50, dim=8), IdField("item", 40)], ["a", "b"], 12,
                             [MultiHotField("tags", 6)], ["n1", "n2"])

    def make(self):
        from reprorec.ctr.models import build_model

        return build_model(self.name, self.schema(), **self.kwargs)

    def batch(self) -> dict:
        g, n = torch.Generator().manual_seed(0), 32
        return {"user": torch.randint(1, 50, (n,), generator=g), "item": torch.randint(1, 40, (n,), generator=g),
                "cat": torch.stack([torch.randint(0, 5, (n,), generator=g), torch.randint(5, 12, (n,), generator=g)], 1),
                "tags": torch.randint(0, 6, (n, 3), generator=g), "num": torch.rand(n, 2, generator=g),
                "y": torch.randint(0, 2, (n,), generator=g).float()}

    def loss(self, model, batch):
        return torch.nn.functional.binary_cross_entropy_with_logits(model(batch), batch["y"])

    def test_resolver_builds_this_class(self, model):
        from reprorec.ctr.models import MODELS

        assert type(model) is MODELS.lookup(self.name)


class RatingModelCase(_ModelCase):
    """Explicit-rating models: ``forward({'user', 'item', ...}) -> (B,)`` ratings, fitted with MSE."""

    family = "rating"
    n_users, n_items = 6, 5

    def batch(self) -> dict:
        return {"user": torch.tensor([0, 1, 2, 3, 4, 5, 0, 1]), "item": torch.tensor([0, 1, 2, 3, 4, 0, 2, 3]),
                "y": torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 3.0, 4.0, 2.0])}

    def loss(self, model, batch):
        return torch.nn.functional.mse_loss(model(batch), batch["y"])
