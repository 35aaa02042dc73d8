"""TransRA reproduction: graph built from the pretraining window only, anchor projection, KGE -> ranker wiring."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from reprorec import config as C
from reprorec.kge import TransRA
from reprorec.ctr import load_ctr
from reprorec.ctr.run import model_from_cfg
from reprorec.registry import config_files
from reprorec.papers.transra.data import build_graph
from reprorec.papers.transra.pretrain import _build, kge_settings
from reprorec.papers.transra.models import KGEAttention, KGEFeatures, init_id_tables, kge_vectors


@pytest.fixture(scope="module")
def ml():
    data = load_ctr("ml-100k-ctr", id_dim=8)
    return data, build_graph(data, "ml-100k-ctr")


def _pairs(graph, names):
    ts, rid = graph.triples, graph.relation_ids
    keep = torch.isin(ts.triples[:, 1], torch.tensor([rid[n] for n in names]))
    names_ = ts.entity_names
    return {(names_[h], names_[t]) for h, _, t in ts.triples[keep].tolist()}


def test_graph_uses_only_pretraining_window_edges(ml, data_dir):
    data, graph = ml
    assert graph.max_interaction_time < data.cuts["pretrain_end"]
    pre = {(f"user:{u}", f"item:{i}") for u, i in zip(data.pretrain["user_row"], data.pretrain["item_row"])}
    edges = _pairs(graph, ["engage_pos", "engage_neg", "convert"])
    assert edges and edges <= pre
    # every later window's interactions that did not also happen in the pretraining window are absent
    for w in ("train", "val", "test"):
        later = {(f"user:{u}", f"item:{i}") for u, i in zip(data.windows[w]["user"].tolist(),
                                                             data.windows[w]["item"].tolist())}
        assert not (later - pre) & edges
    # attribute edges only for users/items seen in the pretraining window
    users_pre = {f"user:{u}" for u in data.pretrain["user_row"]}
    assert {h for h, _ in _pairs(graph, ["has_occupation", "has_age", "has_gender"])} <= users_pre
    # the graph is smaller than the data: a user first seen in the test window has no entity
    test_only = set(data.windows["test"]["user"].tolist()) - set(data.pretrain["user_row"].tolist())
    assert test_only and all(graph.user_entity[u] == -1 for u in test_only)
    # positive / negative engagement follow the click label; 'convert' is a 5-star rating
    assert graph.stats["relations"]["engage_pos"] == int(data.pretrain["label"].sum())
    assert graph.stats["relations"]["convert"] == int((data.pretrain["rating"] == 5).sum())


def test_transra_anchor_relation_is_engagement_with_identity(ml):
    data, graph = ml
    settings = {"model": "transra", "dim": 8, "p": 2, "anchors": ["engage_pos"]}
    model = _build(settings, graph)
    assert isinstance(model, TransRA)
    anchor = graph.relation_ids["engage_pos"]
    assert torch.equal(model.matrices(torch.tensor(anchor)), torch.eye(8))
    for name, r in graph.relation_ids.items():
        if name != "engage_pos":
            assert not torch.equal(model.matrices(torch.tensor(r)), torch.eye(8))
    # user/item views of the anchor relation are the raw entity-table rows, translated by w_r
    # (after the post-step constraint every row has norm <= 1, so the projection's clamp is a no-op)
    model.post_step()
    users = torch.nonzero(graph.user_entity >= 0).squeeze(1)[:5]
    att = KGEAttention(model, graph, id_dim=8)
    views, known = att.views("user", users)
    k = [r for r, _ in graph.views("user")].index(anchor)
    expect = model.entity.weight[graph.user_entity[users]] + model.relation.weight[anchor]
    assert torch.allclose(views[:, k], expect) and bool(known.all())


def test_attention_pools_views_and_zeroes_unknown_ids(ml):
    data, graph = ml
    torch.manual_seed(0)
    model = _build({"model": "transe", "dim": 8, "p": 2, "anchors": []}, graph)
    att = KGEAttention(model, graph, id_dim=8)
    ids = torch.tensor([0, int(torch.nonzero(graph.item_entity >= 0)[0])])  # row 0 = OOV, then a known item
    pooled = att.pool("item", ids, torch.randn(2, 8))
    w = att.last_attention["item"]
    assert torch.allclose(w.sum(1), torch.ones(2)) and (w >= 0).all()
    assert torch.equal(pooled[0], torch.zeros(8)) and pooled[1].abs().sum() > 0
    # the pooled vector is a convex combination of the item's views
    views, _ = att.views("item", ids[1:])
    assert torch.allclose(pooled[1], (w[1][:, None] * views[0]).sum(0), atol=1e-6)


def test_id_tables_and_features_take_kge_vectors(ml):
    data, graph = ml
    torch.manual_seed(0)
    kge = _build({"model": "transr", "dim": 8, "p": 2, "anchors": []}, graph)
    trained = torch.ones(graph.triples.n_entities, dtype=torch.bool)
    trained[graph.item_entity[graph.item_entity >= 0][:3]] = False  # pretend 3 items never got a training edge
    cfg = {"model": {"embed_dim": 4, "cross_layers": 1, "hidden": [8]}}
    model = model_from_cfg(cfg, data.schema)
    before = model.id_table("item").table.weight.detach().clone()
    counts = init_id_tables(model, kge, graph, trained)
    table = model.id_table("item").table.weight.detach()
    rows = torch.nonzero(graph.item_entity >= 0).squeeze(1)
    ok = rows[trained[graph.item_entity[rows]]]
    assert counts["item"] == len(ok) == len(rows) - 3
    assert torch.equal(table[ok], kge.entity.weight.detach()[graph.item_entity[ok]])
    untouched = torch.tensor(sorted(set(range(len(table))) - set(ok.tolist())))
    assert torch.equal(table[untouched], before[untouched])
    feats = KGEFeatures(kge_vectors(kge, graph, trained, "user"), kge_vectors(kge, graph, trained, "item"))
    batch = {"user": torch.tensor([0, 1]), "item": torch.tensor([0, int(ok[0])])}
    out = feats(batch)
    assert out.shape == (2, 16) and torch.equal(out[0], torch.zeros(16))
    assert torch.equal(out[1, 8:], kge.entity.weight.detach()[graph.item_entity[ok[0]]])


def test_control_trains_on_pretrain_plus_train_windows_only(ml):
    """(a') concatenates the pretraining and train windows for training; val/test are untouched, the
    default keeps the train window's own tensors, and no later window can be trained on."""
    data, _ = ml
    w = data.windows
    loaders = data.loaders(4096, seed=0, train_windows=("pretrain", "train"))
    train = loaders["train"].dataset.tensors
    assert len(train["y"]) == len(w["pretrain"]["y"]) + len(w["train"]["y"])
    assert torch.equal(train["time"], torch.cat([w["pretrain"]["time"], w["train"]["time"]]))
    assert train["time"].max() < w["val"]["time"].min()
    assert loaders["val"].dataset.tensors is w["val"] and loaders["test"].dataset.tensors is w["test"]
    assert data.loaders(4096)["train"].dataset.tensors is w["train"]
    with pytest.raises(ValueError, match="train windows"):
        data.train_tensors(("train", "val"))
    cfg = C.load(next(p for p in config_files("transra") if p.name == "ml-100k-ctr-backbone-pretrain.yaml"))
    assert cfg["train"]["windows"] == ["pretrain", "train"] and "kge" not in cfg


def test_reviewed_item_filter_drops_only_unreviewed_item_negatives(ml, data_dir):
    """(a''): on ML-100K every impression is a real rating (nothing dropped); on Amazon MI exactly the
    sampled non-clicks of items with no review yet go, as an independent count from the raw reviews says."""
    from reprorec.papers.transra.methods import reviewed_item_rows
    from reprorec.papers.transra.report import unseen_item_negatives

    data, _ = ml
    assert reviewed_item_rows(data.windows["pretrain"], data.pretrain).all()
    amz = load_ctr("amazon-musical-instruments-ctr")
    pre = amz.windows["pretrain"]
    keep = reviewed_item_rows(pre, amz.pretrain)
    assert pre["y"][~keep].eq(0).all() and pre["y"][keep].sum() == pre["y"].sum()
    assert int((~keep).sum()) == unseen_item_negatives()["pretrain"][2] > 0


def test_configs_share_one_kge_cache_per_dataset_and_model():
    """lp-<kge> and the ranking variants must hash the same KGE block, or the cache would retrain."""
    blocks = {}
    for path in config_files("transra"):
        cfg = C.load(path)
        if "kge" not in cfg:
            continue
        for profile in ("quick", "full"):
            r = C.resolve(cfg, profile)
            key = (r["dataset"].removesuffix("-graph"), profile)
            block = {k: v for k, v in kge_settings(r).items() if k != "model"}
            blocks.setdefault(key, []).append((block, r["data"], r.get("graph")))
    assert len(blocks) == 4
    for entries in blocks.values():
        assert all(e == entries[0] for e in entries)


@pytest.mark.slow
def test_end_to_end_quick_run_and_kge_cache(data_dir):
    from reprorec.experiment import run_experiment
    from reprorec.registry import find_config

    out = run_experiment(find_config("transra", "amazon-musical-instruments-ctr", "kge-attention-transra"),
                         profile="quick", seed=0)
    rec = out.record
    assert 0.5 < rec["metrics"]["test"]["auc"] <= 1.0
    assert rec["kge"]["cache"] == "miss" and "mrr" in rec["kge"]["link_prediction"]["test"]
    lp = run_experiment(find_config("transra", "amazon-musical-instruments-ctr", "lp-transra"),
                        profile="quick", seed=0).record
    assert lp["kge"]["cache"] == "hit"
    assert lp["metrics"]["test"] == rec["kge"]["link_prediction"]["test"]


def _leaves(d: dict, prefix=""):
    for k, v in d.items():
        yield from _leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else [(f"{prefix}{k}", v)]


def test_search_spaces_sample_valid_overrides_with_tied_dims():
    """Every transra method has an Optuna space; sampled overrides only touch keys its config has, stay in
    range, and keep the KGE dimension equal to the ID-table dimension (KGE vectors become table rows)."""
    import optuna

    from reprorec import registry
    from reprorec.tune.storage import dry_run

    for path in config_files("transra"):
        cfg = C.resolve(C.load(path), "full")
        space = registry.method("transra", cfg["method"]).search_space
        assert space is not None, cfg["method"]
        dry_run(space, cfg["method"])  # the harness's own validation
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(5):
            trial = study.ask()
            over = space(trial)
            for key, value in _leaves(over):
                assert C.get(cfg, key) is not None, f"{cfg['method']}: {key} is not a config key"
                if key in trial.distributions:
                    assert trial.distributions[key]._contains(trial.distributions[key].to_internal_repr(value))
            merged = C.deep_merge(cfg, over)
            if "kge" in cfg:
                assert kge_settings(merged)["dim"] == merged["data"]["id_dim"]
                assert ("train.lr" in trial.params) == cfg["method"].startswith("kge-")
            study.tell(trial, 0.5)


def test_capacity_control_is_the_untrained_kge_of_identical_shape(ml):
    """(d-rand): kge.pretrained=false hands the ranker the KGE exactly as pretraining would start it, with
    the same rows marked for (c)/(d) initialisation, and draws from the run's stream what (d) draws."""
    from reprorec.papers.transra.pretrain import random_kge
    from reprorec.train import isolated_rng

    data, graph = ml
    cfg = {"dataset": "ml-100k-ctr", "kge": {"model": "transra", "dim": 8, "pretrained": False}}
    torch.manual_seed(11)
    got = random_kge(cfg, graph, seed=3)
    after = torch.get_rng_state()
    torch.manual_seed(11)
    _build(kge_settings(cfg), graph)  # what pretrained_kge draws from the run's stream
    assert torch.equal(torch.get_rng_state(), after)
    with isolated_rng(3):
        fresh = _build(kge_settings(cfg), graph)
    for (name, a), (_, b) in zip(got.model.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(a, b), name
    assert got.info["pretrained"] is False and got.metrics == {}
    assert 0 < int(got.trained.sum()) <= graph.triples.n_entities
    att = KGEAttention(got.model, graph, id_dim=8)
    assert sum(p.numel() for p in att.parameters()) == sum(
        p.numel() for p in KGEAttention(fresh, graph, id_dim=8).parameters())


def test_report_keeps_a_studys_runs_apart_from_the_main_experiment(monkeypatch):
    """A study run (rand-kge: the same experiment file, its KGE untrained) is its own arm in the report,
    never a newer seed of the main experiment that would silently replace its record."""
    from reprorec.papers.transra import report

    def rec(study, created, auc):
        cfg = {"study": {"name": study}} if study else {}
        return {"paper": "transra", "profile": "full", "dataset": "d", "method": "kge-attention", "seed": 0,
                "created": created, "config_file": "configs/d-kge-attention-transra.yaml", "config": cfg,
                "metrics": {"test": {"auc": auc}}}

    monkeypatch.setattr(report, "iter_records", lambda: [rec(None, "1", 0.7), rec("rand-kge", "2", 0.6)])
    got = report.collect("full")
    assert got[("d", "kge-attention-transra")][0]["metrics"]["test"]["auc"] == 0.7
    assert got[("d", "kge-attention-transra@rand-kge")][0]["metrics"]["test"]["auc"] == 0.6


def test_backbone_controls_are_experiments_of_backbone_set_by_config(data_dir):
    """(a') and (a'') are method backbone: train.windows and train.pretrain_rows make them; the reviewed
    filter takes exactly the unreviewed-item non-clicks out of the pretraining window the ranker sees."""
    from reprorec.ctr.run import data_from_cfg
    from reprorec.papers.transra.methods import reviewed_item_rows, select_pretrain_rows
    from reprorec.registry import find_config

    ds = "amazon-musical-instruments-ctr"
    cfgs = {name: C.resolve(C.load(find_config("transra", ds, name)), "quick")
            for name in ("backbone", "backbone-pretrain", "backbone-pretrain-reviewed")}
    assert {c["method"] for c in cfgs.values()} == {"backbone"}
    assert [C.settings(c).train.pretrain_rows for c in cfgs.values()] == ["all", "all", "reviewed"]
    plain, reviewed = data_from_cfg(cfgs["backbone-pretrain"]), data_from_cfg(cfgs["backbone-pretrain-reviewed"])
    assert select_pretrain_rows(cfgs["backbone-pretrain"], plain) == {}
    n = len(plain.windows["pretrain"]["y"])
    keep = reviewed_item_rows(plain.windows["pretrain"], plain.pretrain)
    extra = select_pretrain_rows(cfgs["backbone-pretrain-reviewed"], reviewed)
    assert extra == {"pretrain_rows_dropped": int((~keep).sum()), "pretrain_rows_kept": int(keep.sum())}
    assert 0 < extra["pretrain_rows_dropped"] and len(reviewed.windows["pretrain"]["y"]) == extra["pretrain_rows_kept"] < n
    assert torch.equal(reviewed.windows["pretrain"]["item"], plain.windows["pretrain"]["item"][keep])
    train_rows = reviewed.loaders(4096, seed=0, train_windows=("pretrain", "train"))["train"].dataset.tensors["y"]
    assert len(train_rows) == extra["pretrain_rows_kept"] + len(reviewed.windows["train"]["y"])


def test_pretrain_rows_is_validated():
    base = C.resolve(C.load(next(p for p in config_files("transra") if p.name == "ml-100k-ctr-backbone.yaml")), "quick")
    assert C.validate_config(C.deep_merge(base, {"train": {"windows": ["pretrain", "train"], "pretrain_rows": "reviewed"}})) == []
    assert any("pretrain_rows" in m for m in C.validate_config(C.deep_merge(base, {"train": {"pretrain_rows": "reviewed"}})))
    assert C.validate_config(C.deep_merge(base, {"train": {"windows": ["pretrain", "train"], "pretrain_rows": "some"}}))


def test_readme_results_block_is_the_generated_one(monkeypatch):
    """The README's results tables are regenerated from the committed records (report --readme); a drift
    means records changed without regenerating them."""
    import re

    from reprorec.papers.transra import report
    from reprorec.records import REPO_ROOT

    monkeypatch.setenv("REPRO_RESULTS_DIR", str(REPO_ROOT / "results"))
    text = (Path(report.__file__).with_name("README.md")).read_text()
    block = re.search(r"<!-- results:begin -->\n(.*?)\n<!-- results:end -->", text, re.S)
    assert block, "README has no results block"
    assert block.group(1) == report.render("full").rstrip("\n"), "run: python -m reprorec.papers.transra.report --readme"
