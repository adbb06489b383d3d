"""Beyond-accuracy metrics over the recommended lists.

``rec_items`` is an int array ``(n_users, K)`` of item codes (``-1`` pads short lists);
``item_popularity`` counts each item's training interactions.
"""

from __future__ import annotations

import numpy as np


def _counts(rec_items: np.ndarray, n_items: int) -> np.ndarray:
    flat = np.asarray(rec_items).reshape(-1)
    return np.bincount(flat[flat >= 0], minlength=n_items)


def catalogue_coverage(rec_items: np.ndarray, *, n_items: int) -> float:
    """Share of the catalogue that appears in at least one list."""
    return float((_counts(rec_items, n_items) > 0).sum() / n_items)


def gini_index(rec_items: np.ndarray, *, n_items: int) -> float:
    """Gini coefficient of how often each catalogue item is recommended (0 = equal exposure,
    towards 1 = a few items get everything). Items never recommended count as zeros."""
    x = np.sort(_counts(rec_items, n_items).astype(np.float64))
    total = x.sum()
    if total == 0:
        return 0.0
    n = x.size
    idx = np.arange(1, n + 1)
    return float(((2 * idx - n - 1) * x).sum() / (n * total))


def novelty(rec_items: np.ndarray, *, item_popularity: np.ndarray, n_users: int) -> np.ndarray:
    """Per-user mean self-information ``-log2(pop_i / n_users)`` of recommended items.

    Items with no training interactions get popularity 1 (the maximum novelty)."""
    rec = np.asarray(rec_items)
    pop = np.maximum(np.asarray(item_popularity, dtype=np.float64), 1.0)
    info = -np.log2(pop / max(1, n_users))
    vals = np.where(rec >= 0, info[np.maximum(rec, 0)], np.nan)
    return np.asarray(np.nanmean(vals, axis=1))


def average_popularity(rec_items: np.ndarray, *, item_popularity: np.ndarray) -> np.ndarray:
    """Per-user average training popularity of the recommended items (ARP)."""
    rec = np.asarray(rec_items)
    pop = np.asarray(item_popularity, dtype=np.float64)
    vals = np.where(rec >= 0, pop[np.maximum(rec, 0)], np.nan)
    return np.asarray(np.nanmean(vals, axis=1))
