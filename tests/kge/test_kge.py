"""reprorec.kge: closed-form scores, filtered ranking, negative sampling, losses, training, KG loader."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from reprorec.kge import (KGETrainConfig, KnownTriples, NegativeSampler, TripleSet, build_model, evaluate,
                        link_prediction_ranks, margin_ranking, self_adversarial, split_triples, train_kge)


def _set(model, entities, relations, projection=None):
    with torch.no_grad():
        model.entity.weight.copy_(torch.tensor(entities, dtype=torch.float))
        model.relation.weight.copy_(torch.tensor(relations, dtype=torch.float))
        if projection is not None:
            model.projection.copy_(torch.tensor(projection, dtype=torch.float))


def test_transe_score_hand_computed():
    m = build_model("transe", 3, 1, 2, p=1)
    _set(m, [[0.1, 0.2], [0.4, -0.1], [0.0, 0.0]], [[0.3, 0.1]])
    # h + r - t = (0.1+0.3-0.4, 0.2+0.1+0.1) = (0, 0.4) -> L1 0.4
    assert m.score(torch.tensor([0]), torch.tensor([0]), torch.tensor([1])).item() == pytest.approx(-0.4)
    m2 = build_model("transe", 3, 1, 2, p=2)
    _set(m2, [[0.1, 0.2], [0.4, -0.1], [0.0, 0.0]], [[0.3, 0.1]])
    # h + r - t for (h=2, t=0): (0.3-0.1, 0.1-0.2) = (0.2, -0.1) -> L2 sqrt(0.05)
    assert m2.score(torch.tensor([2]), torch.tensor([0]), torch.tensor([0])).item() == pytest.approx(-math.sqrt(0.05))


def test_transr_score_hand_computed_with_projection_and_clamp():
    m = build_model("transr", 2, 1, 2, relation_dim=1, p=2)
    # M_r = [[1, 2]] maps (x, y) -> x + 2y
    _set(m, [[0.1, 0.1], [0.2, 0.3]], [[0.05]], [[[1.0, 2.0]]])
    # P h = 0.3, P t = 0.8, r = 0.05 -> |0.3 + 0.05 - 0.8| = 0.45
    assert m.score(torch.tensor([0]), torch.tensor([0]), torch.tensor([1])).item() == pytest.approx(-0.45)
    # a projection longer than 1 is clamped onto the unit ball: P e = 3.0 -> 1.0
    _set(m, [[1.0, 1.0], [0.0, 0.0]], [[0.0]], [[[1.0, 2.0]]])
    assert m.score(torch.tensor([0]), torch.tensor([0]), torch.tensor([1])).item() == pytest.approx(-1.0)


def test_transra_anchor_relation_uses_identity_projection():
    m = build_model("transra", 3, 2, 2, p=2, anchor_relations=[0])
    _set(m, [[0.1, 0.2], [0.3, -0.2], [0.0, 0.1]], [[0.1, 0.1], [0.2, 0.0]],
         [[[5.0, 0.0], [0.0, 5.0]], [[0.0, 1.0], [1.0, 0.0]]])
    h, t = torch.tensor([0]), torch.tensor([1])
    # relation 0 is an anchor: the stored matrix (5 I) is ignored, M = I -> ||h + r - t||
    expect = -torch.tensor([0.1 + 0.1 - 0.3, 0.2 + 0.1 + 0.2]).norm().item()
    assert m.score(h, torch.tensor([0]), t).item() == pytest.approx(expect)
    assert torch.equal(m.matrices(torch.tensor(0)), torch.eye(2))
    # relation 1 is not: swap-coordinates projection -> (0.2, 0.1) + (0.2, 0) - (-0.2, 0.3)
    expect1 = -torch.tensor([0.2 + 0.2 + 0.2, 0.1 - 0.3]).norm().item()
    assert m.score(h, torch.tensor([1]), t).item() == pytest.approx(expect1)
    # no gradient ever reaches the anchor relation's stored matrix
    m.score(h, torch.tensor([0, 1]), t).sum().backward()
    assert m.projection.grad[0].abs().sum() == 0 and m.projection.grad[1].abs().sum() > 0
    # so an anchor's entity-table row is exactly the vector its anchor relation scores with
    assert torch.allclose(m.relation_view(h, torch.tensor([0])), m.entity_vectors()[h])


def test_filtered_ranking_excludes_other_true_triples():
    # 1-d TransE, r = 0: tail score = -|h - t|. Entities at 0.0, 0.1, 0.3, 0.6; query (0, r, ?) true tail 2.
    m = build_model("transe", 4, 1, 1, p=1)
    _set(m, [[0.0], [0.1], [0.3], [0.6]], [[0.0]])
    m.post_step = lambda: None
    test = torch.tensor([[0, 0, 2]])
    raw = link_prediction_ranks(m, test, known=None)
    # tail side: t=0:0, t=1:-0.1, t=2:-0.3, t=3:-0.6 -> rank 3
    # head side (?, r, 2), target h=0: h=2:0, h=1:-0.2, h=0:-0.3, h=3:-0.3 (tie counts half) -> rank 3.5
    assert raw.tolist() == [3.0, 3.5]
    # (0, r, 0) and (0, r, 1) are also true: filtered, the true tail outranks everything left -> rank 1;
    # they say nothing about heads of (?, r, 2), so the head rank is unchanged
    known = KnownTriples(torch.tensor([[0, 0, 2], [0, 0, 0], [0, 0, 1]]), 4, 1)
    assert link_prediction_ranks(m, test, known).tolist() == [1.0, 3.5]
    assert evaluate(m, test, known)["mrr"] == pytest.approx((1.0 + 1 / 3.5) / 2)
    # filtering one of them only -> rank 2
    known1 = KnownTriples(torch.tensor([[0, 0, 2], [0, 0, 1]]), 4, 1)
    assert link_prediction_ranks(m, test, known1).tolist() == [2.0, 3.5]


def _typed_graph():
    # users 0-3 (type 0), items 4-7 (type 1), genres 8-9 (type 2); r0 user->item, r1 item->genre
    triples = [[u, 0, 4 + (u + k) % 4] for u in range(4) for k in range(3)] + [[i, 1, 8 + i % 2] for i in range(4, 8)]
    types = torch.tensor([0] * 4 + [1] * 4 + [2] * 2)
    return TripleSet(torch.tensor(triples), 10, 2, types)


def test_negatives_never_known_positives_and_respect_types():
    ts = _typed_graph()
    known = KnownTriples(ts.triples, ts.n_entities, ts.n_relations)
    sampler = NegativeSampler(ts, num_negs=8, typed=True, filtered=True)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        neg, valid = sampler.sample(ts.triples, g)
        flat, ok = neg.reshape(-1, 3), valid.reshape(-1)
        assert ok.float().mean() > 0.9
        assert not known.contains(flat[ok, 0], flat[ok, 1], flat[ok, 2]).any()
        # typed: heads and tails keep the relation's entity types
        assert torch.equal(ts.entity_type[flat[:, 0]], torch.where(flat[:, 1] == 0, 0, 1))
        assert torch.equal(ts.entity_type[flat[:, 2]], torch.where(flat[:, 1] == 0, 1, 2))
        # exactly one side changed per negative
        pos = ts.triples.repeat_interleave(8, 0)
        changed = (flat[:, 0] != pos[:, 0]).int() + (flat[:, 2] != pos[:, 2]).int()
        assert (changed <= 1).all()


def test_unfiltered_sampler_does_produce_known_positives():
    """The control: without filtering, a dense graph yields false negatives (so the filter is doing work)."""
    ts = _typed_graph()
    known = KnownTriples(ts.triples, ts.n_entities, ts.n_relations)
    neg, _ = NegativeSampler(ts, num_negs=8, typed=True).sample(ts.triples, torch.Generator().manual_seed(0))
    flat = neg.reshape(-1, 3)
    assert known.contains(flat[:, 0], flat[:, 1], flat[:, 2]).any()


def test_losses_closed_form():
    pos = torch.tensor([-1.0, -0.2])
    neg = torch.tensor([[-0.5, -3.0], [-0.1, -2.0]])
    valid = torch.tensor([[True, True], [True, False]])
    # hinge pairs: max(0, 1 + 1 - 0.5)=1.5, max(0, 1 + 1 - 3)=0, max(0, 1 + 0.2 - 0.1)=1.1 (last pair invalid)
    assert margin_ranking(pos, neg, valid, margin=1.0).item() == pytest.approx((1.5 + 0 + 1.1) / 3)
    ls = torch.nn.functional.logsigmoid
    p0 = torch.softmax(torch.tensor([-0.5, -3.0]), 0)
    row0 = -ls(torch.tensor(2.0 - 1.0)) - (p0 * ls(-2.0 - torch.tensor([-0.5, -3.0]))).sum()
    row1 = -ls(torch.tensor(2.0 - 0.2)) - ls(torch.tensor(-2.0 + 0.1))
    got = self_adversarial(pos, neg, valid, margin=2.0, temperature=1.0)
    assert got.item() == pytest.approx(((row0 + row1) / 2).item(), rel=1e-5)


def test_split_keeps_entities_seen_and_is_seeded():
    ts = _typed_graph()
    a, b = split_triples(ts, (0.5, 0.25, 0.25), seed=3), split_triples(ts, (0.5, 0.25, 0.25), seed=3)
    assert all(torch.equal(a[k].triples, b[k].triples) for k in a)
    assert sum(len(v) for v in a.values()) == len(ts)
    seen = set(a["train"].triples[:, [0, 2]].reshape(-1).tolist())
    for k in ("val", "test"):
        assert set(a[k].triples[:, [0, 2]].reshape(-1).tolist()) <= seen


@pytest.mark.parametrize("name,loss", [("transe", "margin"), ("transr", "self_adversarial")])
def test_training_fits_a_small_graph(name, loss):
    """A 1-to-1 relation from 15 heads onto 15 tails is learnable: training MRR goes from chance to near 1."""
    torch.manual_seed(0)
    n = 30
    perm = torch.randperm(15, generator=torch.Generator().manual_seed(0)) + 15
    ts = TripleSet(torch.stack([torch.arange(15), torch.zeros(15, dtype=torch.long), perm], 1), n, 1)
    m = build_model(name, n, 1, 16, p=2)
    known = KnownTriples(ts.triples, n, 1)
    before = evaluate(m, ts.triples, known)["mrr"]
    cfg = KGETrainConfig(epochs=60, batch_size=15, lr=0.02, loss=loss, margin=1.0 if loss == "margin" else 0.5,
                         num_negs=4, filtered_negatives=True, seed=0)
    info = train_kge(m, ts, cfg)
    after = evaluate(m, ts.triples, known)["mrr"]
    assert before < 0.3 and after > 0.8, (before, after)
    assert info["loss"][-1] < info["loss"][0]


def test_training_is_reproducible_for_a_seed():
    ts = _typed_graph()
    outs = []
    for _ in range(2):
        torch.manual_seed(1)
        m = build_model("transra", 10, 2, 4, anchor_relations=[0])
        train_kge(m, ts, KGETrainConfig(epochs=3, batch_size=4, typed_negatives=True, filtered_negatives=True, seed=5))
        outs.append(m.entity_vectors().detach().clone())
    assert torch.equal(outs[0], outs[1])


@pytest.mark.filterwarnings("ignore:.*no pinned checksum")
def test_kg_loader_real_file_and_malformed(tmp_path, monkeypatch, data_dir):
    from reprorec.data import DatasetError, kg
    from reprorec.data.base import RawFile

    triples = kg.load_triples().frame
    assert len(triples) == 34_327 and triples["relation"].nunique() == 29
    links = kg.load_links().frame
    assert links["item_id"].between(1, 1682).all() and len(links) == 1105
    bad = tmp_path / "kg" / "bad.kg"
    bad.parent.mkdir(parents=True)
    bad.write_text("head_id:token\trelation_id:token\nm.1\tfilm.film.actor\n")
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    monkeypatch.setitem(kg.FILES, "kg", RawFile("kg/bad.kg", None))
    with pytest.raises(DatasetError, match="expected 3 tab-separated columns"):
        kg.load_triples("bad-kg")


@pytest.mark.parametrize("name", ["transr", "transra"])
@pytest.mark.parametrize("n_entities,n_rows", [(6, 200), (400, 40)])  # dense (all relations) path / grouped path
def test_batched_projection_matches_per_row_matvec(name, n_entities, n_rows):
    """score() projects distinct entities once per relation (one matrix product per relation, or one for
    all relations); it must equal the textbook per-triple clamp(M_r e) and give the same gradients."""
    torch.manual_seed(1)
    kw = {"anchor_relations": [2]} if name == "transra" else {}
    m = build_model(name, n_entities, 4, 3, p=2, **kw)
    h, t = torch.randint(n_entities, (n_rows,)), torch.randint(n_entities, (n_rows,))
    r = torch.randint(4, (n_rows,))
    got = m.score(h, r, t)
    got.sum().backward()
    grads = [p.grad.clone() for p in m.parameters()]
    m.zero_grad()

    def ref_proj(e):
        mats = m.matrices(r)                                              # (N, k, d), per row
        v = torch.einsum("nkd,nd->nk", mats, m.entity(e))
        norm = v.norm(dim=-1, keepdim=True)
        return v * torch.where(norm > 1, 1 / norm, torch.ones_like(norm))
    want = -(ref_proj(h) + m.relation(r) - ref_proj(t)).norm(dim=-1)
    want.sum().backward()
    assert torch.allclose(got, want, atol=1e-5)
    for g, p in zip(grads, m.parameters()):
        assert torch.allclose(g, p.grad, atol=1e-4)


def test_type_restricted_candidates_rank_only_entities_of_the_expected_type():
    # 1-d TransE, r = 0 maps type-0 heads to type-1 tails; entity 3 (type 0) sits closest to the query.
    m = build_model("transe", 5, 1, 1, p=1)
    _set(m, [[0.0], [0.5], [0.1], [0.05], [0.9]], [[0.0]])
    types = torch.tensor([0, 1, 1, 0, 1])
    triple = torch.tensor([[0, 0, 2]])                      # true tail 2 at distance 0.1; 3 is nearer (0.05)
    tail_rank_all = link_prediction_ranks(m, triple, None)[0].item()
    typed = (types, torch.tensor([0]), torch.tensor([1]))   # entity type, head type and tail type of r = 0
    tail_rank_typed = link_prediction_ranks(m, triple, None, candidate_types=typed)[0].item()
    assert (tail_rank_all, tail_rank_typed) == (3.0, 1.0)   # all: 0 and 3 beat 2; typed: only 1, 2, 4 compete
