"""Two-stage recommender: leakage-free ranker data, candidate ordering, value of the ranker."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from recforge import artifacts, split
from recforge.data import Interactions
from recforge.errors import ConfigError
from recforge.evaluation import evaluate

pytest.importorskip("torch")
from recforge.models.two_stage import TwoStage  # noqa: E402

LR = json.dumps({"epochs": 8, "batch_size": 256, "lr": 0.05, "lr_embedding": 0.05, "threads": 1})
FM = json.dumps({"epochs": 8, "batch_size": 256, "dim": 4, "lr": 0.02, "lr_embedding": 0.05, "threads": 1})


def _grouped(seed: int = 0) -> Interactions:
    """Two user groups; each group only uses the items of its own category.

    Item popularity is the same in both categories, so a popularity retriever cannot tell
    them apart, while a ranker that sees the user's group and the item's category can.
    """
    r = np.random.default_rng(seed)
    n_users, n_items, per_user = 120, 40, 10
    group = np.arange(n_users) % 2
    cat = np.arange(n_items) % 2
    rows = []
    t = 0
    pop = 1.0 / np.arange(1, n_items // 2 + 1)  # Zipf within a category
    for u in range(n_users):
        own = np.flatnonzero(cat == group[u])
        chosen = r.choice(own, size=per_user, replace=False, p=pop / pop.sum())
        for it in chosen:
            t += 1
            rows.append((u, int(it), t))
    df = pl.DataFrame(rows, schema=["user", "item", "ts"], orient="row")
    data = Interactions.from_frame(df, user="user", item="item", timestamp="ts", name="grouped")
    uf = pl.DataFrame({"user": np.arange(n_users), "group": [f"g{g}" for g in group]})
    itf = pl.DataFrame({"item": np.arange(n_items), "category": [f"c{c}" for c in cat]})
    return data.with_side_features(uf, itf)


def test_config_validation() -> None:
    with pytest.raises(ConfigError, match="ranker must be a CTR model"):
        TwoStage(ranker="ease")
    with pytest.raises(ConfigError, match="retriever must be a top-K model"):
        TwoStage(retriever="deepfm")
    with pytest.raises(ConfigError, match="JSON object"):
        TwoStage(ranker_params="{not json")


def test_ranker_data_comes_from_interactions_the_retriever_did_not_see() -> None:
    data = _grouped()
    model = TwoStage(retriever="most-popular", ranker="lr", ranker_params=LR, n_candidates=20,
                     ranker_holdout=0.3, refit_retriever=False).fit(data)
    hold = model._holdout_mask(data)
    # each user's latest 30% (by time) are held out: 3 of 10 per user here
    assert np.bincount(data.user[hold]).tolist() == [3] * 120
    for u in (0, 7, 55):
        t = data.timestamp[data.user == u]
        assert data.timestamp[(data.user == u) & hold].min() > t[~hold[data.user == u]].max()
    seen = model.retriever_._seen_
    assert seen.nnz == int((~hold).sum())
    assert all(seen[u, i] == 0 for u, i in zip(data.user[hold], data.item[hold], strict=True))


def test_candidates_rank_above_the_rest_and_come_from_the_retriever() -> None:
    data = _grouped()
    model = TwoStage(retriever="most-popular", ranker="lr", ranker_params=LR, n_candidates=5).fit(data)
    users = np.arange(10)
    scores = model.score_codes(users)
    from recforge.models.base import mask_rows, topk_rows

    masked = np.array(model.retriever_.score_codes(users), dtype=np.float32, copy=True)
    mask_rows(masked, model._seen_, users)
    cand, _ = topk_rows(masked, 5)
    for j in range(len(users)):
        inside = scores[j, cand[j]]
        outside = np.delete(scores[j], cand[j])
        assert inside.min() > outside.max()
    recs = model.recommend(data.user_ids[users], k=5)
    assert [set(r) for r in recs.item_codes.tolist()] == [set(c) for c in cand.tolist()]


def test_ranker_with_side_features_beats_its_popularity_retriever() -> None:
    data = _grouped()
    train, valid, test = split.leave_last_out(data, n=2, seed=0)
    from recforge.models.baselines import MostPopular

    base = evaluate(MostPopular().fit(train), test, metrics=["ndcg@10"])["ndcg@10"]
    model = TwoStage(retriever="most-popular", ranker="fm", ranker_params=FM, n_candidates=40,
                     ranker_holdout=0.3, id_features=False).fit(train, valid)
    ours = evaluate(model, test, metrics=["ndcg@10"])["ndcg@10"]
    assert ours > base + 0.1, (ours, base)


def test_artifact_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = _grouped()
    model = TwoStage(retriever="ease", retriever_params='{"l2": 10.0}', ranker="fm", ranker_params=FM,
                     n_candidates=8, scorers="most-popular,item-knn").fit(data)
    artifacts.save(model, tmp_path / "ts")
    again = artifacts.load(tmp_path / "ts")
    a = model.recommend(data.user_ids[:20], k=5)
    b = again.recommend(data.user_ids[:20], k=5)
    np.testing.assert_array_equal(a.item_codes, b.item_codes)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5)


def test_stage_latency_is_reported_per_stage() -> None:
    data = _grouped()
    model = TwoStage(retriever="most-popular", ranker="lr", ranker_params=LR, n_candidates=5).fit(data)
    lat = model.stage_latency_ms_
    assert set(lat) == {"retrieval_p50_ms", "retrieval_p95_ms", "ranking_p50_ms", "ranking_p95_ms"}
    assert all(v > 0 for v in lat.values())
    assert lat["retrieval_p95_ms"] >= lat["retrieval_p50_ms"]


def test_two_stage_is_a_searchable_family() -> None:
    from recforge.search import search

    data = _grouped()
    train, valid, test = split.leave_last_out(data, n=1, seed=0)
    res = search(train, valid, test, budget="60s", models=["two-stage"], max_trials=2,
                 warm_start=False, progress=False,
                 spaces={"two-stage": {"params": {"n_candidates": {"type": "int", "low": 5, "high": 10}},
                                       "fixed": {"retriever": "most-popular", "ranker": "lr",
                                                 "ranker_params": LR}}})
    assert res.best is not None and res.best.family == "two-stage"
    assert res.test_metrics is not None and "ndcg@10" in res.test_metrics
