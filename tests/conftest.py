"""Shared fixtures: seeded RNG, synthetic interactions, the shared real datasets."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

os.environ.setdefault("RECFORGE_QUIET", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RECFORGE_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


@pytest.fixture
def shared_datasets() -> Path:
    """../shared/datasets; tests using it are marked realdata and skip when it is missing."""
    if not SHARED.is_dir():
        pytest.skip(f"real datasets folder {SHARED} is missing (set RECFORGE_SHARED_DATASETS)")
    return SHARED


def synthetic_frame(n_users: int = 50, n_items: int = 40, per_user: int = 8, seed: int = 0) -> pl.DataFrame:
    """Random implicit interactions with ratings and distinct timestamps."""
    r = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        chosen = r.choice(n_items, size=per_user, replace=False)
        users.extend([u] * per_user)
        items.extend(chosen.tolist())
    n = len(users)
    return pl.DataFrame({
        "user": users,
        "item": items,
        "rating": r.integers(1, 6, n).astype(float),
        "timestamp": r.permutation(n) + 1_000_000,
    })


@pytest.fixture
def small_data():
    from recforge.data import Interactions

    return Interactions.from_frame(synthetic_frame(), user="user", item="item",
                                   rating="rating", timestamp="timestamp", name="synthetic")
