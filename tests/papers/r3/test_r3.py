"""R3 reproduction: the model's mathematics, exact λ = 0 equivalence with NeuMF, and no text leakage.

Synthetic review tables (labelled as such) stand in for Amazon data, except in the malformed-file test,
which goes through the real loader path with a file written to a temporary data directory.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from reprorec.data import DatasetError, LoadedTable
from reprorec.data.splits import random_split
from reprorec.experiment import run_experiment
from reprorec.papers.r3 import data as D
from reprorec.papers.r3.models import NARRE, R3, DeepCoNN, NeuMF

WORDS = [f"w{k}" for k in range(40)]


def synthetic_reviews(n_users=30, n_items=20, per_user=8, seed=0) -> pd.DataFrame:
    """SYNTHETIC: random (user, item) pairs with ratings and short random reviews."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for i in rng.choice(n_items, per_user, replace=False):
            text = " ".join(rng.choice(WORDS, 12))
            rows.append((f"u{u}", f"i{i}", float(rng.integers(1, 6)), text, "ok", 1_000 + len(rows)))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "text", "summary", "timestamp"])


def with_heldout_markers(frame: pd.DataFrame, split) -> pd.DataFrame:
    """Give every val/test review a unique word that appears nowhere in training."""
    out = frame.copy()
    for name in ("val", "test"):
        for r in split[name]:
            out.loc[r, "text"] = f"leakmarker{name}{r} " + out.loc[r, "text"]
            out.loc[r, "summary"] = f"leaksummary{r}"
    return out


def all_text_views(frame, split) -> dict:
    rd = D.ReviewData.build(frame, split).add_tfidf_svd(8, 500, seed=0).add_bow_tokens(500, 30)
    user_docs, item_docs, _ = rd.documents(500, 64)
    lists = rd.review_lists(500, 4, 16)
    return {"rd": rd, "svd": rd.ratings.tensors["train"]["text"], "bow": rd.ratings.tensors["train"]["tokens"],
            "user_docs": user_docs, "item_docs": item_docs,
            **{f"{s}_{k}": v for s in ("user", "item") for k, v in lists[s].items()}}


def test_tfidf_and_vocabulary_fitted_on_training_reviews_only():
    frame = synthetic_reviews()
    split = random_split(len(frame), seed=3)
    views = all_text_views(with_heldout_markers(frame, split), split)
    rd = views["rd"]
    assert not any(w.startswith("leak") for w in rd.extras["tfidf_vocabulary"])
    vocab, _ = rd.tokenize(500)
    assert not any(w.startswith("leak") for w in vocab)
    assert views["svd"].shape[0] == len(split["train"])  # one target per training pair, none for val/test
    # standardised with training statistics
    torch.testing.assert_close(views["svd"].mean(0), torch.zeros(views["svd"].shape[1]), atol=1e-5, rtol=0)


def test_no_heldout_review_reaches_any_model_input():
    """Rewriting every val/test review leaves every text-derived tensor bit-identical, and val/test batches
    carry only (user, item, rating): R3's regulariser, DeepCoNN's documents and NARRE's review lists see
    training reviews only."""
    frame = synthetic_reviews()
    split = random_split(len(frame), seed=5)
    clean, marked = all_text_views(frame, split), all_text_views(with_heldout_markers(frame, split), split)
    for key in ("svd", "bow", "user_docs", "item_docs", "user_tokens", "item_tokens", "user_partner", "item_mask"):
        assert torch.equal(clean[key], marked[key]), key
    for name in ("val", "test"):
        assert set(marked["rd"].ratings.tensors[name]) == {"user", "item", "y"}
    # and the documents hold exactly the training reviews: token count = sum of training review lengths (<= doc cap)
    rd = clean["rd"]
    _, ids = rd.tokenize(500)
    users = rd.ratings.tensors["train"]["user"].numpy()
    for u in range(rd.ratings.n_users):
        expect = sum(len(t) for uu, t in zip(users, ids) if uu == u)
        assert int((clean["user_docs"][u] > 0).sum()) == min(expect, 64)


def test_tiny_r3_overfits_a_tiny_batch():
    torch.manual_seed(0)
    batch = {"user": torch.tensor([0, 1, 2, 3, 0, 1]), "item": torch.tensor([0, 1, 2, 3, 2, 3]),
             "y": torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 3.0]), "text": torch.randn(6, 4)}
    model = R3(4, 4, text="svd", text_dim=4, lam=0.5, gmf_dim=8, mlp_layers=(16, 8), global_mean=3.0)
    opt = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(400):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(batch), batch["y"]) + model.regularization(batch)
        loss.backward()
        opt.step()
    model.eval()
    assert torch.nn.functional.mse_loss(model(batch), batch["y"]).item() < 1e-3
    assert model.text_loss(model.pair(batch), batch).item() < 0.05  # the head fits the text vectors too


def test_bow_loss_is_the_multinomial_negative_log_likelihood():
    model = R3(2, 2, text="bow", text_dim=3, lam=1.0, gmf_dim=2, mlp_layers=(4, 2))
    phi = torch.zeros(1, model.pair_dim)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.log(torch.tensor([1.0, 1.0, 2.0, 1.0])))  # ids 0..3; id 0 = padding
    batch = {"tokens": torch.tensor([[2, 2, 3, 0, 0]])}
    p = torch.tensor([1.0, 1.0, 2.0, 1.0]) / 5
    expected = -(2 * p[2].log() + p[3].log()) / 3
    torch.testing.assert_close(model.text_loss(phi, batch), expected)


def test_r3_serves_from_ids_alone_while_deepconn_reads_text():
    r3 = R3(3, 3, text="svd", text_dim=4, lam=1.0).eval()
    ids = {"user": torch.tensor([0, 2]), "item": torch.tensor([1, 1])}
    assert r3(ids).shape == (2,)  # no text key needed at serving
    docs = torch.randint(1, 9, (3, 12))
    dc = DeepCoNN(docs.clone(), docs.clone(), 10, emb_dim=4, n_filters=4, latent=3).eval()
    before = dc(ids)
    dc.user_docs[0] = 0
    assert not torch.equal(before[0], dc(ids)[0]) and torch.equal(before[1], dc(ids)[1])


def test_narre_attention_ignores_padded_reviews():
    reviews = {s: {"tokens": torch.randint(1, 9, (3, 4, 6)), "partner": torch.zeros(3, 4, dtype=torch.long),
                   "mask": torch.tensor([[True, True, False, False]] * 3)} for s in ("user", "item")}
    reviews["vocab_size"] = 10
    model = NARRE(reviews, 3, 3, emb_dim=4, n_filters=4, att_dim=3, latent=3).eval()
    ids = {"user": torch.tensor([0, 1]), "item": torch.tensor([2, 2])}
    before = model(ids)
    model.user_tokens[:, 2:] = torch.randint(1, 9, (3, 2, 6))  # change only masked-out reviews
    torch.testing.assert_close(model(ids), before)


# ---------------------------------------------------------------------------------------------- through the harness
@pytest.fixture
def synthetic_category(monkeypatch):
    """Route the R3 loader to a SYNTHETIC review table so full runs take seconds."""
    frame = synthetic_reviews(n_users=40, n_items=25, per_user=10)
    monkeypatch.setattr(D.amazon, "load_reviews", lambda name, keep_variant_copies=False: LoadedTable(frame, {"synthetic": "0" * 64}))


def _run(method: str, seed: int, overrides: dict):
    from reprorec import registry

    path = registry.find_config("r3", "amazon-musical-instruments", method)
    base = {"train": {"max_epochs": 3, "patience": None},
            "allow_ineligible": True}  # the synthetic category (400 reviews) is below R3's eligibility rules on purpose
    from reprorec.config import deep_merge

    return run_experiment(path, profile="quick", seed=seed, overrides=deep_merge(base, overrides), write=False)


def test_lambda_zero_reproduces_neumf_exactly(synthetic_category):
    neumf = _run("neumf", 7, {})
    r3 = _run("r3", 7, {"model": {"lam": 0.0, "text_dim": 8, "max_features": 200}})
    assert r3.record["metrics"] == neumf.record["metrics"]
    other = _run("r3", 7, {"model": {"lam": 1.0, "text_dim": 8, "max_features": 200}})
    assert other.record["metrics"]["test"]["mse"] != neumf.record["metrics"]["test"]["mse"]


def test_malformed_review_line_is_named(tmp_path, monkeypatch):
    good = {"reviewerID": "A", "asin": "B", "overall": 5.0, "reviewText": "fine", "summary": "s",
            "unixReviewTime": 1}
    path = tmp_path / "amazon2018" / "Synthetic_Things_5.json.gz"
    path.parent.mkdir(parents=True)
    with gzip.open(path, "wt") as f:
        f.write(json.dumps(good) + "\n" + json.dumps({**good, "asin": "C"}) + "\n" + '{"reviewerID": "A", "asin"\n')
    monkeypatch.setenv("REPRO_DATA_DIR", str(tmp_path))
    with pytest.warns(UserWarning, match="no pinned checksum"), pytest.raises(DatasetError, match=r"line 3 of"):
        D.load({"dataset": "amazon18-synthetic-things"}, seed=0)


def test_trimming_padding_does_not_change_text_cnn_output():
    from reprorec.papers.r3.models import TextCNN, trim

    torch.manual_seed(0)
    cnn = TextCNN(torch.nn.Embedding(10, 4, padding_idx=0), n_filters=5, kernel=3)
    tokens = torch.zeros(3, 20, dtype=torch.long)
    tokens[0, :7] = torch.randint(1, 10, (7,))
    tokens[1, :3] = torch.randint(1, 10, (3,))
    assert trim(tokens).shape == (3, 7)
    torch.testing.assert_close(cnn(trim(tokens)), cnn(tokens))


def test_variant_copies_of_a_review_are_collapsed_before_the_split(synthetic_category, monkeypatch):
    """2018 files file one review under several variant ASINs; a copy in training would leak a test review."""
    frame = synthetic_reviews()
    copies = frame.iloc[:40].assign(item_id=lambda f: f["item_id"] + "-variant")
    leaky = pd.concat([frame, copies], ignore_index=True)
    collapse = D.amazon.collapse_variant_copies
    monkeypatch.setattr(D.amazon, "load_reviews", lambda name, keep_variant_copies=False: LoadedTable(
        leaky if keep_variant_copies else collapse(leaky), {}))
    for seed in range(3):
        rd = D.load({"dataset": "x", "data": {"collapse_copies": True}}, seed)
        assert len(rd.split["train"]) + len(rd.split["val"]) + len(rd.split["test"]) == len(frame)
        kept = collapse(leaky)
        train_reviews = set(map(tuple, kept.iloc[rd.split["train"]][D.amazon.COPY_KEY].to_numpy().tolist()))
        test_reviews = set(map(tuple, kept.iloc[rd.split["test"]][D.amazon.COPY_KEY].to_numpy().tolist()))
        assert not train_reviews & test_reviews
    assert len(D.load({"dataset": "x", "data": {"collapse_copies": False}}, 0).ratings.user_codes) == len(leaky)


def test_readme_results_block_is_the_generated_one(monkeypatch):
    """The README's results tables are regenerated from the committed records (report --readme); a drift
    means records changed without regenerating them."""
    import re

    from reprorec.papers.r3 import report
    from reprorec.records import REPO_ROOT

    monkeypatch.setenv("REPRO_RESULTS_DIR", str(REPO_ROOT / "results"))
    text = Path(report.__file__).with_name("README.md").read_text()
    block = re.search(r"<!-- results:begin -->\n(.*?)\n<!-- results:end -->", text, re.S)
    assert block, "README has no results block"
    assert block.group(1) == report.render("full").rstrip("\n"), "run: python -m reprorec.papers.r3.report --readme"


def test_missing_text_plot_without_the_p0_run(tmp_path):
    """A study whose main run (p = 0) is absent still gets its table and plot; the paired change is left out."""
    from reprorec.papers.r3 import report

    rec = lambda mse: {"metrics": {"test": {"mse": mse}}}  # noqa: E731
    mt = {("d", "user", "r3"): {0.0: {}, 0.5: {0: rec(1.0), 1: rec(1.2)}}}
    table = report.missing_text_table_and_plot(mt, "full", tmp_path / "mt.png")
    assert "| d | user | r3 | — | 1.1000 ± 0.1414 (n=2) |" in table and (tmp_path / "mt.png").exists()
