"""The missing-text study: one withheld set per data seed, shared by every method and run seed; withheld
text reaches no R3 target, DeepCoNN document or NARRE review list; the claims engine reads study points."""
import numpy as np
import pytest

from reprorec import config as C
from reprorec import registry
from reprorec.claims import RecordIndex, arm
from reprorec.experiment import run_experiment
from reprorec.papers.r3 import data as D


@pytest.fixture(autouse=True)
def need_data():
    from reprorec.data import data_dir

    if not (data_dir() / "amazon2018" / "Gift_Cards_5.json.gz").exists():
        pytest.skip("no Amazon data (REPRO_DATA_DIR)")


def _cfg(side, p, method="r3"):
    cfg = C.resolve(C.load(registry.find_config("r3", "amazon18-gift-cards", method)), "quick")
    cfg["data"] = {**cfg["data"], "missing_text": {"side": side, "p": p}}
    return cfg


@pytest.mark.parametrize("side", ["user", "item"])
def test_same_withheld_owners_for_every_run_seed(side):
    cfg = _cfg(side, 0.5)
    owners = []
    for seed in (0, 1):
        rd = D.load(cfg, seed)
        codes = (rd.ratings.user_codes if side == "user" else rd.ratings.item_codes)[rd.split["train"]]
        gone = rd.text_missing
        assert set(codes[gone]).isdisjoint(codes[~gone])  # an owner's reviews are all withheld or none
        assert (rd.train_text[gone] == "").all() and (rd.train_text[~gone] != "").any()
        owners.append(set(codes[gone]))
        n = rd.ratings.n_users if side == "user" else rd.ratings.n_items
        assert abs(len(set(codes[gone])) - 0.5 * n) <= 0.1 * n
    assert len(owners[0] & owners[1]) > 0.8 * min(map(len, owners))  # drawn from the data seed, not the run seed


def test_withheld_text_reaches_no_method():
    rd = D.load(_cfg("user", 0.5), 0)
    gone = rd.text_missing
    users = rd.ratings.user_codes[rd.split["train"]]
    rd.add_tfidf_svd(16, 2000, 0)
    t = rd.ratings.tensors["train"]
    assert (t["text_mask"].numpy() == ~gone).all() and (t["text"][gone] == 0).all()
    user_docs, item_docs, _ = rd.documents(2000, 100)
    assert (user_docs[np.unique(users[gone])] == 0).all()
    lists = rd.review_lists(2000, 4, 20)
    assert not lists["user"]["mask"][np.unique(users[gone])].any()


def test_r3_runs_with_withheld_text(tmp_path):
    path = registry.find_config("r3", "amazon18-gift-cards", "r3")
    over = {"train": {"max_epochs": 1}, "model": {"max_features": 500, "text_dim": 8}}
    study = {"name": "missing-text", "set": {"data": {"missing_text": {"side": "item", "p": 0.75}}},
             "point": {"data.missing_text.side": "item", "data.missing_text.p": 0.75}}
    out = run_experiment(path, overrides=over, study=study, results_root=tmp_path, run_dir=tmp_path / "run")
    assert out.record["config"]["data"]["missing_text"] == {"side": "item", "p": 0.75}
    assert np.isfinite(out.record["metrics"]["test"]["mse"])


def test_claims_index_reads_study_points():
    def rec(method, seed, study=None):
        cfg = {"study": study} if study else {}
        return {"paper": "r3", "dataset": "d", "method": method, "profile": "full", "seed": seed, "config": cfg,
                "metrics": {"test": {"mse": 1.0}}, "created": ""}
    point = {"name": "missing-text", "point": {"data.missing_text.p": 0.75, "data.missing_text.side": "user"}}
    ix = RecordIndex([rec("r3", 0), rec("r3", 0, point)])
    name, study = arm("r3@missing-text: data.missing_text.side=user,data.missing_text.p=0.75")
    assert ix.runs("r3", "d", name, "full", study) and ix.runs("r3", "d", "r3", "full")
    assert arm("r3") == ("r3", None)
