"""MF-LET: the contrastive facet's loss by hand; facet pretraining learns something."""
from __future__ import annotations

import math

import torch

from reprorec.papers.mflet.models import in_batch_softmax_loss, pretrain_contrastive


def test_contrastive_loss_3x3_by_hand():
    u = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    i = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # raw scores S = u i^T = [[1,0,1],[0,1,1],[1,1,2]], tau = 0.5 -> logits 2S
    rows = [-2 + math.log(math.e ** 2 + 1 + math.e ** 2), -2 + math.log(1 + math.e ** 2 + math.e ** 2),
            -4 + math.log(math.e ** 2 + math.e ** 2 + math.e ** 4)]
    got = in_batch_softmax_loss(u, i, temperature=0.5, normalize=False)
    assert abs(got.item() - sum(rows) / 3) < 1e-6
    # normalised: cosine S = [[1,0,c],[0,1,c],[c,c,1]], c = 1/sqrt(2), tau = 1
    c = 1 / math.sqrt(2)
    rows = [-1 + math.log(math.e + 1 + math.e ** c), -1 + math.log(1 + math.e + math.e ** c),
            -1 + math.log(2 * math.e ** c + math.e)]
    assert abs(in_batch_softmax_loss(u, i, 1.0).item() - sum(rows) / 3) < 1e-6


def test_contrastive_pretraining_separates_positives():
    # synthetic: users 0..9 each engage with items {u, u+10}: two clusters per user
    users = torch.arange(10).repeat_interleave(2).repeat(20)
    items = torch.stack([torch.arange(10), torch.arange(10) + 10], 1).reshape(-1).repeat(20)
    emb = pretrain_contrastive(users, items, 10, 20, dim=8, temperature=0.2, lr=0.05, epochs=5, batch_size=10)
    u = torch.nn.functional.normalize(emb["user"], dim=-1)
    i = torch.nn.functional.normalize(emb["item"], dim=-1)
    s = u @ i.T
    pos = s[torch.arange(10), torch.arange(10)]
    neg = s.clone()
    neg[torch.arange(10), torch.arange(10)] = -9
    neg[torch.arange(10), torch.arange(10) + 10] = -9
    assert (pos > neg.max(1).values).float().mean() >= 0.9


def _tiny_ranker(facets):
    from reprorec.data.ctr_schema import FeatureSchema, IdField, MultiHotField
    from reprorec.papers.mflet.models import MFLETRanker, schema_to_dict

    schema = FeatureSchema([IdField("user", 12), IdField("item", 9)], ["a", "b"], 7, [MultiHotField("genres", 5)],
                           ["n1"])
    torch.manual_seed(0)
    return MFLETRanker(schema_to_dict(schema), facets, id_dim=4,
                       backbone={"embed_dim": 4, "cross_layers": 2, "hidden": [8], "dropout": 0.0})


def _tiny_batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"user": torch.randint(0, 12, (n,), generator=g), "item": torch.randint(0, 9, (n,), generator=g),
            "cat": torch.randint(0, 7, (n, 2), generator=g), "genres": torch.randint(0, 5, (n, 3), generator=g),
            "num": torch.rand(n, 1, generator=g), "y": torch.randint(0, 2, (n,), generator=g).float()}


def test_ranker_serves_identically_in_fp32(tmp_path):
    from reprorec.serving import HybridServer, export_bundle, load_bundle

    model = _tiny_ranker({"contrastive": 6, "kge": 4}).eval()  # contrastive needs a 6 -> 4 projection
    assert set(model.tables) == {"user_contrastive", "item_contrastive", "user_kge", "item_kge"}
    assert isinstance(model.proj["user_kge"], torch.nn.Identity) and model.proj["user_contrastive"].in_features == 6
    export_bundle(model, tmp_path / "b")
    server = HybridServer(*load_bundle(tmp_path / "b")[:3])
    batch = _tiny_batch()
    with torch.no_grad():
        assert torch.allclose(server.score(batch), model(batch), atol=1e-5)


def test_frozen_facet_keeps_pretrained_rows():
    model = _tiny_ranker({"contrastive": 4})
    vec = {"user": torch.randn(12, 4), "item": torch.randn(9, 4)}
    model.load_facet("contrastive", vec, freeze=True)
    from reprorec.ctr.module import split_params

    dense, sparse = split_params(model)
    assert sparse == [] and all(p is not model.tables["user_contrastive"].weight for p in dense)
    assert torch.equal(model.tables["item_contrastive"].weight, vec["item"])
    no_id = _tiny_ranker({})
    assert len(no_id.tables) == 0 and no_id(_tiny_batch()).shape == (16,)


def test_pretrain_graph_edges_by_hand():
    import pandas as pd

    from reprorec.data.ctr import CTRData
    from reprorec.data.ctr_schema import FeatureSchema, IdField
    from reprorec.papers.mflet.data import pretrain_graph

    pre = pd.DataFrame({"user_row": [1, 2, 1], "item_row": [1, 1, 2], "label": [1, 0, 1], "rating": [5.0, 2.0, 4.0]})
    data = CTRData("toy", FeatureSchema([IdField("user", 3), IdField("item", 3)]), {}, {}, pre, {}, "fp")
    attrs = pd.DataFrame({"item_row": [2], "relation": ["genre"], "value": ["genre:Drama"]})
    ts, off = pretrain_graph(data, attrs)
    # entities: users 0..2, items 3..5, 'genre:Drama' = 6; relations click 0, convert 1, skip 2, genre 3
    expected = {(1, 0, 4), (1, 0, 5), (1, 1, 4), (2, 2, 4), (5, 3, 6)}
    assert {tuple(t) for t in ts.triples.tolist()} == expected
    assert (ts.n_entities, ts.n_relations, off["item"], off["anchors"]) == (7, 4, 3, [0, 1, 2])
    assert ts.entity_type.tolist() == [0, 0, 0, 1, 1, 1, 2]


def test_each_arm_tunes_only_the_facets_it_has():
    from reprorec.tune.storage import dry_run
    from reprorec.papers.mflet.methods import ARMS, arm_search_space

    keys = {arm: set(dry_run(arm_search_space(f), arm)[1]) for arm, f in ARMS.items()}
    assert not any(k.startswith("facets.") for k in keys["no-id"] | keys["scratch"])
    assert "train.sparse_lr" not in keys["no-id"] and "train.sparse_lr" in keys["scratch"]
    assert "facets.contrastive.temperature" in keys["contrastive"] and "facets.kge.train.margin" not in keys["contrastive"]
    assert keys["both"] == keys["contrastive"] | keys["kge"]


def test_registered_methods_are_sets_of_tables_and_freezing_is_config():
    """One method per set of ID tables; the -frozen experiments and scratch-on-frozen set facets.freeze."""
    from reprorec import config as C
    from reprorec.papers.mflet.methods import ARMS
    from reprorec.registry import experiment_configs, methods

    assert {m.name for m in methods("mflet")} == set(ARMS) == {"no-id", "scratch", "contrastive", "kge", "both",
                                                               "scratch-and-both"}
    seen = {}
    for path, raw in experiment_configs("mflet"):
        cfg = C.resolve(raw, "full")
        name = path.stem.removeprefix(f"{raw['dataset']}-")
        seen[name] = (cfg["method"], C.settings(cfg).facets.freeze)
    assert seen == {"no-id": ("no-id", False), "scratch": ("scratch", False), "contrastive": ("contrastive", False),
                    "kge": ("kge", False), "both": ("both", False), "contrastive-frozen": ("contrastive", True),
                    "kge-frozen": ("kge", True), "both-frozen": ("both", True),
                    "scratch-on-frozen": ("scratch-and-both", True)}


def test_freeze_is_refused_where_nothing_is_pretrained():
    from reprorec import config as C
    from reprorec.registry import find_config

    for arm in ("no-id", "scratch"):
        cfg = C.resolve(C.load(find_config("mflet", "ml-100k-ctr", arm)), "quick", ["facets.freeze=true"])
        assert any("facets.freeze" in m for m in C.validate_config(cfg)), arm
    cfg = C.resolve(C.load(find_config("mflet", "ml-100k-ctr", "kge")), "quick", ["facets.freeze=yes please"])
    assert C.validate_config(cfg)


def test_scratch_on_frozen_freezes_only_the_pretrained_facets(one_thread, tmp_path):
    """C1 under the paper's condition: both pretrained facets stay fixed features (their rows equal the
    pretrained vectors after training), the scratch tables train; without facets.freeze all of them train."""
    from dataclasses import replace

    from reprorec import config as C
    from reprorec.papers.mflet.methods import train_arm
    from reprorec.papers.mflet.pretrain import facet_vectors
    from reprorec.registry import find_config
    from reprorec.train import RunContext

    fast = ["train.max_epochs=1", "facets.kge.train.epochs=1", "facets.contrastive.epochs=1"]
    cfg = C.resolve(C.load(find_config("mflet", "amazon-musical-instruments-ctr", "scratch-on-frozen")), "quick", fast)
    ctx = replace(RunContext(progress=False), run_dir=tmp_path / "run")
    model, data, result = train_arm(cfg, ctx)
    grads = {n: t.weight.requires_grad for n, t in model.tables.items()}
    assert grads == {"user_scratch": True, "item_scratch": True, "user_contrastive": False,
                     "item_contrastive": False, "user_kge": False, "item_kge": False}
    assert result.extra["mflet"]["frozen"] == ["contrastive", "kge"]
    for facet in ("contrastive", "kge"):
        vectors, _ = facet_vectors(facet, data, cfg, ctx.seed)  # cached: the vectors the tables were loaded with
        for field in ("user", "item"):
            assert torch.equal(model.tables[f"{field}_{facet}"].weight, vectors[field]), (facet, field)
    # finetuned: the same method without facets.freeze moves the pretrained rows
    cfg = C.resolve(C.load(find_config("mflet", "amazon-musical-instruments-ctr", "scratch-on-frozen")), "quick",
                    [*fast, "facets.freeze=false"])
    model, data, result = train_arm(cfg, replace(ctx, run_dir=tmp_path / "run2"))
    assert result.extra["mflet"]["frozen"] == [] and all(t.weight.requires_grad for t in model.tables.values())
    vectors, _ = facet_vectors("kge", data, cfg, ctx.seed)
    assert not torch.equal(model.tables["item_kge"].weight, vectors["item"])


def test_readme_arms_blocks_are_the_generated_ones(monkeypatch):
    """The README's arm tables are regenerated from the committed records (report --readme); a drift means
    a record was added without regenerating them."""
    import re

    from reprorec.papers.mflet import report
    from reprorec.records import REPO_ROOT

    monkeypatch.setenv("REPRO_RESULTS_DIR", str(REPO_ROOT / "results"))

    text = report.README.read_text()
    for profile in ("full", "quick"):
        block = re.search(rf"<!-- arms-{profile}:begin -->\n(.*?)<!-- arms-{profile}:end -->", text, re.S)
        assert block, f"README has no arms-{profile} block"
        assert block.group(1) == report.tables(profile), f"run: python -m reprorec.papers.mflet.report --profile {profile} --readme"


def test_scratch_capacity_study_widens_the_scratch_tables_with_a_projection():
    """Study capacity-32: arm (2) at the contrastive facet's capacity (32-d tables + projection to 16)."""
    from torch import nn

    from reprorec import config as C
    from reprorec import studies
    from reprorec.papers.mflet.data import load_data
    from reprorec.papers.mflet.methods import build_ranker
    from reprorec.registry import find_config

    raw = C.load(find_config("mflet", "amazon-musical-instruments-ctr", "scratch"))
    st = studies.load("mflet", "capacity-32")
    main, wide = C.resolve(raw, "quick"), C.resolve(raw, "quick", study=st.resolution("quick", None))
    data = load_data(main)
    plain, capacity = build_ranker(main, data, ("scratch",)), build_ranker(wide, data, ("scratch",))
    assert plain.tables["user_scratch"].embedding_dim == 16 and isinstance(plain.proj["user_scratch"], nn.Identity)
    assert capacity.tables["user_scratch"].embedding_dim == 32
    assert capacity.proj["item_scratch"].weight.shape == (16, 32)
