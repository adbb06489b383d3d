"""EASE: embarrassingly shallow auto-encoder (Steck 2019), closed form.

``B = I - P diag(1 / diag(P))`` with ``P = (X^T X + l2 I)^-1`` (so ``diag(B) = 0``); a user's
scores are ``x_u @ B``.

The fit is memory-aware: one ``n_items x n_items`` matrix is allocated and every step works
in place on it (Gram matrix -> Cholesky factor -> inverse -> ``B``), in float32 by default.
The memory needed is estimated *before* allocating and a clear :class:`ConfigError` is raised
when it does not fit. scipy's LAPACK wrappers (``potrf``/``potri``) and BLAS ``syrk`` are
used directly rather than ``np.linalg.inv`` because only they work in place and exploit
symmetry (half the flops of a general inverse).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from recforge.config import Config, param
from recforge.data.interactions import Interactions
from recforge.errors import ConfigError
from recforge.models.base import TAG_FOLD_IN, TAG_SIMILAR_ITEMS, EpochCallback, Recommender

if TYPE_CHECKING:
    import scipy.sparse as sp

# Measured on the project machine (see benchmarks/bench_ease.py): dense syrk does about
# 1e11 multiply-adds/s, scipy's sparse X^T X about 1e8 products/s. Used to pick the cheaper
# Gram path.
_DENSE_RATE = 1e11
_SPARSE_RATE = 1e8
_USER_CHUNK = 2048  # users per dense syrk chunk
_ITEM_BLOCK = 2048  # items per sparse Gram block / in-place update block
#: above this many items the inverse uses the blocked numpy path (see _chol_lower_blocked)
_LAPACK_MAX_ITEMS = 16384


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from /proc/meminfo (Linux), or None when unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - non-Linux
        return None
    return None  # pragma: no cover


def estimate_fit_bytes(n_users: int, n_items: int, nnz: int, dtype: str) -> int:
    """Peak extra memory of :meth:`EASE.fit`: the in-place ``n_items^2`` matrix plus the
    largest scratch block (dense user chunk or sparse Gram block) plus the sparse input."""
    item = np.dtype(dtype).itemsize
    square = n_items * n_items * item
    scratch = max(min(_USER_CHUNK, n_users) * n_items * item, min(_ITEM_BLOCK, n_items) * n_items * 8)
    blocked = 4 * min(_ITEM_BLOCK, n_items) * n_items * item if n_items > _LAPACK_MAX_ITEMS else 0
    return square + max(scratch, blocked) + nnz * 12 * 2


def _gram_path(X: sp.csr_matrix) -> str:
    n_users, n_items = X.shape
    lens = np.diff(X.indptr).astype(np.float64)
    dense_cost = n_users * float(n_items) ** 2 / 2 / _DENSE_RATE
    sparse_cost = float((lens**2).sum()) / _SPARSE_RATE
    return "dense" if dense_cost < sparse_cost else "sparse"


def _gram_inplace(X: sp.csr_matrix, G: np.ndarray, path: str) -> None:
    """Fill the upper triangle (at least) of Fortran-ordered ``G`` with ``X^T X``."""
    from scipy.linalg import blas

    n_users, n_items = X.shape
    if path == "dense":
        syrk = blas.ssyrk if G.dtype == np.float32 else blas.dsyrk
        for lo in range(0, n_users, _USER_CHUNK):
            hi = min(n_users, lo + _USER_CHUNK)
            chunk = np.asfortranarray(X[lo:hi].toarray().astype(G.dtype, copy=False))
            out = syrk(1.0, chunk, beta=1.0, c=G, trans=1, lower=0, overwrite_c=1)
            if not np.shares_memory(out, G):  # pragma: no cover - would double memory
                G[...] = out
    else:
        Xt = X.T.tocsr()
        Xd = X.astype(G.dtype)
        Xtd = Xt.astype(G.dtype)
        # G is symmetric, so filling rows of G.T (= columns of G in Fortran order) is the
        # same as filling rows of G: work on the C-ordered view for contiguous writes.
        Gc = G.T
        for lo in range(0, n_items, _ITEM_BLOCK):
            hi = min(n_items, lo + _ITEM_BLOCK)
            Gc[lo:hi, :] = (Xtd[lo:hi] @ Xd).toarray()


def _symmetrize_upper(A: np.ndarray) -> None:
    """Copy the upper triangle of a Fortran-ordered square matrix into its lower one, in
    blocks (no full-size temporary)."""
    n = A.shape[0]
    C = A.T  # C-ordered view; the upper triangle of A is the lower one of C
    for lo in range(0, n, _ITEM_BLOCK):
        hi = min(n, lo + _ITEM_BLOCK)
        # rows lo:hi of A, columns < lo, come from A[:lo, lo:hi].T ; in C-view terms:
        # C[:lo, lo:hi] (= A[lo:hi, :lo].T) <- C[lo:hi, :lo].T
        C[:lo, lo:hi] = C[lo:hi, :lo].T
        blk = C[lo:hi, lo:hi]
        low = np.tril_indices(hi - lo, -1)
        blk.T[low] = blk[low]


def _chol_lower_blocked(A: np.ndarray, b: int) -> None:
    """In-place blocked Cholesky of the lower triangle of C-ordered ``A`` (``A = L L^T``).

    Used for large catalogues instead of one LAPACK ``potrf``/``potri`` call: scipy's bundled
    32-bit-integer OpenBLAS crashed (SIGSEGV) in those routines on a 40,981^2 matrix here,
    while numpy's own (64-bit-integer) BLAS handles block-sized products fine. Every
    product below is a ``b``-wide block, so the extra memory is ``O(b n)``.
    """
    n = A.shape[0]
    for k0 in range(0, n, b):
        k1 = min(n, k0 + b)
        blk = np.tril(A[k0:k1, k0:k1])
        blk = blk + np.tril(blk, -1).T
        try:
            D = np.linalg.cholesky(blk)
        except np.linalg.LinAlgError as exc:
            raise ConfigError("EASE: X^T X + l2 I is not positive definite; increase l2") from exc
        A[k0:k1, k0:k1] = D
        if k1 < n:
            Dinv_t = np.linalg.inv(D).T.astype(A.dtype)
            A[k1:, k0:k1] = A[k1:, k0:k1] @ Dinv_t
            for r0 in range(k1, n, b):
                r1 = min(n, r0 + b)
                A[r0:r1, k1:r1] -= A[r0:r1, k0:k1] @ A[k1:r1, k0:k1].T


def _trtri_lower_blocked(A: np.ndarray, b: int) -> None:
    """In-place inverse of the lower-triangular matrix held in ``A``'s lower triangle
    (LAPACK ``trtri``'s blocked algorithm, bottom-right to top-left)."""
    n = A.shape[0]
    for j0 in reversed(range(0, n, b)):
        j1 = min(n, j0 + b)
        Dinv = np.tril(np.linalg.inv(np.tril(A[j0:j1, j0:j1]))).astype(A.dtype)
        if j1 < n:
            panel = A[j1:, j0:j1]
            out = np.empty_like(panel)
            for r0 in range(j1, n, b):  # out = tril(inverse of the trailing block) @ panel
                r1 = min(n, r0 + b)
                acc = np.tril(A[r0:r1, r0:r1]) @ panel[r0 - j1:r1 - j1]
                if r0 > j1:
                    acc += A[r0:r1, j1:r0] @ panel[: r0 - j1]
                out[r0 - j1:r1 - j1] = acc
            A[j1:, j0:j1] = -(out @ Dinv)
        A[j0:j1, j0:j1] = Dinv


def _lauum_lower_blocked(A: np.ndarray, b: int) -> None:
    """In place, lower triangle of ``A`` <- ``M^T M`` for the lower-triangular ``M`` held
    there (LAPACK ``lauum``'s blocked algorithm)."""
    n = A.shape[0]
    for i0 in range(0, n, b):
        i1 = min(n, i0 + b)
        Mii = np.tril(A[i0:i1, i0:i1])
        if i0 > 0:
            new = Mii.T @ A[i0:i1, :i0]
            if i1 < n:
                new += A[i1:, i0:i1].T @ A[i1:, :i0]
            A[i0:i1, :i0] = new
        diag = Mii.T @ Mii
        if i1 < n:
            diag += A[i1:, i0:i1].T @ A[i1:, i0:i1]
        A[i0:i1, i0:i1] = diag


def _inverse_spd_inplace(G: np.ndarray, blocked: bool, block: int = 2048) -> np.ndarray:
    """Invert the symmetric positive definite Fortran-ordered ``G`` in place; returns the
    full symmetric inverse (the same memory)."""
    from scipy.linalg import lapack

    if blocked:
        C = G.T  # C-ordered view; its lower triangle is G's upper triangle
        _chol_lower_blocked(C, block)
        _trtri_lower_blocked(C, block)
        _lauum_lower_blocked(C, block)
    else:
        potrf = lapack.spotrf if G.dtype == np.float32 else lapack.dpotrf
        potri = lapack.spotri if G.dtype == np.float32 else lapack.dpotri
        c, info = potrf(G, lower=0, clean=0, overwrite_a=1)
        if info != 0:
            raise ConfigError(f"EASE: X^T X + l2 I is not positive definite (LAPACK info={info}); increase l2")
        if not np.shares_memory(c, G):  # pragma: no cover - LAPACK copied (non-Fortran input)
            G[...] = c
        inv, info = potri(G, lower=0, overwrite_c=1)
        if info != 0:
            raise ConfigError(f"EASE: inverse failed (LAPACK info={info}); increase l2")
        if not np.shares_memory(inv, G):  # pragma: no cover
            G[...] = inv
    _symmetrize_upper(G)
    return G


@dataclasses.dataclass(frozen=True)
class EASEConfig(Config):
    """EASE hyperparameters.

    Attributes:
        l2: L2 regularisation added to the Gram matrix's diagonal (must be > 0).
        dtype: ``float32`` (default: half the memory, about twice the speed) or ``float64``.
        max_memory_gb: memory the fit may use; ``None`` means the memory available now.
    """

    l2: float = param(500.0, low=0.0, high=1e9, doc="L2 regularisation (> 0)")
    dtype: str = param("float32", choices=("float32", "float64"), doc="solver precision")
    max_memory_gb: float | None = param(None, low=0.0, doc="memory cap for the fit (GB)")

    def validate(self) -> None:
        if self.l2 <= 0:
            raise ConfigError(f"EASEConfig.l2 must be > 0 (the Gram matrix is singular otherwise), got {self.l2}")


class EASE(Recommender):
    """Closed-form linear item-item auto-encoder with a zero diagonal.

    Example:
        >>> model = EASE(l2=500.0).fit(train)        # doctest: +SKIP
        >>> model.recommend([user], k=10)            # doctest: +SKIP
    """

    name = "ease"
    config_class = EASEConfig
    tags = frozenset({TAG_FOLD_IN, TAG_SIMILAR_ITEMS})

    def _fit(self, train: Interactions, valid: Interactions | None, callback: EpochCallback | None) -> None:
        cfg: EASEConfig = self.config  # type: ignore[assignment]
        X = self._seen_.astype(np.float32).tocsr()
        n_users, n_items = X.shape
        need = estimate_fit_bytes(n_users, n_items, X.nnz, cfg.dtype)
        cap = cfg.max_memory_gb * 1e9 if cfg.max_memory_gb is not None else available_memory_bytes()
        if cap is not None and need > cap:
            raise ConfigError(
                f"EASE on {n_items:,} items needs about {need / 1e9:.1f} GB in {cfg.dtype} "
                f"({n_items:,}^2 matrix) but only {cap / 1e9:.1f} GB is available; "
                "use dtype=float32, drop rare items (k-core filtering) or use item-knn/rp3beta"
            )
        dt = np.dtype(cfg.dtype)
        G = np.zeros((n_items, n_items), dtype=dt, order="F")
        _gram_inplace(X, G, _gram_path(X))
        G.flat[:: n_items + 1] += dt.type(cfg.l2)
        G = _inverse_spd_inplace(G, blocked=n_items > _LAPACK_MAX_ITEMS)
        P = G.T  # symmetric: the C-ordered view holds the same matrix
        scale = (-1.0 / np.diagonal(P)).astype(dt)
        for lo in range(0, n_items, _ITEM_BLOCK):
            hi = min(n_items, lo + _ITEM_BLOCK)
            P[lo:hi] *= scale[None, :]
        P.flat[:: n_items + 1] = 0.0
        self.weights_ = P  # C-ordered n_items x n_items, in the solver precision

    def _score_history(self, history: sp.csr_matrix) -> np.ndarray:
        h = history.tocsr().astype(self.weights_.dtype)
        h.data[:] = 1.0
        return np.asarray(h @ self.weights_, dtype=np.float32)

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._score_history(self._seen_[users])

    def similar_items(self, items: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Items with the largest EASE weights ``B[i, :]`` for item codes (item excluded)."""
        from recforge.models.base import topk_rows

        self._check_fitted()
        items = np.asarray(items, dtype=np.int64)
        w = np.array(self.weights_[items], dtype=np.float32)
        w[np.arange(items.size), items] = -np.inf
        return topk_rows(w, k)

    def get_state(self) -> dict[str, np.ndarray]:
        return {"B": np.ascontiguousarray(self.weights_)}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.weights_ = np.ascontiguousarray(state["B"])

