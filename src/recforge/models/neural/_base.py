"""Skeleton shared by the neural recommenders: fit = setup + :class:`TrainingLoop` + teardown.

A subclass provides ``_setup`` (build the ``nn.Module`` and its data, return the number of
training examples per epoch), ``_train_epoch`` (one pass, mean loss), ``_refresh`` (make
``_score_users`` reflect the current weights) and the scoring/state methods.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

import numpy as np

from recforge.models.base import TAG_ITERATIVE, TAG_NEURAL, EpochCallback, Recommender
from recforge.models.neural._torch import configure_threads, seed_everything
from recforge.models.neural.loop import NeuralConfig, TimedStep, TrainingLoop, fit_info

if TYPE_CHECKING:
    import torch

    from recforge.data.interactions import Interactions


class NeuralRecommender(Recommender):
    """Base of the torch models; see the module docstring."""

    tags = frozenset({TAG_NEURAL, TAG_ITERATIVE})
    config_class = NeuralConfig
    #: where the loop keeps the best checkpoint; None = a temporary directory
    checkpoint_dir: str | None = None

    module_: Any  # the nn.Module (Any: attribute access on nn.Module defeats mypy)
    _step: TimedStep

    def _fit(self, train: Interactions, valid: Interactions | None, callback: EpochCallback | None) -> None:
        cfg: Any = self.config
        threads = configure_threads()
        self._rng = seed_everything(cfg.seed)
        n_examples = self._setup(train, valid)
        self._step = TimedStep(self._loss, compile=cfg.compile)
        loop = TrainingLoop(
            self,
            self.module_,
            epochs=cfg.epochs,
            patience=cfg.patience,
            metric=cfg.eval_metric,
            eval_every=cfg.eval_every,
            valid=valid,
            train=train,
            callback=callback,
            refresh=self._refresh,
            description=f"fitting {self.name}",
            checkpoint_dir=self.checkpoint_dir,
            seed=cfg.seed,
        )
        result = loop.run(self._train_epoch)
        self.fit_info_ = fit_info(result, self._step, n_examples, threads)
        self._teardown()

    @abc.abstractmethod
    def _setup(self, train: Interactions, valid: Interactions | None) -> int:
        """Build ``self.module_``, optimisers and training data; return examples per epoch."""

    @abc.abstractmethod
    def _loss(self, *batch: Any) -> torch.Tensor:
        """Training loss of one batch (this is what ``compile=True`` compiles)."""

    @abc.abstractmethod
    def _train_epoch(self, epoch: int) -> float:
        """One pass over the training data; returns the mean batch loss."""

    def _refresh(self) -> None:
        """Recompute whatever scoring caches depend on the weights (default: nothing)."""

    def _teardown(self) -> None:
        """Drop training-only buffers after fit (optimisers, sampling tables)."""
        for attr in ("_optimizers", "_rng", "_train_data"):
            if hasattr(self, attr):
                delattr(self, attr)


def minibatches(n: int, batch_size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index batches over ``range(n)``: shuffled by ``rng`` (deterministic) or in order."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    return [order[lo:lo + batch_size] for lo in range(0, n, batch_size)]


def sample_negatives(users: np.ndarray, n_items: int, pos_keys: np.ndarray, rng: np.random.Generator,
                     *, max_rounds: int = 20) -> np.ndarray:
    """Uniform negative items for ``users``, resampling those the user interacted with.

    ``pos_keys`` are the sorted keys ``user * n_items + item`` of the training pairs (a
    vectorised membership test; a Python set would cost ~1 us per lookup).
    """
    neg = np.asarray(rng.integers(0, n_items, size=users.shape[0]), dtype=np.int64)
    users64 = users.astype(np.int64)
    for _ in range(max_rounds):
        keys = users64 * n_items + neg
        pos = np.searchsorted(pos_keys, keys)
        pos[pos >= pos_keys.size] = 0
        hit = pos_keys[pos] == keys
        if not hit.any():
            break
        neg[hit] = rng.integers(0, n_items, size=int(hit.sum()))
    return neg
