"""Matrix factorisation for implicit feedback through the ``implicit`` library.

:class:`ALS` wraps ``implicit.cpu.als.AlternatingLeastSquares`` (Hu, Koren & Volinsky 2008)
and :class:`BPR` wraps ``implicit.cpu.bpr.BayesianPersonalizedRanking`` (Rendle et al. 2009).
recforge adds the things implicit leaves to the caller: one orientation (users x items), a
typed config, a seed, per-epoch reports through :data:`EpochCallback` (returning True stops
training), no pickle for persistence, and BLAS pinned to one thread during the fit with
``threadpoolctl`` as implicit asks (its own threads do the parallel work). The CPU classes
are used explicitly so that the model never changes with the hardware it runs on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from recforge.config import Config, param
from recforge.data.interactions import Interactions
from recforge.errors import ConfigError
from recforge.models.base import (
    TAG_EMBEDDING,
    TAG_FOLD_IN,
    TAG_ITERATIVE,
    TAG_SIMILAR_ITEMS,
    EpochCallback,
    EpochReport,
    Recommender,
)

if TYPE_CHECKING:
    import scipy.sparse as sp


def _import_implicit() -> None:
    """Import implicit (and the BLAS libraries it loads) *before* ``threadpool_limits``:
    a library loaded inside the ``with`` block would escape the limit."""
    import implicit.cpu.als  # noqa: F401
    import implicit.cpu.bpr  # noqa: F401


class _Stop(Exception):
    """Raised from inside implicit's callback to end training early."""


class _FactorModel(Recommender):
    """Shared parts of the implicit-backed models: scoring, similar items, state, epochs."""

    user_factors_: np.ndarray
    item_factors_: np.ndarray
    #: 1-based number of epochs actually run
    epochs_run_: int

    def _make(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _matrix(self, train: Interactions) -> sp.csr_matrix:
        return self._seen_.astype(np.float32)

    def _epoch_report(self, epoch: int, start: float, loss: float | None,
                      valid: Interactions | None, impl: Any) -> EpochReport:
        metric = name = None
        every = self.config.valid_every  # type: ignore[attr-defined]
        if valid is not None and (epoch % every == 0 or epoch == self.config.iterations):  # type: ignore[attr-defined]
            from recforge.evaluation import evaluate

            name = self.config.valid_metric  # type: ignore[attr-defined]
            self.user_factors_ = np.asarray(impl.user_factors)
            self.item_factors_ = np.asarray(impl.item_factors)
            self._check_factors()  # diverging mid-fit: stop now, not after evaluating inf scores
            try:
                metric = float(evaluate(self, valid, metrics=[name])[name])
            except Exception:  # noqa: BLE001 - a valid set without test users gives no metric
                metric = None
        return EpochReport(epoch=epoch, elapsed=time.perf_counter() - start, loss=loss,
                           metric=metric, metric_name=name)

    def _fit(self, train: Interactions, valid: Interactions | None, callback: EpochCallback | None) -> None:
        from threadpoolctl import threadpool_limits

        X = self._matrix(train)
        start = time.perf_counter()
        self.epochs_run_ = 0

        def on_epoch(epoch: int, elapsed: float, *extra: Any) -> None:
            self.epochs_run_ = epoch + 1
            if callback is None:
                return
            loss = extra[0] if extra and isinstance(self, ALS) else None
            report = self._epoch_report(epoch + 1, start, None if loss is None else float(loss), valid, impl)
            if callback(report):
                raise _Stop

        # implicit checks the BLAS thread count in its constructor and warns unless it is 1.
        _import_implicit()
        with threadpool_limits(1, "blas"):
            impl = self._make()
            try:
                with contextlib.suppress(_Stop):  # the callback asked to stop early
                    impl.fit(X, show_progress=False, callback=on_epoch)
            except Exception as exc:
                if type(exc).__name__ != "ModelFitError":  # implicit's "NaN encountered in factors"
                    raise
                raise self._diverged(str(exc)) from None
        self.user_factors_ = np.ascontiguousarray(impl.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(impl.item_factors, dtype=np.float32)
        self._check_factors()
        self._impl = impl

    def _check_factors(self) -> None:
        """Finite but huge factors make every float32 score overflow to inf: as useless as NaN."""
        u, v = np.abs(self.user_factors_).max(initial=0.0), np.abs(self.item_factors_).max(initial=0.0)
        bound = float(u) * float(v) * self.user_factors_.shape[1]
        if not np.isfinite(bound) or bound > 1e38:
            raise self._diverged(f"factors up to {u:.3g} x {v:.3g}: scores overflow float32")

    def _diverged(self, what: str) -> ConfigError:
        lr = getattr(self.config, "learning_rate", None)
        fix = (f"lower learning_rate (now {lr:g}) or raise regularization" if lr is not None
               else "raise regularization or lower alpha")
        return ConfigError(f"{self.name} diverged after {self.epochs_run_} epoch(s) ({what}); {fix}")

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T

    def similar_items(self, items: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Cosine-nearest item codes (and similarities) in factor space, the item excluded."""
        from recforge.models.base import topk_rows

        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        norms = np.linalg.norm(self.item_factors_, axis=1)
        norms[norms == 0] = 1.0
        unit = self.item_factors_ / norms[:, None]
        sim = unit[items] @ unit.T
        sim[np.arange(items.size), items] = -np.inf
        return topk_rows(sim.astype(np.float32), k)

    def get_state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors_ = np.ascontiguousarray(state["user_factors"], dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(state["item_factors"], dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class ALSConfig(Config):
    """Implicit-feedback ALS hyperparameters (names as in ``implicit``).

    Attributes:
        factors: latent dimensions.
        regularization: L2 weight on the factors.
        alpha: confidence scale; interaction ``r`` counts with confidence ``1 + alpha * r``
            (implicit's convention: ``alpha * r`` as the weight of the positives).
        iterations: ALS sweeps (epochs); each reports through the epoch callback.
        use_cg: conjugate-gradient solver (faster) instead of exact Cholesky.
        weighting: ``binary`` (1 per interaction) or ``rating`` (rating/count as confidence).
        num_threads: implicit's threads (0 = all cores); ALS is deterministic either way.
        seed: initialisation seed.
        valid_metric: metric reported per epoch when a validation set is given.
        valid_every: compute ``valid_metric`` every this many epochs (and at the last one);
            other epochs report ``metric=None``.
    """

    factors: int = param(64, low=1, high=4096, doc="latent dimensions")
    regularization: float = param(0.01, low=0.0, high=1e6, doc="L2 regularisation")
    alpha: float = param(1.0, low=0.0, high=1e6, doc="confidence scale")
    iterations: int = param(15, low=1, high=10_000, doc="ALS sweeps (epochs)")
    use_cg: bool = param(True, doc="conjugate-gradient solver")
    weighting: str = param("binary", choices=("binary", "rating"), doc="interaction values")
    num_threads: int = param(0, low=0, high=1024, doc="implicit threads (0 = all)")
    seed: int = param(0, low=0, doc="random seed")
    valid_metric: str = param("ndcg@10", doc="per-epoch validation metric")
    valid_every: int = param(1, low=1, high=100_000, doc="epochs between validation metrics")


class ALS(_FactorModel):
    """Weighted matrix factorisation by alternating least squares (``implicit``).

    Fold-in: an unseen user's factors are solved from its history against the item factors
    (implicit's ``recalculate_user``).

    Example:
        >>> model = ALS(factors=64, iterations=15).fit(train)  # doctest: +SKIP
    """

    name = "als"
    config_class = ALSConfig
    tags = frozenset({TAG_ITERATIVE, TAG_EMBEDDING, TAG_SIMILAR_ITEMS, TAG_FOLD_IN})

    def _make(self) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares

        c: ALSConfig = self.config  # type: ignore[assignment]
        return AlternatingLeastSquares(
            factors=c.factors, regularization=c.regularization, alpha=c.alpha,
            iterations=c.iterations, use_cg=c.use_cg, num_threads=c.num_threads,
            random_state=c.seed, calculate_training_loss=False,
        )

    def _matrix(self, train: Interactions) -> sp.csr_matrix:
        c: ALSConfig = self.config  # type: ignore[assignment]
        if c.weighting == "rating" and train.has_ratings:
            return train.to_csr("rating").astype(np.float32)
        return self._seen_.astype(np.float32)

    def _score_history(self, history: sp.csr_matrix) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        h = history.tocsr().astype(np.float32)
        h.data[:] = 1.0
        _import_implicit()
        with threadpool_limits(1, "blas"):
            impl = getattr(self, "_impl", None)
            if impl is None:  # loaded from an artifact: rebuild implicit's model from arrays
                impl = self._make()
                impl.user_factors = self.user_factors_
                impl.item_factors = self.item_factors_
                self._impl = impl
            uf = impl.recalculate_user(np.arange(h.shape[0]), h)
        return np.asarray(uf @ self.item_factors_.T, dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class BPRConfig(Config):
    """BPR-MF hyperparameters (names as in ``implicit``).

    Attributes:
        factors: latent dimensions (implicit adds one item-bias column).
        learning_rate: SGD step size.
        regularization: L2 weight.
        iterations: epochs over the positives; each reports through the epoch callback.
        verify_negative_samples: resample negatives the user has interacted with.
        num_threads: implicit's SGD threads; 1 (default) is deterministic for a seed, more
            threads are faster but Hogwild updates make results vary run to run.
        seed: initialisation and sampling seed.
        valid_metric: metric reported per epoch when a validation set is given.
        valid_every: compute ``valid_metric`` every this many epochs (and at the last one);
            other epochs report ``metric=None``.
    """

    factors: int = param(64, low=1, high=4096, doc="latent dimensions")
    learning_rate: float = param(0.01, low=0.0, high=10.0, doc="SGD step size")
    regularization: float = param(0.01, low=0.0, high=1e3, doc="L2 regularisation")
    iterations: int = param(100, low=1, high=100_000, doc="epochs")
    verify_negative_samples: bool = param(True, doc="reject sampled negatives that are positives")
    num_threads: int = param(1, low=0, high=1024, doc="SGD threads (1 = deterministic)")
    seed: int = param(0, low=0, doc="random seed")
    valid_metric: str = param("ndcg@10", doc="per-epoch validation metric")
    valid_every: int = param(1, low=1, high=100_000, doc="epochs between validation metrics")


class BPR(_FactorModel):
    """Bayesian personalised ranking matrix factorisation (``implicit``).

    Example:
        >>> model = BPR(factors=64, iterations=100).fit(train)  # doctest: +SKIP
    """

    name = "bpr"
    config_class = BPRConfig
    tags = frozenset({TAG_ITERATIVE, TAG_EMBEDDING, TAG_SIMILAR_ITEMS})

    def _make(self) -> Any:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        c: BPRConfig = self.config  # type: ignore[assignment]
        return BayesianPersonalizedRanking(
            factors=c.factors, learning_rate=c.learning_rate, regularization=c.regularization,
            iterations=c.iterations, verify_negative_samples=c.verify_negative_samples,
            num_threads=c.num_threads, random_state=c.seed,
        )
