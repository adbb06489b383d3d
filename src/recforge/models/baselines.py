"""Non-personalised baselines: most popular and uniformly random."""

from __future__ import annotations

import dataclasses

import numpy as np

from recforge.config import Config, param
from recforge.data.interactions import Interactions
from recforge.models.base import TAG_FOLD_IN, EpochCallback, Recommender


@dataclasses.dataclass(frozen=True)
class MostPopularConfig(Config):
    """Most popular items.

    Attributes:
        weighting: ``"count"`` of distinct users, or ``"rating"`` (sum of weights).
    """

    weighting: str = param("count", choices=("count", "rating"), doc="popularity measure")


class MostPopular(Recommender):
    """Ranks items by how many training users interacted with them."""

    name = "most-popular"
    config_class = MostPopularConfig
    tags = frozenset({TAG_FOLD_IN})

    def _fit(self, train: Interactions, valid: Interactions | None, callback: EpochCallback | None) -> None:
        if self.config.weighting == "rating":  # type: ignore[attr-defined]
            pop = np.asarray(train.to_csr("rating").sum(axis=0)).ravel()
        else:
            pop = np.asarray(self._seen_.sum(axis=0)).ravel()
        self.popularity_ = pop.astype(np.float32)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(users), self.popularity_.size))

    def _score_history(self, history):  # type: ignore[no-untyped-def]
        return np.broadcast_to(self.popularity_, (history.shape[0], self.popularity_.size))

    def get_state(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity_}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.popularity_ = state["popularity"]


@dataclasses.dataclass(frozen=True)
class RandomConfig(Config):
    """Uniformly random scores (a floor for sanity checks)."""

    seed: int = param(0, doc="random seed")


class RandomRecommender(Recommender):
    """Random item scores, fixed per (seed, user) so results are reproducible."""

    name = "random"
    config_class = RandomConfig
    tags = frozenset({TAG_FOLD_IN})

    def _fit(self, train: Interactions, valid: Interactions | None, callback: EpochCallback | None) -> None:
        self.n_items_ = train.n_items

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        out = np.empty((len(users), self.n_items_), dtype=np.float32)
        for j, u in enumerate(users):
            out[j] = np.random.default_rng([self.config.seed, int(u)]).random(self.n_items_)  # type: ignore[attr-defined]
        return out

    def _score_history(self, history):  # type: ignore[no-untyped-def]
        rng = np.random.default_rng(self.config.seed)  # type: ignore[attr-defined]
        return rng.random((history.shape[0], self.n_items_)).astype(np.float32)

    def get_state(self) -> dict[str, np.ndarray]:
        return {"n_items": np.array([self.n_items_])}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.n_items_ = int(state["n_items"][0])
