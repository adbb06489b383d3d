"""CTR metrics against scikit-learn and hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import log_loss, roc_auc_score

from recforge.errors import DataError
from recforge.metrics.classification import auc, calibration, compute, group_auc, logloss


def test_auc_hand_computed_with_ties() -> None:
    # pairs (pos, neg): (0.9 > 0.1) 1, (0.9 > 0.5) 1, (0.5 = 0.5) 0.5, (0.5 > 0.1) 1 -> 3.5 / 4
    assert auc(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.5, 0.5])) == 0.875


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6)), min_size=2, max_size=80))
def test_auc_matches_sklearn_with_many_ties(pairs: list[tuple[int, int]]) -> None:
    y = np.array([p[0] for p in pairs])
    s = np.array([p[1] for p in pairs], dtype=float) / 3.0  # few distinct values -> ties
    if y.min() == y.max():
        with pytest.raises(DataError):
            auc(y, s)
        return
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_auc_large_random_matches_sklearn(rng: np.random.Generator) -> None:
    y = rng.integers(0, 2, 20000)
    s = np.round(rng.normal(size=20000) + y, 1)
    assert auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_logloss_matches_sklearn(rng: np.random.Generator) -> None:
    y = rng.integers(0, 2, 500)
    p = rng.random(500)
    p[:3] = [0.0, 1.0, 0.5]
    ours = logloss(y, p, eps=1e-7)
    ref = log_loss(y, np.clip(p, 1e-7, 1 - 1e-7))
    assert ours == pytest.approx(ref, rel=1e-10)


def test_group_auc_is_impression_weighted_mean(rng: np.random.Generator) -> None:
    g = rng.integers(0, 30, 3000)
    y = rng.integers(0, 2, 3000)
    s = np.round(rng.random(3000) + 0.3 * y, 2)
    g[g == 7] = 7
    y[g == 7] = 1  # group 7 has one class only: skipped
    num = den = 0.0
    for k in np.unique(g):
        m = g == k
        if y[m].min() == y[m].max():
            continue
        num += roc_auc_score(y[m], s[m]) * m.sum()
        den += m.sum()
    assert group_auc(y, s, g) == pytest.approx(num / den, abs=1e-12)


def test_calibration_hand_computed() -> None:
    assert calibration(np.array([1, 0, 0, 0]), np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(2.0)


def test_errors_name_the_problem() -> None:
    with pytest.raises(DataError, match="both classes"):
        auc(np.ones(4), np.arange(4.0))
    with pytest.raises(DataError, match="0/1"):
        auc(np.array([0, 2]), np.array([0.1, 0.2]))
    with pytest.raises(DataError, match="probabilities"):
        logloss(np.array([0, 1]), np.array([-1.0, 2.0]))
    with pytest.raises(DataError, match="non-finite"):
        auc(np.array([0, 1]), np.array([np.nan, 0.2]))
    with pytest.raises(DataError, match="unknown CTR metric"):
        compute(["ndcg@10"], np.array([0, 1]), np.array([0.1, 0.2]))
