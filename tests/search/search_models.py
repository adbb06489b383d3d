"""Test-only models whose validation quality is known in advance (registered by monkeypatch).

``Oracle`` scores each user's validation items first with probability ``quality`` (the rest of
the time they get random scores), so its validation NDCG grows with ``quality``; it reports
``quality`` as its per-epoch metric, sleeps ``fit_sleep`` seconds per epoch and
``score_sleep`` seconds per scoring call (to make latency), and raises when ``fail`` is set.
``FIT_LOG`` records the number of training users of every fit (data-fraction rungs).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import numpy as np

from recforge.config import Config, param
from recforge.data.interactions import Interactions
from recforge.models.base import TAG_ITERATIVE, EpochCallback, EpochReport, Recommender

FIT_LOG: list[tuple[str, float, int]] = []


@dataclasses.dataclass(frozen=True)
class OracleConfig(Config):
    quality: float = param(0.5, low=0.0, high=1.0)
    epochs: int = param(9, low=1, high=1000)
    fit_sleep: float = param(0.0, low=0.0)
    score_sleep: float = param(0.0, low=0.0)
    fail: bool = param(False)
    seed: int = param(0, low=0)
    marker: str = param("")
    scale_with_users: bool = param(False)  # fit_sleep x fraction of users in the training data


class _OracleBase(Recommender):
    config_class = OracleConfig
    #: the validation part, for fits that do not receive it (closed-form families)
    truth: Interactions | None = None

    def _prepare(self, train: Interactions, valid: Interactions | None) -> None:
        cfg = self.config
        FIT_LOG.append((self.name, cfg.quality, int(len(train.active_users()))))  # type: ignore[attr-defined]
        if cfg.marker:  # type: ignore[attr-defined]
            with open(cfg.marker, "a") as fh:  # type: ignore[attr-defined]
                fh.write(f"{os.getpid()} fit {cfg.quality}\n")  # type: ignore[attr-defined]
        if cfg.fail:  # type: ignore[attr-defined]
            raise RuntimeError("this configuration is broken on purpose")
        rng = np.random.default_rng(cfg.seed)  # type: ignore[attr-defined]
        n_u, n_i = train.n_users, train.n_items
        base = rng.random((n_u, n_i)).astype(np.float32)
        valid = valid if valid is not None else type(self).truth
        if valid is not None:
            good = rng.random(n_u) < cfg.quality  # type: ignore[attr-defined]
            rel = valid.to_csr("binary").toarray() > 0
            base[good[:, None] & rel] += 10.0
        self.scores_ = base

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        if self.config.score_sleep:  # type: ignore[attr-defined]
            time.sleep(self.config.score_sleep)  # type: ignore[attr-defined]
        return self.scores_[users]

    def get_state(self) -> dict[str, np.ndarray]:
        return {"scores": self.scores_}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.scores_ = state["scores"]


class Oracle(_OracleBase):
    """Iterative: reports ``quality`` after each epoch."""

    name = "oracle"
    tags = frozenset({TAG_ITERATIVE})

    def _fit(self, train: Interactions, valid: Interactions | None, callback: EpochCallback | None) -> None:
        self._prepare(train, valid)
        cfg = self.config
        start = time.perf_counter()
        for epoch in range(1, cfg.epochs + 1):  # type: ignore[attr-defined]
            if cfg.fit_sleep:  # type: ignore[attr-defined]
                time.sleep(cfg.fit_sleep)  # type: ignore[attr-defined]
            self.epochs_run_ = epoch
            if callback is not None and callback(EpochReport(
                    epoch=epoch, elapsed=time.perf_counter() - start, metric=cfg.quality,  # type: ignore[attr-defined]
                    metric_name="ndcg@10")):
                break


class ClosedOracle(_OracleBase):
    """Closed form: one shot, no epochs (searched with data-fraction fidelity)."""

    name = "closed-oracle"

    def _fit(self, train: Interactions, valid: Interactions | None, callback: EpochCallback | None) -> None:
        self._prepare(train, valid)
        cfg = self.config
        if cfg.fit_sleep:  # type: ignore[attr-defined]
            share = len(train.active_users()) / train.n_users if cfg.scale_with_users else 1.0  # type: ignore[attr-defined]
            time.sleep(cfg.fit_sleep * share)  # type: ignore[attr-defined]


def write_portfolio(path: Path, entries: list[dict]) -> Path:
    path.write_text(json.dumps({"format": "recforge-portfolio", "version": 1, "configs": entries}))
    return path
