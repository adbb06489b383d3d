"""A small synthetic split with real structure (popular items, user taste clusters).

Importable by a separate driver process (``python -c``) so that a killed search and its
resumed run see exactly the same data.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def make_split(n_users: int = 600, n_items: int = 400, per_user: int = 30, seed: int = 0) -> Any:
    """``(train, valid, test)`` of a seeded synthetic log with clustered tastes."""
    import recforge as rf

    frame = make_frame(n_users, n_items, per_user, seed)
    data = rf.Interactions.from_frame(frame, user="user", item="item", timestamp="timestamp", name="synthetic-clusters")
    return rf.split.random_holdout(data, seed=seed)


def make_frame(n_users: int = 600, n_items: int = 400, per_user: int = 30, seed: int = 0) -> Any:
    """The log itself (polars: user, item, timestamp)."""
    import polars as pl

    r = np.random.default_rng(seed)
    n_groups = 8
    group_of_item = r.integers(0, n_groups, n_items)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.6
    users, items = [], []
    for u in range(n_users):
        g = u % n_groups
        w = pop * np.where(group_of_item == g, 6.0, 1.0)
        chosen = r.choice(n_items, size=per_user, replace=False, p=w / w.sum())
        users.extend([u] * per_user)
        items.extend(chosen.tolist())
    return pl.DataFrame({"user": users, "item": items, "timestamp": r.permutation(len(users)) + 1_000_000})
