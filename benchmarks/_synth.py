"""Synthetic interaction matrices shared by the benchmarks."""

from __future__ import annotations

import numpy as np
import polars as pl


def ml1m_shaped(n_users: int = 6040, n_items: int = 3706, n_interactions: int = 1_000_000,
                seed: int = 0) -> pl.DataFrame:
    """A MovieLens-1M-shaped implicit log: Zipf-like item popularity, skewed user activity,
    ``n_interactions`` distinct (user, item) pairs."""
    r = np.random.default_rng(seed)
    item_p = 1.0 / np.arange(1, n_items + 1) ** 0.8
    item_p /= item_p.sum()
    user_p = r.lognormal(0.0, 1.0, n_users)
    user_p /= user_p.sum()
    seen: set[int] = set()
    codes = np.zeros(0, dtype=np.int64)
    while codes.size < n_interactions:
        need = int((n_interactions - codes.size) * 1.3) + 1000
        u = r.choice(n_users, size=need, p=user_p)
        i = r.choice(n_items, size=need, p=item_p)
        new = np.unique(u.astype(np.int64) * n_items + i)
        codes = np.union1d(codes, new)
    del seen
    codes = r.permutation(codes)[:n_interactions]
    return pl.DataFrame({"user": codes // n_items, "item": codes % n_items})
