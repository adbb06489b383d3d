"""Final statistics of a chosen model for the report: test metrics with per-user values,
popularity bias of its recommendations, and the dataset summary."""

from __future__ import annotations

from typing import Any

import numpy as np

from recforge.data.interactions import Interactions


def final_stats(model: Any, train: Interactions, test: Interactions, *,
                exclude: Interactions | None = None, metrics: list[str] | None = None,
                k: int = 10) -> dict[str, Any]:
    """Evaluate ``model`` once on ``test`` and gather what the report shows.

    Popularity bias: items are cut into 10 popularity deciles by training interactions
    (decile 10 = most popular); for each decile we give its share of training interactions,
    of the catalogue, and of the top-``k`` recommendations.
    """
    from recforge.evaluation import evaluate

    metrics = metrics or [f"ndcg@{k}", f"recall@{k}", f"hit@{k}", f"coverage@{k}", f"arp@{k}"]
    res = evaluate(model, test, train=exclude, metrics=metrics, keep_top_items=True)
    pop = train.item_counts().astype(np.float64)
    order = np.argsort(pop, kind="stable")
    decile = np.empty(pop.size, dtype=np.int64)
    decile[order] = (np.arange(pop.size) * 10) // max(1, pop.size)
    top = res.top_items[:, :k] if res.top_items is not None else np.zeros((0, k), np.int64)
    rec_flat = top[top >= 0]
    rec_share = np.bincount(decile[rec_flat], minlength=10) / max(1, rec_flat.size)
    inter_share = np.bincount(decile, weights=pop, minlength=10) / max(1.0, pop.sum())
    return {
        "test_metrics": res.metrics,
        "n_test_users": res.n_users,
        "protocol": res.protocol,
        "per_user": {m: np.round(v, 6).tolist() for m, v in res.per_user.items()},
        "popularity_bias": {
            "deciles": list(range(1, 11)),
            "recommended_share": rec_share.round(6).tolist(),
            "interaction_share": inter_share.round(6).tolist(),
            "k": k,
        },
        "dataset": {**train.concat(test).summary(), "name": (train.name or "data").split(":")[0]},
    }
