"""The model protocol shared by every top-K recommender.

A model keeps its settings in a frozen :class:`~recforge.config.Config`; ``__init__`` does no
work; ``fit(train, valid=None)`` learns state held in attributes ending in ``_`` and returns
``self``; ``recommend`` / ``score`` before ``fit`` raise :class:`NotFittedError`.
Rows are users, columns are items, always.

Subclasses implement ``_fit`` and ``_score_users`` (dense scores for a batch of user codes);
models that can score an unseen user from an item history also implement ``_score_history``
and carry the ``"fold_in"`` tag.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from recforge.config import Config, build_config
from recforge.data.interactions import Interactions
from recforge.errors import ConfigError, DataError, NotFittedError

if TYPE_CHECKING:
    import polars as pl
    import scipy.sparse as sp

# Capability tags.
TAG_ITERATIVE = "iterative"  # trained in epochs; reports through the epoch callback
TAG_FOLD_IN = "fold_in"  # scores an unseen user from an item history
TAG_TIMESTAMPS = "needs_timestamps"  # uses the order of events
TAG_NEURAL = "neural"  # needs torch
TAG_EMBEDDING = "embedding"  # user/item vectors: ANN retrieval possible
TAG_SIDE_FEATURES = "side_features"
TAG_CTR = "ctr"
TAG_SIMILAR_ITEMS = "similar_items"


@dataclass(frozen=True)
class EpochReport:
    """What an iterative model reports after each epoch."""

    epoch: int  # 1-based
    elapsed: float  # seconds since fit started
    loss: float | None = None
    metric: float | None = None  # validation metric, when a validation set was given
    metric_name: str | None = None


#: Called after each epoch; returning True stops training (used for pruning / budgets).
EpochCallback = Callable[[EpochReport], bool | None]


@dataclass
class Recommendations:
    """Top-K lists for a batch of users: raw ids and codes, best first."""

    users: np.ndarray  # raw user ids (n,)
    items: np.ndarray  # raw item ids (n, k)
    scores: np.ndarray  # (n, k) float32; -inf pads lists shorter than k
    item_codes: np.ndarray  # (n, k) int64; -1 pads

    def to_frame(self) -> pl.DataFrame:
        import polars as pl

        n, k = self.item_codes.shape
        valid = self.item_codes.reshape(-1) >= 0
        return pl.DataFrame({
            "user": np.repeat(self.users, k)[valid],
            "rank": np.tile(np.arange(1, k + 1), n)[valid],
            "item": self.items.reshape(-1)[valid],
            "score": self.scores.reshape(-1)[valid],
        })

    def as_lists(self) -> list[list[Any]]:
        return [
            [it for it, c in zip(row_items, row_codes, strict=True) if c >= 0]
            for row_items, row_codes in zip(self.items.tolist(), self.item_codes.tolist(), strict=True)
        ]


def topk_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest entries per row, sorted descending.

    Ties are broken by the lower item index, so results do not depend on batch composition.
    Large blocks go through ``torch.topk`` when torch is installed (about 5x faster than
    ``np.argpartition`` on 1024 x 41k blocks here); smaller ones through numpy.
    """
    n, m = scores.shape
    k = min(k, m)
    if k <= 0:
        return np.zeros((n, 0), dtype=np.int64), np.zeros((n, 0), dtype=scores.dtype)
    if n * m >= 1_000_000 and k < m and scores.dtype == np.float32:
        try:
            return _topk_torch(scores, k)
        except ImportError:
            pass
    if k < m:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        # argpartition picks arbitrary members of a tie at the boundary: repair those rows
        kth = np.take_along_axis(scores, part, axis=1).min(axis=1)
        n_gt = (scores > kth[:, None]).sum(axis=1)
        n_eq = (scores == kth[:, None]).sum(axis=1)
        bad = np.flatnonzero(n_gt + n_eq > k)
        for r in bad:
            row = scores[r]
            gt = np.flatnonzero(row > kth[r])
            eq = np.flatnonzero(row == kth[r])[: k - gt.size]
            part[r] = np.concatenate([gt, eq])
    else:
        part = np.broadcast_to(np.arange(m), (n, m)).copy()
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    return idx.astype(np.int64), np.take_along_axis(vals, order, axis=1)


def _topk_torch(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    import torch

    n, m = scores.shape
    s = torch.from_numpy(np.ascontiguousarray(scores))
    vals_t, idx_t = torch.topk(s, min(k + 1, m), dim=1, sorted=True)
    cols = idx_t[:, :k].numpy().copy()
    if k < m:
        # a tie across the k-th/(k+1)-th place makes the chosen set arbitrary: choose the
        # lowest-index members of the boundary tie instead (only those rows are touched)
        tie = torch.nonzero(vals_t[:, k - 1] == vals_t[:, k]).flatten()
        if tie.numel():
            sub = s[tie]
            kth = vals_t[tie, k - 1][:, None]
            gt = sub > kth
            eq = sub == kth
            need = k - gt.sum(dim=1, dtype=torch.int32)
            rank = torch.cumsum(eq, dim=1, dtype=torch.int32)
            sel = gt | (eq & (rank <= need[:, None]))
            cols[tie.numpy()] = torch.nonzero(sel)[:, 1].reshape(-1, k).numpy()
    vals = np.take_along_axis(scores, cols, axis=1)
    order = np.lexsort((cols, -vals), axis=1)
    idx = np.take_along_axis(cols, order, axis=1)
    return idx.astype(np.int64), np.take_along_axis(vals, order, axis=1)


def mask_rows(scores: np.ndarray, csr: sp.csr_matrix, rows: np.ndarray, value: float = -np.inf) -> None:
    """Set ``scores[j, csr[rows[j]].indices] = value`` in place (seen-item exclusion)."""
    indptr = csr.indptr
    starts = indptr[rows]
    lens = indptr[rows + 1] - starts
    if lens.sum() == 0:
        return
    row_idx = np.repeat(np.arange(len(rows)), lens)
    offs = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    cols = csr.indices[np.repeat(starts, lens) + offs]
    scores[row_idx, cols] = value


class Recommender(abc.ABC):
    """Base class of top-K recommenders. See the module docstring for the contract."""

    name: ClassVar[str] = "base"
    config_class: ClassVar[type[Config]] = Config
    tags: ClassVar[frozenset[str]] = frozenset()
    #: scoring batch size (users) used by recommend / evaluation
    batch_size: ClassVar[int] = 1024

    def __init__(self, config: Config | None = None, **params: Any) -> None:
        self.config = build_config(type(self), self.config_class, config, params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.to_dict().items())
        return f"{type(self).__name__}({args})"

    def get_params(self) -> dict[str, Any]:
        return self.config.to_dict()

    # ------------------------------------------------------------------ fitting
    def fit(self, train: Interactions, valid: Interactions | None = None, *,
            callback: EpochCallback | None = None) -> Self:
        """Learn from ``train`` (refits from scratch). ``valid`` is used by iterative models
        for early stopping and per-epoch reports; ``callback`` receives :class:`EpochReport`s.
        """
        if not isinstance(train, Interactions):
            raise DataError(f"fit expects an Interactions object, got {type(train).__name__}")
        if train.n_interactions == 0:
            raise DataError("fit: the training data is empty")
        if TAG_TIMESTAMPS in self.tags and not train.has_timestamps:
            raise DataError(f"{self.name} needs timestamps; this training data has none")
        start = time.perf_counter()
        self.train_ = train
        self._seen_ = train.to_csr("binary")
        self._fit(train, valid, callback)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    @abc.abstractmethod
    def _fit(self, train: Interactions, valid: Interactions | None, callback: EpochCallback | None) -> None:
        """Learn model state from ``train``."""

    @abc.abstractmethod
    def _score_users(self, users: np.ndarray) -> np.ndarray:
        """Dense float32 scores (len(users) x n_items) for user codes; higher is better."""

    def _score_history(self, history: sp.csr_matrix) -> np.ndarray:
        """Scores for users given only as item-history rows (fold-in). Optional."""
        raise ConfigError(f"{self.name} cannot fold in unseen users from a history")

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "train_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(train) before using it"
            )

    # ------------------------------------------------------------------ inference
    def score_codes(self, users: np.ndarray) -> np.ndarray:
        """Scores for user codes (float32, users x items), computed in bounded batches."""
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        if users.size and (users.min() < 0 or users.max() >= self.train_.n_users):
            raise DataError(f"user codes must lie in [0, {self.train_.n_users})")
        return np.asarray(self._score_users(users), dtype=np.float32)

    def recommend_codes(self, users: np.ndarray, k: int = 10, *, exclude_seen: bool = True,
                        history: sp.csr_matrix | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` item codes and scores for user codes (or history rows for fold-in)."""
        self._check_fitted()
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
        users = np.asarray(users, dtype=np.int64)
        n = history.shape[0] if history is not None else len(users)
        k_eff = min(int(k), self.train_.n_items)
        out_idx = np.empty((n, k_eff), dtype=np.int64)
        out_val = np.empty((n, k_eff), dtype=np.float32)
        for lo in range(0, n, self.batch_size):
            hi = min(n, lo + self.batch_size)
            if history is not None:
                block = history[lo:hi]
                scores = np.array(self._score_history(block), dtype=np.float32, copy=True)
                if exclude_seen:
                    mask_rows(scores, block.tocsr(), np.arange(hi - lo))
            else:
                batch = users[lo:hi]
                scores = np.array(self.score_codes(batch), dtype=np.float32, copy=True)
                if exclude_seen:
                    mask_rows(scores, self._seen_, batch)
            idx, val = topk_rows(scores, k_eff)
            out_idx[lo:hi] = idx
            out_val[lo:hi] = val
        out_idx[~np.isfinite(out_val)] = -1
        return out_idx, out_val

    def recommend(self, users: Iterable[Any], k: int = 10, *, exclude_seen: bool = True) -> Recommendations:
        """Top-``k`` items for raw user ids, seen items excluded by default.

        Example:
            >>> recs = model.recommend([1, 2], k=10)  # doctest: +SKIP
            >>> recs.items[0]                          # raw item ids, best first
        """
        self._check_fitted()
        raw = np.asarray(list(users) if not isinstance(users, np.ndarray) else users)
        codes = self.train_.encode_users(raw)
        idx, val = self.recommend_codes(codes, k, exclude_seen=exclude_seen)
        return self._pack(raw, idx, val)

    def recommend_history(self, histories: list[list[Any]], k: int = 10, *,
                          exclude_seen: bool = True) -> tuple[Recommendations, list[list[Any]]]:
        """Fold-in: top-``k`` for anonymous users given raw item histories.

        Returns the recommendations and, per history, the raw ids that were not in the
        training vocabulary (ignored).
        """
        import scipy.sparse as sp

        self._check_fitted()
        if TAG_FOLD_IN not in self.tags:
            raise ConfigError(f"{self.name} does not support fold-in of unseen users")
        rows, cols, unknown = [], [], []
        for r, hist in enumerate(histories):
            codes = self.train_.encode_items(np.asarray(hist), missing="mask") if len(hist) else np.zeros(0, np.int64)
            unknown.append([h for h, c in zip(hist, codes, strict=True) if c < 0])
            good = np.unique(codes[codes >= 0])
            rows.extend([r] * len(good))
            cols.extend(good.tolist())
        mat = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                            shape=(len(histories), self.train_.n_items))
        idx, val = self.recommend_codes(np.zeros(0, np.int64), k, exclude_seen=exclude_seen, history=mat)
        return self._pack(np.arange(len(histories)), idx, val), unknown

    def _pack(self, raw_users: np.ndarray, idx: np.ndarray, val: np.ndarray) -> Recommendations:
        safe = np.where(idx >= 0, idx, 0)
        items = self.train_.decode_items(safe)
        return Recommendations(users=raw_users, items=items, scores=val, item_codes=idx)

    def score(self, users: Iterable[Any], items: Iterable[Any]) -> np.ndarray:
        """Score matrix (len(users) x len(items)) for raw user and item ids."""
        self._check_fitted()
        ucodes = self.train_.encode_users(np.asarray(list(users)))
        icodes = self.train_.encode_items(np.asarray(list(items)))
        return self.score_codes(ucodes)[:, icodes]

    # ------------------------------------------------------------------ persistence hooks
    def get_state(self) -> dict[str, np.ndarray]:
        """Learned arrays to save (see recforge.artifacts). Subclasses extend."""
        raise NotImplementedError(f"{self.name} does not implement saving yet")

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError(f"{self.name} does not implement loading yet")
