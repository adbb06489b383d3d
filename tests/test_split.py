"""Split protocols: property tests (hypothesis) and the SPLIT string parser.

Row identity is carried through the splits in the ``rating`` column (row index as a float,
exact in float32 for these sizes), so "disjoint" and "cover" are checked on the rows
themselves, not on (user, item) pairs.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recforge import split
from recforge.data import Interactions
from recforge.errors import ConfigError, DataError

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def logs(draw, with_time: bool = True) -> Interactions:
    n_users = draw(st.integers(1, 12))
    n_items = draw(st.integers(1, 15))
    users, items, times = [], [], []
    for u in range(n_users):
        k = draw(st.integers(1, 10))
        users += [u] * k
        items += draw(st.lists(st.integers(0, n_items - 1), min_size=k, max_size=k))
        # a small time range gives ties on purpose
        times += draw(st.lists(st.integers(0, 30), min_size=k, max_size=k))
    n = len(users)
    perm = draw(st.permutations(range(n)))  # rows in arbitrary order
    cols = {"u": np.array(users)[perm], "i": np.array(items)[perm],
            "row": np.arange(n, dtype=float)}
    if with_time:
        cols["t"] = np.array(times)[perm]
    return Interactions.from_frame(pl.DataFrame(cols), user="u", item="i", rating="row",
                                   timestamp="t" if with_time else None, duplicates="keep_all")


def rows(part: Interactions | None) -> list[int]:
    return [] if part is None else sorted(part.rating.astype(int).tolist())


def assert_partition(data: Interactions, parts: list[Interactions | None], *, complete: bool = True) -> None:
    seen = [r for p in parts for r in rows(p)]
    assert len(seen) == len(set(seen)), "a row is in two parts"
    if complete:
        assert sorted(seen) == list(range(len(data))), "the parts do not cover the input"


fractions3 = st.tuples(st.floats(0.1, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0)).map(
    lambda f: tuple(x / sum(f) for x in f))


@SETTINGS
@given(data=logs(), fracs=fractions3, seed=st.integers(0, 2**31))
def test_random_holdout_partitions_per_user(data, fracs, seed):
    fracs = (fracs[0], fracs[1], max(0.0, 1.0 - fracs[0] - fracs[1]))
    train, valid, test = split.random_holdout(data, fracs, seed=seed, unseen="keep")
    assert_partition(data, [train, valid, test])
    # every user keeps at least one interaction in training
    assert set(train.active_users().tolist()) == set(data.active_users().tolist())
    again = split.random_holdout(data, fracs, seed=seed, unseen="keep")
    assert [rows(p) for p in again] == [rows(train), rows(valid), rows(test)]


@SETTINGS
@given(data=logs(), n=st.integers(1, 3), seed=st.integers(0, 2**31))
def test_leave_last_puts_each_users_latest_in_test(data, n, seed):
    train, valid, test = split.leave_last_out(data, n=n, seed=seed, unseen="keep")
    assert_partition(data, [train, valid, test])
    cnt = data.user_counts()
    for u in data.active_users():
        t_all = np.sort(data.timestamp[data.user == u])
        t_test = np.sort(test.timestamp[test.user == u])
        t_valid = valid.timestamp[valid.user == u]
        t_train = train.timestamp[train.user == u]
        if cnt[u] < 2 * n + 1:  # too short: all in training
            assert t_test.size == 0 and t_valid.size == 0 and t_train.size == cnt[u]
            continue
        assert t_test.size == n and t_valid.size == n
        assert t_test.tolist() == t_all[-n:].tolist()  # the n latest times (ties: any of them)
        assert t_valid.max() <= t_test.min() and t_train.max() <= t_valid.min()
    assert split.leave_last_out(data, n=n, seed=seed, unseen="keep").test.rating.tolist() == test.rating.tolist()


@SETTINGS
@given(data=logs(), f=st.tuples(st.floats(0.05, 0.95), st.floats(0.0, 0.5)))
def test_temporal_never_trains_on_the_future(data, f):
    f0, f1 = f[0], min(f[1], 1.0 - f[0])
    train, valid, test = split.temporal(data, (f0, f1), unseen="keep")
    assert_partition(data, [train, valid, test])
    for later in (valid, test):
        if len(later):
            assert train.timestamp.max() < later.timestamp.min()
    if len(valid) and len(test):
        assert valid.timestamp.max() < test.timestamp.min()
    rep = test_report = split.temporal(data, (f0, f1), unseen="keep").report
    assert rep["train_until"] == int(train.timestamp.max()) and test_report["protocol"] == "temporal"


@SETTINGS
@given(data=logs(), seed=st.integers(0, 2**31), f=st.tuples(st.floats(0.0, 0.4), st.floats(0.0, 0.4)))
def test_user_holdout_fold_in_partitions_and_respects_time(data, seed, f):
    try:
        train, valid, test = split.user_holdout(data, f, seed=seed, unseen="keep")
    except DataError:
        return
    assert_partition(data, [train, valid, valid.history, test, test.history])
    held = [set(p.active_users().tolist()) | set(p.history.active_users().tolist()) for p in (valid, test)]
    assert not (held[0] & held[1]) and not (held[0] | held[1]) & set(train.active_users().tolist())
    for part in (valid, test):
        for u in part.active_users():
            hist = part.history.timestamp[part.history.user == u]
            assert hist.size and hist.max() <= part.timestamp[part.user == u].min()


@SETTINGS
@given(data=logs(), seed=st.integers(0, 2**31))
def test_unseen_policy_drops_and_reports(data, seed):
    kept = split.random_holdout(data, (0.5, 0.2, 0.3), seed=seed, unseen="keep")
    dropped = split.random_holdout(data, (0.5, 0.2, 0.3), seed=seed, unseen="drop")
    seen_u = kept.train.user_counts() > 0
    seen_i = kept.train.item_counts() > 0
    for label, k, d in (("valid", kept.valid, dropped.valid), ("test", kept.test, dropped.test)):
        bad = ~seen_u[k.user] | ~seen_i[k.item]
        assert rows(d) == sorted(k.rating[~bad].astype(int).tolist())
        assert dropped.report[f"{label}_unseen_item_rows"] == int((~seen_i[k.item]).sum())
        assert dropped.report[f"{label}_unseen_user_rows"] == int((~seen_u[k.user]).sum())
        assert dropped.report[f"{label}_rows"] == len(d)
        assert seen_u[d.user].all() and seen_i[d.item].all()
    assert dropped.report["unseen_policy"] == "drop"


def test_leave_last_without_timestamps_uses_row_order():
    df = pl.DataFrame({"u": [1, 1, 1, 2, 2, 2], "i": [1, 2, 3, 3, 2, 1]})
    train, valid, test = split.leave_last_out(Interactions.from_frame(df, user="u", item="i"), unseen="keep")
    assert sorted(zip(test.decode_users(test.user).tolist(), test.decode_items(test.item).tolist(), strict=True)) == [(1, 3), (2, 1)]
    assert sorted(valid.decode_items(valid.item).tolist()) == [2, 2]


def test_given_files_split(tmp_path):
    data = Interactions.from_frame(pl.DataFrame({"u": [1, 1, 2, 2], "i": [1, 2, 1, 3]}), user="u", item="i")
    data.origin = np.array([0, 1, 0, 1], dtype=np.int8)
    data.origin_names = ["a.base", "a.test"]
    s = split.apply(data, "files:a.base,a.test")
    assert s.valid is None and len(s.train) == 2
    assert s.report["test_unseen_item_rows"] == 2 and len(s.test) == 0  # items 2 and 3 unseen
    with pytest.raises(ConfigError, match="not among the loaded files"):
        split.apply(data, "files:a.base,b.test")


@pytest.mark.parametrize(("spec", "match"), [
    ("random", "invalid split"),
    ("random:0.8,0.2", "takes 3 fractions"),
    ("random:a,b,c", "must be numbers"),
    ("temporal:0.8,0.1,0.1", "takes 2 fractions"),
    ("leave-last:x", "takes an integer"),
    ("leave-last:1,2", "takes an integer"),
    ("files:only", "TRAIN,TEST"),
    ("bogus:1", "unknown split protocol 'bogus'"),
])
def test_split_string_errors(spec, match):
    with pytest.raises(ConfigError, match=match):
        split.parse_split(spec)


@pytest.mark.parametrize(("spec", "match"), [
    ("random:0.8,0.3,0.1", "summing to at most 1"),
    ("random:-0.1,0.5,0.5", "non-negative"),
    ("leave-last:0", "n >= 1"),
])
def test_split_values_are_checked(small_data, spec, match):
    with pytest.raises(ConfigError, match=match):
        split.apply(small_data, spec)


def test_parse_valid_specs():
    assert split.parse_split("random:0.8,0.1,0.1") == ("random", {"fractions": (0.8, 0.1, 0.1)})
    assert split.parse_split("leave-last:2") == ("leave-last", {"n": 2})
    assert split.parse_split("LOO:") == ("leave-last", {"n": 1})
    assert split.parse_split("files:u1.base,u1.test") == ("files", {"train": "u1.base", "test": "u1.test"})


def test_temporal_needs_timestamps():
    data = Interactions.from_frame(pl.DataFrame({"u": [1, 2], "i": [1, 2]}), user="u", item="i")
    with pytest.raises(DataError, match="needs timestamps"):
        split.temporal(data)
