"""Item-based neighbourhood models: ItemKNN (cosine with shrinkage) and RP3beta.

Both learn a sparse item-item weight matrix ``W`` (``n_items x n_items``, row = the item a
user interacted with, column = the candidate item) that keeps only each candidate's ``k``
strongest neighbours, and score a user as ``x_u @ W`` where ``x_u`` is the user's binary
history row. Scoring from a history makes fold-in of unseen users free.

The similarity is computed in blocks of candidate items so that memory stays bounded by
``block x n_items`` dense floats, whatever the catalogue size. scikit-learn's
``NearestNeighbors`` could give top-k cosine neighbours, but not the shrinkage term, the
RP3beta random-walk weights nor a sparse top-k matrix without a dense ``n_items^2`` step,
hence the block loop written here.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from recforge.config import Config, param
from recforge.data.interactions import Interactions
from recforge.models.base import TAG_FOLD_IN, TAG_SIMILAR_ITEMS, EpochCallback, Recommender

if TYPE_CHECKING:
    import scipy.sparse as sp

#: candidate items per similarity block (block x n_items float32 dense scratch)
_BLOCK = 1024


def _topk_sparse_rows(dense: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row-wise top-``k`` of a dense block as COO parts (rows, cols, values).

    Ties at the cut are broken by argpartition's order, which is deterministic for the same
    input. Non-positive values are dropped (they would never raise a score).
    """
    n, m = dense.shape
    k = min(k, m)
    if k < m:
        part = np.argpartition(-dense, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(m), (n, m)).copy()
    vals = np.take_along_axis(dense, part, axis=1)
    rows = np.repeat(np.arange(n), part.shape[1])
    cols = part.reshape(-1)
    vals = vals.reshape(-1)
    keep = vals > 0
    return rows[keep], cols[keep], vals[keep]


def _weighted(X: sp.csr_matrix, weighting: str) -> sp.csr_matrix:
    """Feature weighting of the user x item matrix (users are the 'features' of an item)."""
    X = X.astype(np.float32).tocsr(copy=True)
    if weighting == "none":
        return X
    n_users, n_items = X.shape
    user_len = np.diff(X.indptr).astype(np.float64)  # items per user ("document length")
    # idf of a user = log(n_items / items the user touched)
    idf = np.log(n_items / np.maximum(user_len, 1.0))
    row_of = np.repeat(np.arange(n_users), np.diff(X.indptr))
    if weighting == "tfidf":
        X.data = (X.data * idf[row_of]).astype(np.float32)
        return X
    # BM25 (k1=1.2, b=0.75) with items as documents and users as terms.
    k1, b = 1.2, 0.75
    item_len = np.asarray(X.sum(axis=0)).ravel().astype(np.float64)
    avg = item_len.mean() if item_len.size else 1.0
    denom = k1 * (1.0 - b + b * item_len[X.indices] / max(avg, 1e-12))
    X.data = (X.data * (k1 + 1.0) / (X.data + denom) * idf[row_of]).astype(np.float32)
    return X


def _sparse_state(W: sp.csr_matrix) -> dict[str, np.ndarray]:
    return {
        "w_data": np.ascontiguousarray(W.data, dtype=np.float32),
        "w_indices": np.ascontiguousarray(W.indices, dtype=np.int32),
        "w_indptr": np.ascontiguousarray(W.indptr, dtype=np.int64),
        "w_shape": np.asarray(W.shape, dtype=np.int64),
    }


def _sparse_from_state(state: dict[str, np.ndarray]) -> sp.csr_matrix:
    import scipy.sparse as sp

    shape = tuple(int(x) for x in state["w_shape"])
    return sp.csr_matrix((state["w_data"], state["w_indices"], state["w_indptr"]), shape=shape)


class _ItemItemModel(Recommender):
    """Shared scoring for models with a sparse item-item weight matrix ``weights_``."""

    weights_: sp.csr_matrix

    def _score_history(self, history: sp.csr_matrix) -> np.ndarray:
        h = history.tocsr().astype(np.float32)
        h.data[:] = 1.0
        return np.asarray((h @ self.weights_).toarray(), dtype=np.float32)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._score_history(self._seen_[users])

    def similar_items(self, items: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Most similar item codes (and weights) for item codes, the item itself excluded."""
        from recforge.models.base import topk_rows

        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        sim = self.weights_[items].toarray().astype(np.float32)
        sim[np.arange(items.size), items] = -np.inf
        sim[sim == 0] = -np.inf
        idx, val = topk_rows(sim, k)
        idx[~np.isfinite(val)] = -1
        return idx, val

    def get_state(self) -> dict[str, np.ndarray]:
        return _sparse_state(self.weights_)

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.weights_ = _sparse_from_state(state)


@dataclasses.dataclass(frozen=True)
class ItemKNNConfig(Config):
    """ItemKNN hyperparameters.

    Attributes:
        neighbours: neighbours kept per candidate item (top-k of the similarity column).
        shrink: shrinkage added to the cosine denominator; damps similarities supported by
            few common users (``sim = x_i.x_j / (|x_i| |x_j| + shrink)``).
        feature_weighting: ``none``, ``tfidf`` or ``bm25`` re-weighting of users before the
            cosine.
        normalize: divide by the norms (cosine); ``False`` gives raw co-occurrence counts.
        neighbourhood: ``candidate`` keeps, for each candidate item, its ``neighbours`` most
            similar items (Dacrema et al.'s ItemKNNCF); ``history`` keeps, for each item a user
            interacted with, its most similar items (Deshpande & Karypis 2004).
        l1_normalize: l1-normalise each neighbourhood, i.e. the kept weights of one candidate
            (``candidate`` mode, as in the BARS/Open-CF-Benchmarks ItemKNN) or of one history
            item (``history`` mode, Deshpande & Karypis's similarity normalisation).
        average_bias: score ``sum_i w_ij (x_ui - m_i) + m_j`` with ``m`` the items' mean
            interaction (popularity / users), as the BARS ItemKNN's ``enable_average_bias``.
    """

    neighbours: int = param(100, low=1, high=100_000, doc="neighbours kept per item")
    shrink: float = param(10.0, low=0.0, high=1e6, doc="cosine shrinkage")
    feature_weighting: str = param("none", choices=("none", "tfidf", "bm25"), doc="user re-weighting")
    normalize: bool = param(True, doc="cosine (True) or co-occurrence (False)")
    neighbourhood: str = param("candidate", choices=("candidate", "history"), doc="whose neighbours are kept")
    l1_normalize: bool = param(False, doc="l1-normalise each neighbourhood")
    average_bias: bool = param(False, doc="centre on item means and add the candidate's mean")


class ItemKNN(_ItemItemModel):
    """Item-based k-nearest-neighbours with shrunk cosine similarity (Sarwar et al. 2001).

    Example:
        >>> model = ItemKNN(neighbours=200, shrink=10).fit(train)  # doctest: +SKIP
        >>> model.recommend([some_user], k=10)                     # doctest: +SKIP
    """

    name = "item-knn"
    config_class = ItemKNNConfig
    tags = frozenset({TAG_FOLD_IN, TAG_SIMILAR_ITEMS})

    def _fit(self, train: Interactions, valid: Interactions | None, callback: EpochCallback | None) -> None:
        import scipy.sparse as sp

        cfg: ItemKNNConfig = self.config  # type: ignore[assignment]
        X = _weighted(self._seen_, cfg.feature_weighting)
        Xt = X.T.tocsr()  # items x users
        n_items = X.shape[1]
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel()).astype(np.float32)
        rows, cols, vals = [], [], []
        for lo in range(0, n_items, _BLOCK):
            hi = min(n_items, lo + _BLOCK)
            block = np.asarray((Xt[lo:hi] @ X).toarray(), dtype=np.float32)  # (b, n_items)
            if cfg.normalize:
                denom = norms[lo:hi, None] * norms[None, :] + np.float32(cfg.shrink)
                np.divide(block, denom, out=block, where=denom > 0)
            block[np.arange(hi - lo), np.arange(lo, hi)] = 0.0
            r, c, v = _topk_sparse_rows(block, cfg.neighbours)
            rows.append(r + lo)
            cols.append(c)
            vals.append(v)
        # rows = item a, cols = its top neighbours b (the similarity is symmetric). For the
        # candidate neighbourhood a is the candidate: transpose so that W[history, candidate].
        Wt = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_items, n_items), dtype=np.float32,
        )
        if cfg.l1_normalize:  # rows of Wt are the neighbourhoods in both modes
            s = np.asarray(Wt.sum(axis=1)).ravel()
            inv = np.divide(1.0, s, out=np.zeros_like(s, dtype=np.float64), where=s > 0)
            Wt = sp.csr_matrix(sp.diags(inv.astype(np.float32)) @ Wt)
        W = Wt.T.tocsr() if cfg.neighbourhood == "candidate" else Wt.tocsr()
        W.sort_indices()
        self.weights_ = W
        if cfg.average_bias:
            mean = (np.asarray(self._seen_.sum(axis=0)).ravel() / max(1, self._seen_.shape[0])).astype(np.float32)
            self.bias_ = (mean - np.asarray(W.T @ mean).ravel()).astype(np.float32)
        else:
            self.bias_ = np.zeros(n_items, dtype=np.float32)

    def _score_history(self, history: sp.csr_matrix) -> np.ndarray:
        return super()._score_history(history) + self.bias_[None, :]

    def get_state(self) -> dict[str, np.ndarray]:
        return {**_sparse_state(self.weights_), "bias": self.bias_}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.weights_ = _sparse_from_state(state)
        self.bias_ = np.asarray(state["bias"], dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class RP3betaConfig(Config):
    """RP3beta hyperparameters (Paudel et al. 2017; Dacrema et al. 2019's formulation).

    Attributes:
        neighbours: neighbours kept per item.
        alpha: exponent applied to the random-walk transition probabilities.
        beta: popularity penalty; the weight to item ``j`` is divided by ``deg(j)^beta``.
        normalize: l1-normalise each item's row of weights after the top-k selection.
    """

    neighbours: int = param(100, low=1, high=100_000, doc="neighbours kept per item")
    alpha: float = param(1.0, low=0.0, high=5.0, doc="transition probability exponent")
    beta: float = param(0.5, low=0.0, high=5.0, doc="popularity penalty exponent")
    normalize: bool = param(False, doc="l1-normalise similarity rows")


class RP3beta(_ItemItemModel):
    """Three-step random walk item -> user -> item, re-weighted by item popularity.

    ``W[i, j] = (P_iu^alpha @ P_ui^alpha)[i, j] / deg(j)^beta`` with the top ``neighbours``
    entries kept per row ``i``; scores are ``x_u @ W``.
    """

    name = "rp3beta"
    config_class = RP3betaConfig
    tags = frozenset({TAG_FOLD_IN, TAG_SIMILAR_ITEMS})

    def _fit(self, train: Interactions, valid: Interactions | None, callback: EpochCallback | None) -> None:
        import scipy.sparse as sp

        cfg: RP3betaConfig = self.config  # type: ignore[assignment]
        X = self._seen_.astype(np.float32).tocsr()
        n_items = X.shape[1]

        def l1_rows(m: sp.csr_matrix) -> sp.csr_matrix:
            s = np.asarray(m.sum(axis=1)).ravel()
            inv = np.divide(1.0, s, out=np.zeros_like(s, dtype=np.float64), where=s > 0)
            return sp.csr_matrix(sp.diags(inv.astype(np.float32)) @ m)

        Pui = l1_rows(X)
        Piu = l1_rows(X.T.tocsr())
        if cfg.alpha != 1.0:
            Pui = Pui.power(cfg.alpha)
            Piu = Piu.power(cfg.alpha)
        deg = np.asarray(X.sum(axis=0)).ravel().astype(np.float64)
        pen = np.zeros(n_items, dtype=np.float32)
        nz = deg > 0
        pen[nz] = np.power(deg[nz], -cfg.beta)
        rows, cols, vals = [], [], []
        for lo in range(0, n_items, _BLOCK):
            hi = min(n_items, lo + _BLOCK)
            block = np.asarray((Piu[lo:hi] @ Pui).toarray(), dtype=np.float32)
            block *= pen[None, :]
            block[np.arange(hi - lo), np.arange(lo, hi)] = 0.0
            r, c, v = _topk_sparse_rows(block, cfg.neighbours)
            rows.append(r + lo)
            cols.append(c)
            vals.append(v)
        W = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n_items, n_items), dtype=np.float32,
        )
        if cfg.normalize:
            W = l1_rows(W)
        W.sort_indices()
        self.weights_ = W
