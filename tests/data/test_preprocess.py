"""Preprocessing: k-core against a brute-force loop, rating threshold, deduplication."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recforge.data import Interactions, deduplicate, filter_rating, k_core


def brute_force_core(pairs: set[tuple[int, int]], uk: int, ik: int) -> set[tuple[int, int]]:
    """Remove any pair whose user or item has too few pairs, one pass at a time, until stable."""
    pairs = set(pairs)
    while True:
        ucnt: dict[int, int] = {}
        icnt: dict[int, int] = {}
        for u, i in pairs:
            ucnt[u] = ucnt.get(u, 0) + 1
            icnt[i] = icnt.get(i, 0) + 1
        kept = {(u, i) for u, i in pairs if ucnt[u] >= uk and icnt[i] >= ik}
        if kept == pairs:
            return kept
        pairs = kept


def _random_data(seed: int, n: int = 600, users: int = 80, items: int = 60) -> Interactions:
    r = np.random.default_rng(seed)
    # skewed degrees so that several rounds are needed
    u = (r.pareto(1.2, n) * 5).astype(int) % users
    i = (r.pareto(1.0, n) * 4).astype(int) % items
    df = pl.DataFrame({"u": u, "i": i}).unique(maintain_order=True)
    return Interactions.from_frame(df, user="u", item="i")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("uk", "ik"), [(2, 2), (3, 5), (5, 2)])
def test_k_core_equals_brute_force(seed, uk, ik):
    data = _random_data(seed)
    raw = set(zip(data.decode_users(data.user).tolist(), data.decode_items(data.item).tolist(), strict=True))
    expected = brute_force_core(raw, uk, ik)
    if not expected:
        with pytest.raises(Exception, match="no interactions left"):
            k_core(data, user_k=uk, item_k=ik)
        return
    out = k_core(data, user_k=uk, item_k=ik)
    got = set(zip(out.decode_users(out.user).tolist(), out.decode_items(out.item).tolist(), strict=True))
    assert got == expected
    assert out.user_counts().min() >= uk and out.item_counts().min() >= ik
    step = out.report.steps[-1]
    assert step["step"] == "k_core" and step["converged"] is True
    assert step["removed"] == len(data) - len(out)
    assert step["users_removed"] == data.n_users - len({u for u, _ in expected})
    assert step["items_removed"] == data.n_items - len({i for _, i in expected})
    # a fixed point: filtering again removes nothing
    again = k_core(out, user_k=uk, item_k=ik)
    assert len(again) == len(out) and again.report.steps[-1]["removed"] == 0


def test_k_core_needs_several_rounds_on_a_chain():
    # item 3 has one user; removing it drops user 2 below 2, which drops item 2, ...
    df = pl.DataFrame({"u": [0, 0, 1, 1, 0, 1, 2, 2, 3], "i": [0, 1, 0, 1, 2, 2, 2, 3, 3]})
    data = Interactions.from_frame(df, user="u", item="i")
    out = k_core(data, user_k=2, item_k=2)
    assert sorted(zip(out.decode_users(out.user).tolist(), out.decode_items(out.item).tolist(), strict=True)) == [
        (0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    assert out.report.steps[-1]["rounds"] >= 3


def test_k_core_counts_distinct_pairs_not_repeats():
    df = pl.DataFrame({"u": [0, 0, 0, 1, 1], "i": [5, 5, 5, 5, 6]})
    data = Interactions.from_frame(df, user="u", item="i", duplicates="keep_all")
    with pytest.raises(Exception, match="no interactions left after 2/2-core"):
        k_core(data, user_k=2, item_k=2)


def test_rating_threshold_keeps_positives_and_reports():
    df = pl.DataFrame({"u": [1, 1, 2, 2, 3], "i": [1, 2, 1, 3, 3], "r": [5.0, 2.0, 4.0, 3.5, 1.0]})
    data = Interactions.from_frame(df, user="u", item="i", rating="r")
    out = filter_rating(data, 4.0)
    assert sorted(zip(out.decode_users(out.user).tolist(), out.decode_items(out.item).tolist(), strict=True)) == [(1, 1), (2, 1)]
    assert out.rating is None  # binarised
    assert out.n_users == 2 and out.n_items == 1  # vocabularies compacted
    step = out.report.steps[-1]
    assert step == {"step": "rating_threshold", "threshold": 4.0, "removed": 3, "kept": 2,
                    "users_removed": 1, "items_removed": 2}
    kept = filter_rating(data, 3.5, binarize=False)
    assert sorted(kept.rating.tolist()) == [3.5, 4.0, 5.0]


def test_deduplicate_keep_last_and_sum_report_removed():
    df = pl.DataFrame({"u": [1, 1, 2, 1, 2], "i": [7, 7, 7, 7, 8], "r": [1.0, 2.0, 3.0, 4.0, 5.0],
                       "t": [30, 10, 5, 20, 1]})
    data = Interactions.from_frame(df, user="u", item="i", rating="r", timestamp="t", duplicates="keep_all")
    last = deduplicate(data, policy="keep_last")
    assert sorted(last.to_frame().rows()) == [(1, 7, 1.0, 30), (2, 7, 3.0, 5), (2, 8, 5.0, 1)]
    assert last.report.steps[-1] == {"step": "deduplicate", "policy": "keep_last", "removed": 2}
    summed = deduplicate(data, policy="sum")
    assert sorted(summed.to_frame().rows()) == [(1, 7, 7.0, 30), (2, 7, 3.0, 5), (2, 8, 5.0, 1)]
    assert summed.report.steps[-1]["removed"] == 2
    with pytest.raises(Exception, match="policy must be"):
        deduplicate(data, policy="first")
