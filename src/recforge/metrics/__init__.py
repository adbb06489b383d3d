"""Metrics: pure functions over arrays.

* :mod:`recforge.metrics.ranking` — precision, recall, hit rate, NDCG, MRR, MAP, AUC at K;
* :mod:`recforge.metrics.beyond` — coverage, Gini, novelty, popularity bias;
* :mod:`recforge.metrics.classification` — AUC, logloss, group AUC, calibration (CTR);
* :mod:`recforge.metrics.ope` — off-policy estimators.
"""

from __future__ import annotations

from recforge.metrics.classification import auc, calibration, group_auc, logloss
from recforge.metrics.ranking import (
    auc_from_ranks,
    graded_ndcg_at_k,
    hit_rate_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)

__all__ = [
    "auc",
    "auc_from_ranks",
    "calibration",
    "group_auc",
    "logloss",
    "graded_ndcg_at_k",
    "hit_rate_at_k",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "precision_at_k",
    "recall_at_k",
]
