"""Fixtures for the search tests: synthetic splits and the test-only oracle models."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def make_split(n_users: int = 200, n_items: int = 60, per_user: int = 10, seed: int = 3):
    """A random 60/20/20 split of synthetic interactions with a popularity skew."""
    import numpy as np
    import polars as pl

    from recforge.data import Interactions
    from recforge.split import random_holdout

    r = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, n_items + 1)
    users, items = [], []
    for u in range(n_users):
        items.extend(r.choice(n_items, size=per_user, replace=False, p=pop / pop.sum()).tolist())
        users.extend([u] * per_user)
    df = pl.DataFrame({"user": users, "item": items, "timestamp": np.arange(len(users))})
    data = Interactions.from_frame(df, user="user", item="item", timestamp="timestamp", name="synthetic")
    return random_holdout(data, (0.6, 0.2, 0.2), seed=0)


@pytest.fixture
def split_data():
    return make_split()


@pytest.fixture
def oracles(monkeypatch, split_data):
    """Register the oracle models and give the closed-form one the validation truth."""
    import search_models

    from recforge import registry

    monkeypatch.setitem(registry._TOPK, "oracle", "search_models:Oracle")
    monkeypatch.setitem(registry._TOPK, "closed-oracle", "search_models:ClosedOracle")
    monkeypatch.setattr(search_models.ClosedOracle, "truth", split_data.valid)
    search_models.FIT_LOG.clear()
    return search_models
