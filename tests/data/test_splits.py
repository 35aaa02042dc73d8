import numpy as np
import pytest

from reprorec.data.splits import fingerprint, leave_last_out, make_split, random_split, time_cut


def test_random_split_is_a_seeded_partition():
    s = random_split(1000, (0.8, 0.1, 0.1), seed=3)
    assert [len(s[k]) for k in ("train", "val", "test")] == [800, 100, 100]
    assert np.array_equal(np.sort(np.concatenate(list(s.values()))), np.arange(1000))
    again = random_split(1000, (0.8, 0.1, 0.1), seed=3)
    assert fingerprint(s) == fingerprint(again)
    assert fingerprint(s) != fingerprint(random_split(1000, (0.8, 0.1, 0.1), seed=4))


def test_leave_last_out_by_hand():
    users = np.array([1, 1, 1, 2, 2, 1, 3, 3, 3])
    times = np.array([10, 30, 20, 5, 6, 40, 1, 2, 3])
    s = leave_last_out(users, times)
    assert s["test"].tolist() == [5, 8]  # user 1's t=40, user 3's t=3; user 2 has < 3 interactions
    assert s["val"].tolist() == [1, 7]  # user 1's t=30, user 3's t=2
    assert s["train"].tolist() == [0, 2, 3, 4, 6]


def test_time_cut_by_timestamp_and_quantile():
    t = np.arange(100)
    s = time_cut(t, 70, 85)
    assert s["train"].max() == 69 and s["val"].tolist() == list(range(70, 85)) and s["test"].min() == 85
    q = time_cut(t, 0.7, 0.85)
    assert len(q["train"]) == 69 or len(q["train"]) == 70
    with pytest.raises(ValueError):
        time_cut(t, 90, 10)


def test_make_split_rejects_unknown_kind():
    with pytest.raises(ValueError, match="unknown split kind"):
        make_split("stratified", n=10)
