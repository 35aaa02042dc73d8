"""CTR backbone (reprorec/ranking): embeddings, hashing, sparse updates, pretrained init, DCNv2, training."""
from __future__ import annotations

import pytest
import torch

from reprorec.lightning_glue import make_loader
from reprorec.metrics import binary_metrics
from reprorec.ctr.embedding import IdEmbedding, hash_ids
from reprorec.ctr.embedding import SPARSE_MIN_ROWS
from reprorec.ctr.models import DCNv2, DNN, CrossNetV2, FastDropout, Head, build_model
from reprorec.ctr.module import CTRModule, make_optimizers, split_params
from reprorec.data.ctr_schema import FeatureSchema, IdField, MultiHotField

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_schema(buckets=None) -> FeatureSchema:
    return FeatureSchema([IdField("user", 50, dim=8, buckets=buckets), IdField("item", 40)], ["a", "b"], 12,
                         [MultiHotField("tags", 6)], ["n1", "n2"])


def tiny_batch(n=32, seed=0) -> dict:
    g = torch.Generator().manual_seed(seed)
    tags = torch.randint(0, 6, (n, 3), generator=g)
    return {"user": torch.randint(1, 50, (n,), generator=g), "item": torch.randint(1, 40, (n,), generator=g),
            "cat": torch.stack([torch.randint(0, 5, (n,), generator=g), torch.randint(5, 12, (n,), generator=g)], 1),
            "tags": tags, "num": torch.rand(n, 2, generator=g),
            "y": torch.randint(0, 2, (n,), generator=g).float()}


def train_steps(model, batch, steps, lr=1e-2):
    opts = make_optimizers(model, lr)
    for _ in range(steps):
        for o in opts:
            o.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(batch), batch["y"])
        loss.backward()
        for o in opts:
            o.step()
    return float(loss.detach())


def test_embedding_width_and_shapes():
    schema = tiny_schema()
    model = DCNv2(schema, embed_dim=4, cross_layers=2, hidden=(16,))
    # user 8 + item 4 (default dim) + 2 cat fields x 4 + 1 bag x 4 + 2 numeric x 4
    assert model.embedding.out_dim == 8 + 4 + 8 + 4 + 8
    assert model(tiny_batch()).shape == (32,)
    assert DNN(schema, 4, numeric="raw").embedding.out_dim == 8 + 4 + 8 + 4 + 2


@pytest.mark.parametrize("arch", ["dcnv2", "dnn"])
def test_backbone_overfits_tiny_batch(arch):
    torch.manual_seed(0)
    model = build_model(arch, tiny_schema(), embed_dim=8, hidden=(32,))
    batch = tiny_batch()  # random labels: only memorisation can fit them
    assert train_steps(model, batch, 100, lr=3e-2) < 0.01
    auc = binary_metrics()(torch.sigmoid(model(batch)), batch["y"].long())["auc"]
    assert float(auc) == 1.0


def test_cross_layer_closed_form():
    """x1 = x0 * (W x0 + b) + x0; with W = I, b = 1: x1 = x0^2 + 2 x0."""
    net = CrossNetV2(3, 1)
    with torch.no_grad():
        net.layers[0].weight.copy_(torch.eye(3))
        net.layers[0].bias.fill_(1.0)
    x = torch.tensor([[1.0, -2.0, 0.5]])
    assert torch.allclose(net(x), x * x + 2 * x)


def test_multi_hot_mean_ignores_padding():
    model = DNN(FeatureSchema(multi_hot=[MultiHotField("tags", 5)]), embed_dim=2, hidden=(4,))
    bag = model.embedding.bags["tags"]
    out = model.embedding({"tags": torch.tensor([[1, 3, 0, 0]])})
    assert torch.allclose(out[0], (bag.weight[1] + bag.weight[3]) / 2)


def test_hashing_range_and_collisions():
    ids = torch.arange(0, 1000)
    rows = hash_ids(ids, 37)
    assert rows.min() >= 0 and rows.max() < 37
    table = IdEmbedding(1000, 4, buckets=37)
    assert table.collisions() == 1000 - 37  # every bucket used, all other ids collide
    assert IdEmbedding(30, 4, buckets=37).collisions() == 0  # a dense range <= buckets is a bijection
    assert table.collisions(torch.tensor([3, 3 + 37, 7, 7])) == 1  # 3 and 40 share a row; repeats don't count
    assert table(torch.tensor([3])).equal(table(torch.tensor([40])))


def test_sparse_gradient_touches_only_looked_up_rows():
    torch.manual_seed(0)
    model = DCNv2(tiny_schema(), embed_dim=4, hidden=(8,), sparse=True)
    batch = tiny_batch(n=4)
    batch["user"] = torch.tensor([1, 5, 5, 9])
    user_w = model.id_table("user").table.weight
    before = user_w.detach().clone()
    opts = make_optimizers(model, 1e-2)
    assert [type(o).__name__ for o in opts] == ["Adam", "SparseAdam"]
    torch.nn.functional.binary_cross_entropy_with_logits(model(batch), batch["y"]).backward()
    assert user_w.grad.is_sparse
    assert set(user_w.grad.coalesce().indices()[0].tolist()) == {1, 5, 9}
    for o in opts:
        o.step()
    changed = (user_w.detach() != before).any(dim=1).nonzero().flatten().tolist()
    assert changed == [1, 5, 9]


def test_load_pretrained_sets_rows_and_freezes():
    table = IdEmbedding(10, 3)
    vecs = torch.arange(6.0).reshape(2, 3)
    table.load_pretrained(vecs, ids=torch.tensor([4, 7]), freeze=True)
    assert table(torch.tensor([4, 7])).equal(vecs)
    assert not table.table.weight.requires_grad
    hashed = IdEmbedding(10, 3, buckets=5)
    hashed.load_pretrained(vecs, ids=torch.tensor([2, 7]))  # 2 and 7 share a bucket: their mean
    assert torch.allclose(hashed(torch.tensor([2])), vecs.mean(0, keepdim=True))
    with pytest.raises(ValueError, match="dim"):
        table.load_pretrained(torch.zeros(2, 5))


def test_frozen_table_gets_no_optimizer():
    model = DCNv2(tiny_schema(), embed_dim=4, hidden=(8,), sparse=True)
    model.id_table("user").load_pretrained(torch.ones(50, 8), freeze=True)
    model.id_table("item").load_pretrained(torch.ones(40, 4), freeze=True)
    dense, sparse = split_params(model)
    emb = model.embedding
    assert {id(p) for p in sparse} == {id(emb.cat.weight), id(emb.bags["tags"].weight)}  # ID tables left out
    assert all(id(p) not in {id(q) for q in sparse} for p in dense)
    dense_only = DCNv2(tiny_schema(), embed_dim=4, hidden=(8,), sparse=False)
    assert [type(o).__name__ for o in make_optimizers(dense_only, 1e-3)] == ["Adam"]


def test_ctr_module_fits_with_lightning_and_reproduces(tmp_path):
    """Two optimisers under Lightning manual optimisation; the same seed gives the same AUC exactly."""
    import lightning as L

    from reprorec.train import RunContext, fit_evaluate

    cfg = {"metric": {"name": "auc", "mode": "max"}, "train": {"max_epochs": 3}}
    data = {k: torch.cat([tiny_batch(64, s)[k] for s in range(4)]) for k in tiny_batch()}
    aucs = []
    for run in range(2):
        L.seed_everything(1, verbose=False)
        module = CTRModule(DCNv2(tiny_schema(), embed_dim=4, hidden=(16,)), lr=1e-2)
        loaders = {"train": make_loader(data, 32, shuffle=True, seed=1), "val": make_loader(data, 256)}
        ctx = RunContext(seed=1, run_dir=tmp_path / f"r{run}", progress=False)
        metrics, epochs = fit_evaluate(module, loaders, cfg, ctx)
        aucs.append(metrics["val"]["auc"])
    assert epochs == 3 and aucs[0] == aucs[1] and aucs[0] > 0.8  # training data: it must fit


def test_fast_dropout_rate_and_scale():
    torch.manual_seed(0)
    drop = FastDropout(0.2)
    x = torch.ones(200_000)
    y = drop(x)
    kept = y != 0
    assert abs(1 - kept.float().mean().item() - 51 / 256) < 0.005  # p rounded to 51/256
    assert torch.allclose(y[kept], torch.full_like(y[kept], 256 / 205))  # inverted scaling keeps E[y] = x
    drop.eval()
    assert drop(x).equal(x)


def test_auto_sparse_only_for_large_tables():
    schema = FeatureSchema([IdField("user", SPARSE_MIN_ROWS), IdField("item", 10)])
    emb = DNN(schema, embed_dim=2, hidden=(4,)).embedding
    assert emb.ids["user"].table.sparse and not emb.ids["item"].table.sparse
    hashed = FeatureSchema([IdField("user", 10 * SPARSE_MIN_ROWS, buckets=1000)])
    assert not DNN(hashed, embed_dim=2, hidden=(4,)).embedding.ids["user"].table.sparse  # table rows count


def test_fuxictr_init_scheme_leaves_extra_alone():
    class Extra(torch.nn.Module):
        out_dim = 2

        def __init__(self):
            super().__init__()
            self.vec = torch.nn.Embedding(3, 2)
            torch.nn.init.constant_(self.vec.weight, 5.0)  # e.g. pretrained vectors

        def forward(self, batch, embedding):
            return self.vec(batch["item"] % 3)

    model = DCNv2(tiny_schema(), embed_dim=4, hidden=(8,), extra=Extra(), init="fuxictr")
    assert model.extra.vec.weight.eq(5.0).all()
    assert model.embedding.cat.weight.std() < 1e-3 and model.head.bias.eq(0).all()
    assert model(tiny_batch()).shape == (32,)
    with pytest.raises(ValueError, match="init"):
        DNN(tiny_schema(), hidden=(4,), init="he")


def test_fast_dropout_equals_keep_times_scale_bit_for_bit():
    """The uint8 multiplier path gives exactly x * (keep * scale) from the same random bytes."""
    drop, x = FastDropout(0.2), torch.randn(64, 40)
    torch.manual_seed(3)
    y = drop(x)
    torch.manual_seed(3)
    words = torch.randint(-2 ** 63, 2 ** 63 - 1, (-(-x.numel() // 8),), dtype=torch.int64)
    keep = words.view(torch.uint8)[:x.numel()].view(x.shape) >= drop.threshold
    assert torch.equal(y, x * (keep * drop.scale).to(x.dtype))


def test_head_gradients_equal_linear_bit_for_bit():
    """Head = Linear(d, 1) with a broadcast-product input gradient: same outputs and gradients exactly."""
    torch.manual_seed(0)
    head, ref = Head(24), torch.nn.Linear(24, 1)
    ref.load_state_dict(head.state_dict())
    x = torch.randn(128, 24)
    xs = [x.clone().requires_grad_(True) for _ in range(2)]
    outs = [head(xs[0]), ref(xs[1])]
    assert torch.equal(*outs)
    for out in outs:
        (out.squeeze(-1) * torch.linspace(-1, 1, 128)).sum().backward()
    assert torch.equal(xs[0].grad, xs[1].grad)
    assert torch.equal(head.weight.grad, ref.weight.grad) and torch.equal(head.bias.grad, ref.bias.grad)
