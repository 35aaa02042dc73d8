"""`reprorec replicate` end to end on categories built here from real review lines of a shared-data file:
an eligible one (2014 layout) is generated, run, judged and listed as a replication; an ineligible one
(2018 layout) is refused before anything is written."""
import gzip
import json
from collections import Counter

import pytest

from reprorec import cli
from reprorec.leaderboard import build

MI = "amazon/reviews_Musical_Instruments_5.json.gz"


def _tiny_data(src_root, root, n_min=1300):
    """Whole users of the Musical Instruments 5-core file, in reviewerID order, until n_min reviews:
    real lines, each user keeping all its reviews (median per user stays above 2)."""
    lines = gzip.open(src_root / MI, "rt").read().splitlines()
    by_user = Counter(json.loads(line)["reviewerID"] for line in lines)
    keep, n = set(), 0
    for user in sorted(by_user):
        keep.add(user)
        n += by_user[user]
        if n >= n_min:
            break
    chosen = [line for line in lines if json.loads(line)["reviewerID"] in keep]
    (root / "amazon").mkdir(parents=True)
    (root / "amazon2018").mkdir()
    with gzip.open(root / "amazon" / "reviews_Tiny_Instruments_5.json.gz", "wt") as f:
        f.write("\n".join(chosen) + "\n")
    with gzip.open(root / "amazon2018" / "Tiny_Gifts_5.json.gz", "wt") as f:  # 2018 layout, too small
        f.write("\n".join(chosen[:200]) + "\n")
    return len(chosen)


@pytest.fixture
def tiny(tmp_path, monkeypatch, data_dir):
    if not (data_dir / MI).exists():
        pytest.skip("no Amazon data")
    root = tmp_path / "data"
    n = _tiny_data(data_dir, root)
    monkeypatch.setenv("REPRO_DATA_DIR", str(root))
    return tmp_path, n


def test_replicate_generates_runs_and_judges(tiny, capsys):
    tmp, n = tiny
    confs = tmp / "replications"
    rc = cli.main(["replicate", "r3", "--dataset", "amazon-tiny-instruments", "--seeds", "2", "--profile", "quick",
                   "--methods", "bias", "neumf", "r3", "--set", "train.max_epochs=2", "--configs-dir", str(confs)])
    out = capsys.readouterr().out
    assert rc == 0
    assert sorted(p.name for p in confs.glob("*.yaml")) == [f"amazon-tiny-instruments-{m}.yaml" for m in ("bias", "neumf", "r3")]
    records = sorted((tmp / "results" / "r3" / "amazon-tiny-instruments").rglob("*.json"))
    assert len(records) == 6
    rec = json.loads(records[0].read_text())
    assert rec["eligibility"]["eligible"] and rec["eligibility"]["stats"]["reviews"] == n
    assert rec["config"]["model"] and rec["config"]["train"]["max_epochs"] == 2
    # C2 (R3 vs NeuMF) is evaluated on the new category; claims whose arms were not run say so
    c2 = next(line for line in out.splitlines() if line.startswith("| C2 | amazon-tiny-instruments"))
    assert "| 2 |" in c2 and "not testable" not in c2
    assert "no quick records of r3-bow" in out
    capsys.readouterr()
    assert cli.main(["claims", "r3", "--dataset", "amazon-tiny-instruments", "--profile", "quick", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)["r3"]
    assert {r["dataset"] for r in res} == {"amazon-tiny-instruments"}
    assert {"C1-deepconn", "C1-narre", "C2", "C2-bow"} <= {r["claim"] for r in res}
    build(results_root=tmp / "results", out_dir=tmp / "lb")
    md = (tmp / "lb" / "r3.md").read_text()
    assert "\n# Replications\n" in md and "## amazon-tiny-instruments · profile `quick` (replication)" in md


def test_ineligible_category_refused_before_anything_is_written(tiny, capsys):
    tmp, _ = tiny
    confs = tmp / "replications"
    rc = cli.main(["replicate", "r3", "--dataset", "amazon18-tiny-gifts", "--seeds", "1", "--profile", "quick",
                   "--configs-dir", str(confs)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "amazon18-tiny-gifts is not eligible for r3" in err and "training reviews (rule: at least 1000)" in err
    assert not list(confs.glob("*.yaml")) and not (tmp / "results" / "r3").exists()
