"""evaluate(): full ranking against a brute-force per-user loop, exclusion, sampled, fold-in."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recforge import split
from recforge.data import Interactions
from recforge.errors import ConfigError, DataError
from recforge.evaluation import evaluate, parse_metrics
from recforge.models.baselines import MostPopular
from recforge.models.ease import EASE
from recforge.models.mf import BPR
from tests.conftest import synthetic_frame


@pytest.fixture(scope="module")
def parts() -> split.Split:
    data = Interactions.from_frame(synthetic_frame(n_users=60, n_items=35, per_user=10, seed=4),
                                   user="user", item="item", rating="rating",
                                   timestamp="timestamp", name="synthetic")
    return split.random_holdout(data, (0.7, 0.0, 0.3), seed=1)


@pytest.fixture(scope="module")
def ease(parts: split.Split) -> EASE:
    return EASE(l2=5.0, dtype="float64").fit(parts.train)


def brute_force(model, train: Interactions, test: Interactions, k: int) -> dict[str, list[float]]:
    """Per-user loop with textbook formulas (no recforge metric code)."""
    seen = train.to_csr("binary")
    rel = test.to_csr("binary")
    out: dict[str, list[float]] = {m: [] for m in ("precision", "recall", "hit", "ndcg", "mrr", "map")}
    for u in range(test.n_users):
        relevant = set(rel[u].indices.tolist())
        if not relevant:
            continue
        scores = model.score_codes(np.array([u]))[0].astype(np.float64)
        scores[seen[u].indices] = -np.inf
        ranked = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
        ranked = [i for i in ranked if np.isfinite(scores[i])]
        hits = [1 if i in relevant else 0 for i in ranked]
        out["precision"].append(sum(hits) / k)
        out["recall"].append(sum(hits) / len(relevant))
        out["hit"].append(float(any(hits)))
        dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(relevant))))
        out["ndcg"].append(dcg / idcg)
        out["mrr"].append(next((1 / (r + 1) for r, h in enumerate(hits) if h), 0.0))
        ap, found = 0.0, 0
        for r, h in enumerate(hits):
            if h:
                found += 1
                ap += found / (r + 1)
        out["map"].append(ap / min(k, len(relevant)))
    return out


@pytest.mark.parametrize("k", [1, 5, 10])
def test_full_ranking_matches_brute_force(parts: split.Split, ease: EASE, k: int) -> None:
    names = ["precision", "recall", "hit", "ndcg", "mrr", "map"]
    res = evaluate(ease, parts.test, metrics=[f"{n}@{k}" for n in names], batch_size=7)
    ref = brute_force(ease, parts.train, parts.test, k)
    assert res.protocol == "full-ranking"
    assert res.n_users == len(ref["recall"])
    for n in names:
        np.testing.assert_allclose(res.per_user[f"{n}@{k}"], ref[n], atol=1e-9, err_msg=n)
        assert res[f"{n}@{k}"] == pytest.approx(np.mean(ref[n]), abs=1e-12)


def test_batch_size_does_not_change_results(parts: split.Split, ease: EASE) -> None:
    a = evaluate(ease, parts.test, metrics="ndcg@10,recall@5,auc,coverage@10", batch_size=1)
    b = evaluate(ease, parts.test, metrics="ndcg@10,recall@5,auc,coverage@10", batch_size=1000)
    assert dict(a) == pytest.approx(dict(b), abs=1e-12)


def test_seen_items_excluded(parts: split.Split) -> None:
    # popularity ranks the same items first for everyone, so many are in users' training data
    model = MostPopular().fit(parts.train)
    res = evaluate(model, parts.test, metrics=["recall@10"], keep_top_items=True)
    seen = parts.train.to_csr("binary")
    assert res.top_items is not None
    for row, u in enumerate(res.users):
        assert not set(seen[u].indices.tolist()) & set(res.top_items[row].tolist())
    # excluding train + extra interactions: those items disappear from the lists as well
    extra = parts.train.concat(parts.test)
    res2 = evaluate(model, parts.test, train=extra, metrics=["recall@10"])
    assert res2["recall@10"] == 0.0  # every test item is now excluded


def test_auc_matches_sklearn_per_user(parts: split.Split, ease: EASE) -> None:
    from sklearn.metrics import roc_auc_score

    res = evaluate(ease, parts.test, metrics=["auc"])
    seen = parts.train.to_csr("binary")
    rel = parts.test.to_csr("binary")
    for row, u in enumerate(res.users):
        cand = np.setdiff1d(np.arange(parts.train.n_items), seen[u].indices)
        scores = ease.score_codes(np.array([u]))[0][cand]
        labels = np.isin(cand, rel[u].indices)
        assert res.per_user["auc"][row] == pytest.approx(roc_auc_score(labels, scores), abs=1e-6)


def test_graded_ndcg_matches_sklearn(parts: split.Split, ease: EASE) -> None:
    from sklearn.metrics import ndcg_score

    res = evaluate(ease, parts.test, metrics=["gndcg@5"])
    seen = parts.train.to_csr("binary")
    grades = parts.test.to_csr("rating")
    for row, u in enumerate(res.users):
        cand = np.setdiff1d(np.arange(parts.train.n_items), seen[u].indices)
        y_true = grades[u].toarray()[0][cand]
        y_score = ease.score_codes(np.array([u]))[0][cand].astype(np.float64)
        ref = ndcg_score(y_true[None, :], y_score[None, :], k=5)
        assert res.per_user["gndcg@5"][row] == pytest.approx(ref, abs=1e-6)


def test_sampled_is_labelled_and_consistent(parts: split.Split, ease: EASE) -> None:
    full = evaluate(ease, parts.test, metrics=["recall@5", "ndcg@5"])
    few = evaluate(ease, parts.test, metrics=["recall@5", "ndcg@5"], sampled=5, seed=3)
    assert set(few) == {"recall@5[sampled-5]", "ndcg@5[sampled-5]"}
    assert few.protocol == "sampled-5" and few.to_dict()["protocol"] == "sampled-5"
    # ranking among fewer candidates can only move positives up
    assert np.all(few.per_user["recall@5[sampled-5]"] >= full.per_user["recall@5"] - 1e-12)
    # with at least as many negatives as the catalogue, sampling keeps everything: equal to full
    everything = evaluate(ease, parts.test, metrics=["recall@5", "ndcg@5"], sampled=10_000)
    np.testing.assert_allclose(everything.per_user["recall@5[sampled-10000]"], full.per_user["recall@5"])
    np.testing.assert_allclose(everything.per_user["ndcg@5[sampled-10000]"], full.per_user["ndcg@5"])


def test_user_holdout_fold_in() -> None:
    data = Interactions.from_frame(synthetic_frame(n_users=80, n_items=30, per_user=10, seed=9),
                                   user="user", item="item", rating="rating",
                                   timestamp="timestamp", name="synthetic")
    parts = split.user_holdout(data, (0.2, 0.2), seed=0)
    assert parts.test.history is not None
    model = EASE(l2=3.0, dtype="float64").fit(parts.train)
    res = evaluate(model, parts.test, metrics=["recall@5"])
    # brute force: score each held-out user's history with B computed independently
    X = parts.train.to_csr("binary").toarray().astype(np.float64)
    P = np.linalg.inv(X.T @ X + 3.0 * np.eye(X.shape[1]))
    B = np.eye(X.shape[1]) - P / np.diag(P)
    hist = parts.test.history.to_csr("binary").toarray()
    rel = parts.test.to_csr("binary")
    expect = []
    for u in res.users:
        s = hist[u] @ B
        s[hist[u] > 0] = -np.inf
        top = sorted(range(len(s)), key=lambda i: (-s[i], i))[:5]
        relevant = set(rel[u].indices.tolist())
        expect.append(len(relevant & set(top)) / len(relevant))
        assert u not in parts.train.active_users()
    np.testing.assert_allclose(res.per_user["recall@5"], expect, atol=1e-12)
    with pytest.raises(ConfigError, match="fold-in"):
        evaluate(BPR(factors=4, iterations=2).fit(parts.train), parts.test, metrics=["recall@5"])


def test_beyond_accuracy_through_evaluate(parts: split.Split) -> None:
    model = MostPopular().fit(parts.train)
    res = evaluate(model, parts.test, metrics=["coverage@3", "arp@3", "novelty@3", "gini@3"],
                   keep_top_items=True)
    top = res.top_items[:, :3]
    pop = np.asarray(parts.train.to_csr("binary").sum(axis=0)).ravel()
    assert res["coverage@3"] == pytest.approx(len(np.unique(top)) / parts.train.n_items)
    assert res["arp@3"] == pytest.approx(pop[top].mean(axis=1).mean())
    info = -np.log2(np.maximum(pop, 1) / parts.train.n_users)
    assert res["novelty@3"] == pytest.approx(info[top].mean(axis=1).mean())


def test_bad_metric_names() -> None:
    with pytest.raises(ConfigError, match="unknown metric"):
        parse_metrics("ndgc@10")
    with pytest.raises(ConfigError, match="cut-off"):
        parse_metrics("recall")
    with pytest.raises(ConfigError, match="auc takes no cut-off"):
        parse_metrics("auc@10")
    with pytest.raises(ConfigError, match="no metrics"):
        parse_metrics(" , ")


def test_mismatched_data_and_empty_test(parts: split.Split, ease: EASE) -> None:
    other = Interactions.from_frame(synthetic_frame(n_users=5, n_items=5, per_user=2),
                                    user="user", item="item")
    with pytest.raises(DataError, match="same dataset"):
        evaluate(ease, other, metrics=["recall@5"])
    with pytest.raises(DataError, match="no test user"):
        evaluate(ease, parts.test, metrics=["recall@5"], users=np.array([], dtype=np.int64))
