"""The user-item interaction container.

:class:`Interactions` holds one event per row (user code, item code, optional rating/weight,
optional timestamp) together with the id vocabularies that map raw ids to contiguous codes.
Splits of one dataset share the same vocabularies, so a user's code means the same thing in
train, validation and test, and model outputs decode to the raw ids the user gave us.

Orientation is fixed: rows are users, columns are items.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from recforge.errors import DataError

if TYPE_CHECKING:
    import polars as pl
    import scipy.sparse as sp

DuplicatePolicy = Literal["keep_last", "sum", "error", "keep_all"]


@dataclass
class PreprocessReport:
    """What a preprocessing step changed, for logs and reports."""

    steps: list[dict[str, Any]] = field(default_factory=list)

    def add(self, step: str, **info: Any) -> None:
        self.steps.append({"step": step, **info})

    def __str__(self) -> str:  # pragma: no cover - cosmetic
        return "; ".join(
            f"{s['step']}: " + ", ".join(f"{k}={v}" for k, v in s.items() if k != "step")
            for s in self.steps
        )


class Interactions:
    """User-item events with their id vocabularies.

    Build one with :meth:`from_frame` (pandas or polars) or :func:`recforge.data.read_interactions`
    (CSV/TSV/Parquet); the constructor takes already-encoded codes.

    Example:
        >>> import polars as pl
        >>> df = pl.DataFrame({"u": ["a", "a", "b"], "i": [10, 20, 10]})
        >>> data = Interactions.from_frame(df, user="u", item="i")
        >>> data.n_users, data.n_items, len(data)
        (2, 2, 3)
    """

    def __init__(
        self,
        user: np.ndarray,
        item: np.ndarray,
        *,
        user_ids: np.ndarray,
        item_ids: np.ndarray,
        rating: np.ndarray | None = None,
        timestamp: np.ndarray | None = None,
        user_features: pl.DataFrame | None = None,
        item_features: pl.DataFrame | None = None,
        name: str | None = None,
        report: PreprocessReport | None = None,
        history: Interactions | None = None,
        origin: np.ndarray | None = None,
        origin_names: Sequence[str] | None = None,
    ) -> None:
        self.user = np.ascontiguousarray(user, dtype=np.int32)
        self.item = np.ascontiguousarray(item, dtype=np.int32)
        if self.user.shape != self.item.shape or self.user.ndim != 1:
            raise DataError("user and item code arrays must be 1-D and of equal length")
        n = self.user.shape[0]
        self.rating = None if rating is None else np.ascontiguousarray(rating, dtype=np.float32)
        self.timestamp = None if timestamp is None else np.ascontiguousarray(timestamp, dtype=np.int64)
        for label, arr in (("rating", self.rating), ("timestamp", self.timestamp)):
            if arr is not None and arr.shape != (n,):
                raise DataError(f"{label} must have one value per interaction ({n}), got {arr.shape}")
        self.user_ids = np.asarray(user_ids)
        self.item_ids = np.asarray(item_ids)
        if n and (self.user.min() < 0 or self.user.max() >= len(self.user_ids)):
            raise DataError(f"user codes must lie in [0, {len(self.user_ids)})")
        if n and (self.item.min() < 0 or self.item.max() >= len(self.item_ids)):
            raise DataError(f"item codes must lie in [0, {len(self.item_ids)})")
        self.user_features = user_features
        self.item_features = item_features
        self.name = name
        self.report = report or PreprocessReport()
        #: For user-holdout splits: the fold-in history of the users evaluated here.
        self.history = history
        #: For data read from several files (given splits): per-row index into origin_names.
        self.origin = None if origin is None else np.asarray(origin, dtype=np.int8)
        self.origin_names = list(origin_names or [])
        self._csr_cache: dict[str, sp.csr_matrix] = {}

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_frame(
        cls,
        df: Any,
        *,
        user: str = "user",
        item: str = "item",
        rating: str | None = None,
        timestamp: str | None = None,
        duplicates: DuplicatePolicy = "error",
        user_features: Any = None,
        item_features: Any = None,
        name: str | None = None,
        source: str | None = None,
        line_offset: int | None = None,
        n_users: int | None = None,
        n_items: int | None = None,
    ) -> Interactions:
        """Validate and encode a pandas or polars DataFrame.

        Args:
            df: pandas or polars DataFrame with one event per row.
            user, item: column names of the raw user and item ids (ints or strings).
            rating: optional column of ratings/weights (numbers >= 0).
            timestamp: optional column of event times (numbers or datetimes; seconds).
            duplicates: what to do with repeated (user, item) pairs: ``"error"`` (default),
                ``"keep_last"`` (latest by timestamp, else by row order), ``"sum"`` (add
                weights; count when there is no rating column) or ``"keep_all"``.
            user_features, item_features: optional frames whose first column is the raw id.
            source, line_offset: used in error messages (file name; line of row 0).
            n_users, n_items: declare the ids as already encoded: integer codes in
                ``[0, n)`` used as they are (vocabulary ``0..n-1``, ids out of range raise).

        Raises:
            DataError: naming the row/line, column, offending value and the fix.
        """
        from recforge.data._validate import encode_and_validate

        return encode_and_validate(
            df,
            user=user,
            item=item,
            rating=rating,
            timestamp=timestamp,
            duplicates=duplicates,
            user_features=user_features,
            item_features=item_features,
            name=name,
            source=source,
            line_offset=line_offset,
            n_users=n_users,
            n_items=n_items,
        )

    # ------------------------------------------------------------------ basic properties
    @property
    def n_users(self) -> int:
        """Size of the user vocabulary (shared across splits)."""
        return int(len(self.user_ids))

    @property
    def n_items(self) -> int:
        """Size of the item vocabulary (shared across splits)."""
        return int(len(self.item_ids))

    @property
    def n_interactions(self) -> int:
        return int(self.user.shape[0])

    def __len__(self) -> int:
        return self.n_interactions

    @property
    def has_timestamps(self) -> bool:
        return self.timestamp is not None

    @property
    def has_ratings(self) -> bool:
        return self.rating is not None

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return (
            f"Interactions({label}{self.n_interactions:,} interactions, "
            f"{len(self.active_users()):,}/{self.n_users:,} users, {self.n_items:,} items)"
        )

    def active_users(self) -> np.ndarray:
        """Sorted codes of users with at least one interaction here."""
        counts = np.bincount(self.user, minlength=self.n_users)
        return np.flatnonzero(counts).astype(np.int32)

    def user_counts(self) -> np.ndarray:
        return np.bincount(self.user, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.item, minlength=self.n_items)

    # ------------------------------------------------------------------ views
    def to_csr(self, values: Literal["binary", "rating", "count"] = "binary") -> sp.csr_matrix:
        """User x item CSR matrix (float32). Cached per ``values`` kind.

        ``binary``: 1 for every observed pair; ``rating``: the rating/weight (1 if none),
        summed over repeats of a pair (data read with ``duplicates="keep_all"``; choose
        ``keep_last`` or ``sum`` at ingestion to decide explicitly); ``count``: number of
        events per pair.
        """
        import scipy.sparse as sp

        if values not in ("binary", "rating", "count"):
            raise DataError(f"values must be 'binary', 'rating' or 'count', got {values!r}")
        cached = self._csr_cache.get(values)
        if cached is not None:
            return cached
        if values == "rating" and self.rating is not None:
            data = self.rating
        else:
            data = np.ones(self.n_interactions, dtype=np.float32)
        mat = sp.csr_matrix(
            (data, (self.user, self.item)), shape=(self.n_users, self.n_items), dtype=np.float32
        )
        mat.sum_duplicates()
        if values == "binary":
            mat.data[:] = 1.0
        mat.sort_indices()
        self._csr_cache[values] = mat
        return mat

    def sequences(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-user time-ordered item sequences as (indptr, items).

        ``items[indptr[u]:indptr[u+1]]`` is user ``u``'s items, oldest first (ties keep row
        order). Without timestamps, row order is used.
        """
        if self.timestamp is not None:
            order = np.lexsort((np.arange(self.n_interactions), self.timestamp, self.user))
        else:
            order = np.argsort(self.user, kind="stable")
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.user, minlength=self.n_users), out=indptr[1:])
        return indptr, self.item[order]

    # ------------------------------------------------------------------ derivation
    def subset(self, mask_or_index: np.ndarray, *, name: str | None = None) -> Interactions:
        """Rows selected by a boolean mask or index array; vocabularies are kept."""
        sel = np.asarray(mask_or_index)
        return Interactions(
            self.user[sel],
            self.item[sel],
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            rating=None if self.rating is None else self.rating[sel],
            timestamp=None if self.timestamp is None else self.timestamp[sel],
            user_features=self.user_features,
            item_features=self.item_features,
            name=name or self.name,
            report=self.report,
            origin=None if self.origin is None else self.origin[sel],
            origin_names=self.origin_names,
        )

    def concat(self, other: Interactions, *, name: str | None = None) -> Interactions:
        """Rows of both (e.g. train + validation for the final refit); same vocabularies."""
        if other.n_users != self.n_users or other.n_items != self.n_items:
            raise DataError("concat needs two parts of the same dataset (same vocabularies)")

        def cat(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
            if a is None or b is None:
                return None
            return np.concatenate([a, b])

        return Interactions(
            np.concatenate([self.user, other.user]),
            np.concatenate([self.item, other.item]),
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            rating=cat(self.rating, other.rating),
            timestamp=cat(self.timestamp, other.timestamp),
            user_features=self.user_features,
            item_features=self.item_features,
            name=name or self.name,
            report=self.report,
        )

    def with_side_features(self, user_features: Any = None, item_features: Any = None) -> Interactions:
        """A copy with user and/or item side features aligned to the vocabularies.

        Each frame's first column holds raw ids; row ``i`` of the stored frame belongs to code
        ``i`` (ids without features get nulls).
        """
        from recforge.data._validate import _features

        out = self.subset(np.arange(self.n_interactions))
        out.history = self.history
        if user_features is not None:
            out.user_features = _features(user_features, self.user_ids, "user")
        if item_features is not None:
            out.item_features = _features(item_features, self.item_ids, "item")
        return out

    # ------------------------------------------------------------------ id mapping
    def encode_users(self, raw: Iterable[Any] | np.ndarray, *, missing: Literal["error", "mask"] = "error") -> np.ndarray:
        """Raw user ids -> codes. Unknown ids raise, or map to -1 with ``missing="mask"``."""
        return _encode(self.user_ids, raw, "user", missing)

    def encode_items(self, raw: Iterable[Any] | np.ndarray, *, missing: Literal["error", "mask"] = "error") -> np.ndarray:
        """Raw item ids -> codes. Unknown ids raise, or map to -1 with ``missing="mask"``."""
        return _encode(self.item_ids, raw, "item", missing)

    def decode_users(self, codes: np.ndarray | Sequence[int]) -> np.ndarray:
        return self.user_ids[np.asarray(codes, dtype=np.int64)]

    def decode_items(self, codes: np.ndarray | Sequence[int]) -> np.ndarray:
        return self.item_ids[np.asarray(codes, dtype=np.int64)]

    def to_frame(self) -> pl.DataFrame:
        """Polars frame with raw ids (and rating/timestamp when present)."""
        import polars as pl

        cols: dict[str, Any] = {
            "user": self.decode_users(self.user),
            "item": self.decode_items(self.item),
        }
        if self.rating is not None:
            cols["rating"] = self.rating
        if self.timestamp is not None:
            cols["timestamp"] = self.timestamp
        return pl.DataFrame(cols)

    # ------------------------------------------------------------------ statistics
    def summary(self) -> dict[str, Any]:
        """Users, items, interactions, density, time range, degree percentiles, ratings."""
        ucount = self.user_counts()
        icount = self.item_counts()
        active_u = ucount[ucount > 0]
        active_i = icount[icount > 0]
        n_pairs = self.to_csr("binary").nnz
        out: dict[str, Any] = {
            "name": self.name,
            "n_users": int(active_u.size),
            "n_items": int(active_i.size),
            "n_interactions": self.n_interactions,
            "n_unique_pairs": int(n_pairs),
            "density": float(n_pairs / max(1, active_u.size * active_i.size)),
            "user_degree": _percentiles(active_u),
            "item_degree": _percentiles(active_i),
            "vocabulary": {"users": self.n_users, "items": self.n_items},
        }
        if self.timestamp is not None and self.n_interactions:
            out["time_range"] = {
                "min": int(self.timestamp.min()),
                "max": int(self.timestamp.max()),
            }
        if self.rating is not None and self.n_interactions:
            values, counts = np.unique(self.rating, return_counts=True)
            if values.size <= 50:
                out["rating_histogram"] = {_fmt_num(v): int(c) for v, c in zip(values, counts, strict=True)}
            else:
                out["rating_histogram"] = None
            out["rating_range"] = {"min": float(self.rating.min()), "max": float(self.rating.max())}
        return out


def _fmt_num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{float(v):g}"


def _percentiles(x: np.ndarray) -> dict[str, float]:
    if x.size == 0:
        return {}
    qs = [0, 25, 50, 75, 90, 99, 100]
    vals = np.percentile(x, qs)
    return {("min" if q == 0 else "max" if q == 100 else f"p{q}"): float(v) for q, v in zip(qs, vals, strict=True)}


def _encode(vocab: np.ndarray, raw: Iterable[Any] | np.ndarray, kind: str, missing: str) -> np.ndarray:
    """Map raw ids to codes through the sorted vocabulary (binary search)."""
    arr = np.asarray(list(raw) if not isinstance(raw, np.ndarray) else raw)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if vocab.size == 0:
        codes = np.full(arr.shape, -1, dtype=np.int64)
    else:
        try:
            if vocab.dtype.kind in "iu" and arr.dtype.kind not in "iu":
                # ids typed on a command line or in JSON arrive as strings
                conv = np.empty(arr.shape, dtype=np.int64)
                ok = np.ones(arr.shape, dtype=bool)
                for i, v in enumerate(arr.tolist()):
                    try:
                        conv[i] = int(v)
                    except (TypeError, ValueError):
                        ok[i] = False
                        conv[i] = vocab[0]
                arr_cmp = conv
            elif vocab.dtype.kind not in "iu" and arr.dtype.kind in "iu":
                arr_cmp = arr.astype(str).astype(object)
                ok = np.ones(arr.shape, dtype=bool)
            else:
                arr_cmp = arr
                ok = np.ones(arr.shape, dtype=bool)
            pos = np.searchsorted(vocab, arr_cmp)
            pos_c = np.minimum(pos, vocab.size - 1)
            found = ok & (vocab[pos_c] == arr_cmp)
            codes = np.where(found, pos_c, -1).astype(np.int64)
        except TypeError:
            codes = np.full(arr.shape, -1, dtype=np.int64)
    if missing == "error" and (codes < 0).any():
        bad = arr[codes < 0][:5].tolist()
        raise DataError(
            f"unknown {kind} id(s) {bad}: not in the training data's {kind} vocabulary "
            f"({vocab.size:,} ids); check the id type (e.g. '42' vs 42) or fold the {kind} in"
        )
    return codes
