"""Ranking and beyond-accuracy metrics: hand-computed cases, scikit-learn, invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recforge.metrics import beyond, ranking

HITS = np.array([[1, 0, 1, 0, 0],
                 [0, 0, 0, 0, 1],
                 [0, 0, 0, 0, 0]], dtype=bool)
NREL = np.array([3, 1, 2])


def test_hand_computed_at_5() -> None:
    np.testing.assert_allclose(ranking.precision_at_k(HITS, k=5), [2 / 5, 1 / 5, 0])
    np.testing.assert_allclose(ranking.recall_at_k(HITS, NREL, k=5), [2 / 3, 1, 0])
    np.testing.assert_allclose(ranking.hit_rate_at_k(HITS, k=5), [1, 1, 0])
    idcg0 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    np.testing.assert_allclose(ranking.ndcg_at_k(HITS, NREL, k=5),
                               [(1 + 0.5) / idcg0, 1 / math.log2(6), 0])
    np.testing.assert_allclose(ranking.mrr_at_k(HITS, k=5), [1, 1 / 5, 0])
    np.testing.assert_allclose(ranking.map_at_k(HITS, NREL, k=5), [(1 + 2 / 3) / 3, (1 / 5) / 1, 0])


def test_hand_computed_at_2() -> None:
    np.testing.assert_allclose(ranking.precision_at_k(HITS, k=2), [1 / 2, 0, 0])
    np.testing.assert_allclose(ranking.recall_at_k(HITS, NREL, k=2), [1 / 3, 0, 0])
    np.testing.assert_allclose(ranking.ndcg_at_k(HITS, NREL, k=2), [1 / (1 + 1 / math.log2(3)), 0, 0])
    np.testing.assert_allclose(ranking.mrr_at_k(HITS, k=2), [1, 0, 0])
    # MAP@2 divides by min(n_rel, 2)
    np.testing.assert_allclose(ranking.map_at_k(HITS, NREL, k=2), [1 / 2, 0, 0])


def test_graded_ndcg_hand_computed() -> None:
    gains = np.array([[3.0, 0.0, 1.0]])
    ideal = np.array([[3.0, 2.0, 1.0]])
    dcg = 3 + 1 / 2
    idcg = 3 + 2 / math.log2(3) + 1 / 2
    np.testing.assert_allclose(ranking.graded_ndcg_at_k(gains, ideal, k=3), [dcg / idcg])


def test_auc_hand_computed() -> None:
    # scores 0.9(+) 0.8(-) 0.7(+) 0.6(-): positives at 0-based ranks 0 and 2 -> 3 of 4 pairs
    np.testing.assert_allclose(ranking.auc_from_ranks([np.array([0, 2])], np.array([4])), [0.75])
    # all positives first / last
    np.testing.assert_allclose(ranking.auc_from_ranks([np.array([0, 1]), np.array([3, 4])],
                                                      np.array([5, 5])), [1.0, 0.0])
    # no negatives: undefined
    assert np.isnan(ranking.auc_from_ranks([np.array([0, 1])], np.array([2]))[0])


def test_bad_k_and_shape() -> None:
    with pytest.raises(ValueError, match="k must be >= 1"):
        ranking.precision_at_k(HITS, k=0)
    with pytest.raises(ValueError, match="2-D"):
        ranking.precision_at_k(np.zeros(3, bool), k=1)


def _ranked(scores: np.ndarray, grades: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-scores, axis=1, kind="stable")
    gains = np.take_along_axis(grades, order, axis=1)[:, :k]
    ideal = -np.sort(-grades, axis=1)
    return gains, ideal


@pytest.mark.parametrize("k", [1, 3, 10])
def test_graded_ndcg_matches_sklearn(k: int) -> None:
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(0)
    grades = rng.integers(0, 5, size=(30, 12)).astype(float)
    grades[:, 0] = np.maximum(grades[:, 0], 1)  # every user has a relevant item
    scores = rng.random((30, 12))  # continuous: no ties
    gains, ideal = _ranked(scores, grades, k)
    ours = ranking.graded_ndcg_at_k(gains, ideal, k=k)
    ref = [ndcg_score(grades[u:u + 1], scores[u:u + 1], k=k) for u in range(30)]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    np.testing.assert_allclose(ours.mean(), ndcg_score(grades, scores, k=k), rtol=1e-12)


def test_binary_ndcg_equals_sklearn_on_binary_grades() -> None:
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(1)
    rel = rng.random((20, 15)) < 0.3
    rel[:, 3] = True
    scores = rng.random((20, 15))
    order = np.argsort(-scores, axis=1)
    hits = np.take_along_axis(rel, order, axis=1)
    ours = ranking.ndcg_at_k(hits, rel.sum(axis=1), k=5)
    ref = [ndcg_score(rel[u:u + 1].astype(float), scores[u:u + 1], k=5) for u in range(20)]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)


def _tie_aware_ranks(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    pos = scores[labels]
    above = (scores[None, :] > pos[:, None]).sum(axis=1)
    ties = (scores[None, :] == pos[:, None]).sum(axis=1) - 1
    return above + ties / 2


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_sklearn_with_ties(seed: int) -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=40).astype(float)  # many ties
    labels = rng.random(40) < 0.3
    labels[0], labels[1] = True, False
    ours = ranking.auc_from_ranks([_tie_aware_ranks(scores, labels)], np.array([40]))
    assert ours[0] == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


@st.composite
def rankings(draw):  # type: ignore[no-untyped-def]
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(1, 15))
    seed = draw(st.integers(0, 2**31 - 1))
    k = draw(st.integers(1, 20))
    rng = np.random.default_rng(seed)
    rel = rng.random((n_users, n_items)) < rng.random()
    rel[:, rng.integers(0, n_items)] = True  # at least one relevant item each
    perm = np.argsort(rng.random((n_users, n_items)), axis=1)
    hits = np.take_along_axis(rel, perm, axis=1)
    return hits, rel.sum(axis=1), k


ALL = ("precision", "recall", "hit", "ndcg", "mrr", "map")


def _all_metrics(hits: np.ndarray, nrel: np.ndarray, k: int) -> dict[str, np.ndarray]:
    return {
        "precision": ranking.precision_at_k(hits, k=k),
        "recall": ranking.recall_at_k(hits, nrel, k=k),
        "hit": ranking.hit_rate_at_k(hits, k=k),
        "ndcg": ranking.ndcg_at_k(hits, nrel, k=k),
        "mrr": ranking.mrr_at_k(hits, k=k),
        "map": ranking.map_at_k(hits, nrel, k=k),
    }


@settings(max_examples=60, deadline=None)
@given(rankings())
def test_bounds(case) -> None:  # type: ignore[no-untyped-def]
    hits, nrel, k = case
    for name, v in _all_metrics(hits, nrel, k).items():
        assert v.shape == (hits.shape[0],), name
        assert np.all((v >= 0) & (v <= 1 + 1e-12)), name


@settings(max_examples=60, deadline=None)
@given(rankings())
def test_perfect_ranking_is_one(case) -> None:  # type: ignore[no-untyped-def]
    hits, nrel, k = case
    perfect = np.sort(hits.astype(int), axis=1)[:, ::-1].astype(bool)  # relevant items first
    m = _all_metrics(perfect, nrel, k)
    for name in ("ndcg", "mrr", "map", "hit"):
        np.testing.assert_allclose(m[name], 1.0, err_msg=name)
    np.testing.assert_allclose(m["recall"], np.minimum(nrel, k) / nrel)
    np.testing.assert_allclose(m["precision"], np.minimum(nrel, k) / k)


@settings(max_examples=60, deadline=None)
@given(rankings(), st.integers(0, 2**31 - 1))
def test_user_permutation_invariance(case, seed) -> None:  # type: ignore[no-untyped-def]
    hits, nrel, k = case
    perm = np.random.default_rng(seed).permutation(hits.shape[0])
    a = _all_metrics(hits, nrel, k)
    b = _all_metrics(hits[perm], nrel[perm], k)
    for name in ALL:
        np.testing.assert_allclose(b[name], a[name][perm], err_msg=name)
        assert b[name].mean() == pytest.approx(a[name].mean(), abs=1e-12)


# --------------------------------------------------------------------- beyond accuracy
REC = np.array([[0, 1], [0, 2], [0, -1]])


def test_coverage_and_gini_hand_computed() -> None:
    assert beyond.catalogue_coverage(REC, n_items=4) == pytest.approx(3 / 4)
    # counts [3, 1, 1, 0] sorted [0, 1, 1, 3]: sum((2i - n - 1) x) / (n sum x) = 9 / 20
    assert beyond.gini_index(REC, n_items=4) == pytest.approx(9 / 20)
    # equal exposure -> 0; one item gets everything -> (n - 1) / n
    assert beyond.gini_index(np.array([[0, 1], [2, 3]]), n_items=4) == pytest.approx(0.0)
    assert beyond.gini_index(np.array([[0], [0]]), n_items=4) == pytest.approx(3 / 4)
    assert beyond.gini_index(np.full((2, 2), -1), n_items=4) == 0.0


def test_novelty_and_arp_hand_computed() -> None:
    pop = np.array([4, 2, 1, 0])
    # -log2(pop / 8) = [1, 2, 3, 3 (unseen items count as popularity 1)]
    np.testing.assert_allclose(beyond.novelty(REC, item_popularity=pop, n_users=8), [1.5, 2.0, 1.0])
    np.testing.assert_allclose(beyond.average_popularity(REC, item_popularity=pop), [3.0, 2.5, 4.0])
