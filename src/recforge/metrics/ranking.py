"""Top-K ranking metrics as pure functions over whole arrays.

Inputs are per-user rows of a ranked list:

* ``hits``: bool ``(n_users, K)``, ``hits[u, r]`` is True when the item ranked ``r`` (0-based)
  for user ``u`` is relevant;
* ``n_relevant``: ``(n_users,)`` number of relevant items of each user (the recall/NDCG
  denominator; users with 0 relevant items should be left out by the caller);
* ``gains``: float ``(n_users, K)`` graded relevance of the ranked items (graded NDCG);
* ``ideal``: float ``(n_users, >=K)`` each user's relevance grades sorted descending.

Every function returns per-user values; take ``.mean()`` for the usual average.
Conventions (the ones of RecBole, LightGCN and BARS): recall divides by all relevant items;
NDCG's ideal DCG uses ``min(n_relevant, k)`` hits; MAP divides by ``min(n_relevant, k)``.
"""

from __future__ import annotations

import numpy as np


def _check(hits: np.ndarray, k: int) -> np.ndarray:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    hits = np.asarray(hits)
    if hits.ndim != 2:
        raise ValueError(f"hits must be 2-D (users x ranks), got shape {hits.shape}")
    return hits[:, :k].astype(np.float64)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


def precision_at_k(hits: np.ndarray, *, k: int) -> np.ndarray:
    """Fraction of the top-``k`` that is relevant (divides by ``k`` even for short lists)."""
    return _check(hits, k).sum(axis=1) / k


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, *, k: int) -> np.ndarray:
    """Fraction of a user's relevant items found in the top-``k``."""
    h = _check(hits, k)
    n = np.asarray(n_relevant, dtype=np.float64)
    return np.divide(h.sum(axis=1), n, out=np.zeros_like(n), where=n > 0)


def hit_rate_at_k(hits: np.ndarray, *, k: int) -> np.ndarray:
    """1 when at least one relevant item is in the top-``k``."""
    return (_check(hits, k).sum(axis=1) > 0).astype(np.float64)


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, *, k: int) -> np.ndarray:
    """Binary-relevance NDCG@k."""
    h = _check(hits, k)
    disc = _discounts(h.shape[1])
    dcg = h @ disc
    cum = np.concatenate([[0.0], np.cumsum(_discounts(k))])
    n = np.minimum(np.asarray(n_relevant, dtype=np.int64), k)
    idcg = cum[n]
    return np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)


def graded_ndcg_at_k(gains: np.ndarray, ideal: np.ndarray, *, k: int) -> np.ndarray:
    """Graded NDCG@k with linear gains (``sum rel_r / log2(r + 2)``), as scikit-learn's
    ``ndcg_score``. ``ideal`` holds each user's grades sorted descending."""
    g = _check(gains, k)
    ideal = np.asarray(ideal, dtype=np.float64)[:, :k]
    dcg = g @ _discounts(g.shape[1])
    idcg = ideal @ _discounts(ideal.shape[1])
    return np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)


def mrr_at_k(hits: np.ndarray, *, k: int) -> np.ndarray:
    """Reciprocal rank of the first relevant item in the top-``k`` (0 when none)."""
    h = _check(hits, k) > 0
    any_hit = h.any(axis=1)
    first = np.argmax(h, axis=1)
    return np.where(any_hit, 1.0 / (first + 1), 0.0)


def map_at_k(hits: np.ndarray, n_relevant: np.ndarray, *, k: int) -> np.ndarray:
    """Average precision at ``k``, normalised by ``min(n_relevant, k)``."""
    h = _check(hits, k)
    ranks = np.arange(1, h.shape[1] + 1, dtype=np.float64)
    prec = np.cumsum(h, axis=1) / ranks
    denom = np.minimum(np.asarray(n_relevant, dtype=np.float64), k)
    return np.divide((prec * h).sum(axis=1), denom, out=np.zeros(h.shape[0]), where=denom > 0)


def auc_from_ranks(pos_ranks: list[np.ndarray] | np.ndarray, n_candidates: np.ndarray) -> np.ndarray:
    """Per-user AUC from the 0-based ranks of each user's positives among its candidates.

    With ``P`` positives ranked at ``r_1 < ... < r_P`` among ``N`` candidates, the number of
    negatives ranked above positive ``j`` is ``r_j - j`` (0-based ``j``); AUC is one minus their
    share of all ``P * (N - P)`` positive-negative pairs.
    """
    out = np.zeros(len(pos_ranks), dtype=np.float64)
    for u, ranks in enumerate(pos_ranks):
        r = np.sort(np.asarray(ranks, dtype=np.float64))
        p = r.size
        neg = float(n_candidates[u]) - p
        if p == 0 or neg <= 0:
            out[u] = np.nan
            continue
        above = (r - np.arange(p)).sum()
        out[u] = 1.0 - above / (p * neg)
    return out
