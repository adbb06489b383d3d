"""Validation and id encoding of raw interaction frames (polars, vectorised).

Every rule reports the first offending row as ``file, line N`` (files) or ``row N`` (frames),
the column, the value, and how to fix it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from recforge.data.interactions import Interactions, PreprocessReport
from recforge.errors import DataError

_F32_MAX = float(np.finfo(np.float32).max)
_DUP_POLICIES = ("keep_last", "sum", "error", "keep_all")


def to_polars(df: Any, *, what: str = "data") -> pl.DataFrame:
    """Accept a polars or pandas DataFrame (or anything polars can build a frame from)."""
    if isinstance(df, pl.DataFrame):
        return df
    if isinstance(df, pl.LazyFrame):
        return df.collect()
    mod = type(df).__module__
    if mod.startswith("pandas"):
        return pl.from_pandas(df)
    if isinstance(df, dict):
        return pl.DataFrame(df)
    raise DataError(
        f"{what} must be a pandas or polars DataFrame, got {type(df).__name__}; "
        "read files with recforge.data.read_interactions"
    )


class _Where:
    """Formats the location of a row for error messages."""

    def __init__(self, source: str | None, line_offset: int | None) -> None:
        self.source = source
        self.line_offset = line_offset

    def __call__(self, row: int, column: str | None = None) -> str:
        if self.source is not None and self.line_offset is not None:
            loc = f"{self.source}, line {row + self.line_offset}"
        elif self.source is not None:
            loc = f"{self.source}, row {row}"
        else:
            loc = f"row {row}"
        return f"{loc}, column {column!r}" if column else loc


def _first_true(mask: pl.Series) -> int:
    return int(mask.arg_true()[0])


def _check_columns(df: pl.DataFrame, wanted: dict[str, str | None], where: _Where) -> None:
    for role, col in wanted.items():
        if col is not None and col not in df.columns:
            src = where.source or "the data"
            raise DataError(
                f"{src}: missing {role} column {col!r}; available columns are {df.columns}. "
                f"Pass the right name (e.g. {role}=...) or rename the column"
            )


def _check_ids(df: pl.DataFrame, col: str, role: str, where: _Where) -> None:
    s = df.get_column(col)
    if s.null_count():
        row = _first_true(s.is_null())
        raise DataError(
            f"{where(row, col)}: missing {role} id; every row needs a {role} id "
            "(drop or fill incomplete rows first)"
        )
    if s.dtype.is_float():
        bad = (s.is_nan() | s.is_infinite() | (s != s.floor())).fill_null(False)
        if bad.any():
            row = _first_true(bad)
            raise DataError(
                f"{where(row, col)}: {role} id {s[row]!r} is not an integer; "
                "ids must be integers or strings"
            )
    if s.dtype.is_numeric():
        neg = s < 0
        if neg.any():
            row = _first_true(neg)
            raise DataError(
                f"{where(row, col)}: negative {role} id {s[row]!r}; ids must be >= 0 "
                "(or strings); re-map the ids"
            )


def _numeric(df: pl.DataFrame, col: str, role: str, where: _Where) -> pl.Series:
    """Return the column as Float64, raising on unparsable values, NaN and inf."""
    s = df.get_column(col)
    if s.dtype == pl.Boolean:
        s = s.cast(pl.Float64)
    if s.dtype in (pl.Utf8, pl.Categorical):
        s = s.cast(pl.Utf8)
        parsed = s.str.strip_chars().cast(pl.Float64, strict=False)
        bad = parsed.is_null() & s.is_not_null()
        if bad.any():
            row = _first_true(bad)
            raise DataError(
                f"{where(row, col)}: {s[row]!r} is not a number; {role} values must be "
                "numeric (fix or drop that row)"
            )
        s = parsed
    elif not s.dtype.is_numeric():
        raise DataError(
            f"{where.source or 'data'}: column {col!r} has type {s.dtype}, "
            f"but {role} must be numeric"
        )
    s = s.cast(pl.Float64)
    if s.null_count():
        row = _first_true(s.is_null())
        raise DataError(f"{where(row, col)}: missing {role} value; fill it or drop the row")
    bad = s.is_nan() | s.is_infinite()
    if bad.any():
        row = _first_true(bad)
        raise DataError(
            f"{where(row, col)}: {role} is {s[row]}; NaN and infinity are not allowed "
            "(fix or drop that row)"
        )
    return s


def _timestamps(df: pl.DataFrame, col: str, where: _Where) -> pl.Series:
    """Event times as Int64 epoch seconds (numbers, ISO-8601 strings or datetimes)."""
    s = df.get_column(col)
    if s.dtype.is_integer():
        if s.null_count():
            row = _first_true(s.is_null())
            raise DataError(f"{where(row, col)}: missing timestamp; fill it or drop the row")
        return s.cast(pl.Int64)
    if s.dtype == pl.Date:
        s = s.cast(pl.Datetime("ms"))
    if isinstance(s.dtype, pl.Datetime):
        if s.null_count():
            row = _first_true(s.is_null())
            raise DataError(f"{where(row, col)}: missing timestamp; fill it or drop the row")
        return s.dt.epoch("s")
    if s.dtype == pl.Utf8:
        as_num = s.str.strip_chars().cast(pl.Float64, strict=False)
        if as_num.is_null().sum() > s.null_count():
            parsed = s.str.to_datetime(strict=False)
            bad = parsed.is_null() & s.is_not_null()
            if bad.any():
                row = _first_true(bad)
                raise DataError(
                    f"{where(row, col)}: {s[row]!r} is neither a number nor a date/time; "
                    "timestamps must be epoch seconds or ISO-8601"
                )
            return _timestamps(pl.DataFrame({col: parsed}), col, where)
    num = _numeric(df.with_columns(s.alias(col)) if s.dtype == pl.Utf8 else df, col, "timestamp", where)
    return num.floor().cast(pl.Int64)


def _encode_column(s: pl.Series, bounds: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sorted vocabulary and int32 codes (position of each value in the vocabulary).

    Non-negative integer ids with a moderate maximum use a presence table (O(n + max),
    no sort of the column); strings are mapped through a polars Enum of the sorted unique
    values (hash lookup); anything else falls back to a dense rank. ``bounds`` are the
    column's (min, max) when already known (saves two passes).
    """
    if s.dtype.is_numeric():
        s = s.cast(pl.Int64)
        arr = s.to_numpy()
        n = arr.shape[0]
        if bounds is not None:
            lo, hi = bounds
        else:
            hi = int(arr.max()) if n else 0
            lo = int(arr.min()) if n else 0
        if lo >= 0 and hi < max(8 * n, 1 << 22):
            # the ids are validated non-negative before we get here
            present = np.zeros(hi + 1, dtype=bool)
            present[arr] = True
            vocab = np.flatnonzero(present).astype(np.int64)
            lut = np.cumsum(present, dtype=np.int32)
            lut -= 1
            return vocab, lut[arr]
        codes = (s.rank("dense") - 1).cast(pl.Int32).to_numpy()
        return s.unique().sort().to_numpy(), codes
    if s.dtype != pl.Utf8:
        s = s.cast(pl.Utf8)
    uniq = s.unique().sort()
    codes = s.cast(pl.Enum(uniq)).to_physical().cast(pl.Int32).to_numpy()
    return uniq.to_numpy().astype(object), codes


def _pre_encoded(s: pl.Series, n: int, role: str, where: _Where) -> tuple[np.ndarray, np.ndarray]:
    """Ids that already are codes 0..n-1 (declared ``n_users`` / ``n_items``)."""
    col = s.name
    if not s.dtype.is_integer():
        raise DataError(
            f"{where.source or 'data'}: column {col!r} holds {s.dtype} values, but "
            f"n_{role}s={n} declares pre-encoded integer {role} ids; drop n_{role}s= to encode them"
        )
    if n < 1:
        raise DataError(f"n_{role}s must be >= 1, got {n}")
    bad = s >= n
    if bad.any():
        row = _first_true(bad)
        raise DataError(
            f"{where(row, col)}: {role} id {s[row]!r} is out of range for n_{role}s={n} "
            f"(pre-encoded ids must lie in [0, {n})); raise n_{role}s or re-map the ids"
        )
    return np.arange(n, dtype=np.int64), s.cast(pl.Int32).to_numpy()


def _features(frame: Any, vocab: np.ndarray, role: str) -> pl.DataFrame | None:
    """Align a side-feature frame (first column = raw id) to the vocabulary order."""
    if frame is None:
        return None
    f = to_polars(frame, what=f"{role}_features")
    if f.width < 2:
        raise DataError(f"{role}_features needs an id column followed by at least one feature column")
    idcol = f.columns[0]
    repeat = f.get_column(idcol).is_first_distinct().not_()
    if repeat.any():
        row = _first_true(repeat)
        first = _first_true(f.get_column(idcol) == f[idcol][row])
        raise DataError(
            f"{role}_features row {row}, column {idcol!r}: duplicate {role} id {f[idcol][row]!r} "
            f"(first in row {first}); keep one row per {role}"
        )
    ids = pl.Series(idcol, vocab)
    key = f.get_column(idcol)
    if ids.dtype != key.dtype:
        try:
            f = f.with_columns(key.cast(ids.dtype, strict=True))
        except Exception as exc:  # polars raises several exception types here
            raise DataError(f"{role}_features id column {idcol!r} does not match the {role} ids' type") from exc
    return pl.DataFrame({idcol: ids}).join(f, on=idcol, how="left", maintain_order="left")


def encode_and_validate(
    df: Any,
    *,
    user: str,
    item: str,
    rating: str | None,
    timestamp: str | None,
    duplicates: str,
    user_features: Any,
    item_features: Any,
    name: str | None,
    source: str | None,
    line_offset: int | None,
    n_users: int | None = None,
    n_items: int | None = None,
) -> Interactions:
    """Validate a raw frame and encode it into :class:`Interactions` (see ``from_frame``)."""
    if duplicates not in _DUP_POLICIES:
        raise DataError(f"duplicates must be one of {list(_DUP_POLICIES)}, got {duplicates!r}")
    where = _Where(source, line_offset)
    frame = to_polars(df)
    _check_columns(frame, {"user": user, "item": item, "rating": rating, "timestamp": timestamp}, where)
    if frame.height == 0:
        raise DataError(
            f"{source or 'data'}: no interactions (empty input); give at least one row with a "
            "user and an item"
        )
    stats = _clean_stats(frame, user, item, rating, timestamp)
    r = t = None
    if stats is not None:
        # every check passed in one fused pass (the common case: integer ids, numeric
        # ratings, integer timestamps, nothing missing); no per-check passes needed
        if rating is not None:
            r = frame.get_column(rating).cast(pl.Float64)
        if timestamp is not None:
            t = frame.get_column(timestamp).cast(pl.Int64)
    else:
        r, t = _checked_columns(frame, user, item, rating, timestamp, where)
    u_raw, i_raw = frame.get_column(user), frame.get_column(item)
    if n_users is not None:
        user_vocab, ucodes = _pre_encoded(u_raw, n_users, "user", where)
    else:
        user_vocab, ucodes = _encode_column(u_raw, None if stats is None else stats[user])
    if n_items is not None:
        item_vocab, icodes = _pre_encoded(i_raw, n_items, "item", where)
    else:
        item_vocab, icodes = _encode_column(i_raw, None if stats is None else stats[item])
    return _finish(frame, ucodes, icodes, user_vocab, item_vocab, r, t, user=user, item=item,
                   u_raw=u_raw, i_raw=i_raw, duplicates=duplicates, where=where, source=source,
                   user_features=user_features, item_features=item_features, name=name)


def _clean_stats(frame: pl.DataFrame, user: str, item: str, rating: str | None,
                 timestamp: str | None) -> dict[str, tuple[int, int]] | None:
    """``{id column: (min, max)}`` when every validation rule holds, else ``None``.

    Only for the common dtypes (integer ids, integer/float ratings, integer timestamps):
    one polars ``select`` of aggregates (null counts, minima, maxima, any NaN/inf), which
    polars evaluates in parallel over the columns, instead of one pass per rule. ``None``
    means "run the rule-by-rule checks", which name the first offending row.
    """
    if not (frame.schema[user].is_integer() and frame.schema[item].is_integer()):
        return None
    if rating is not None and not frame.schema[rating].is_numeric():
        return None
    if timestamp is not None and not frame.schema[timestamp].is_integer():
        return None
    exprs = []
    for i, col in enumerate((user, item)):
        c = pl.col(col)
        exprs += [c.null_count().alias(f"n{i}"), c.min().alias(f"lo{i}"), c.max().alias(f"hi{i}")]
    if rating is not None:
        c = pl.col(rating).cast(pl.Float64)
        exprs += [c.null_count().alias("nr"), c.min().alias("lor"), c.max().alias("hir"),
                  c.is_finite().not_().any().alias("badr")]
    if timestamp is not None:
        exprs.append(pl.col(timestamp).null_count().alias("nt"))
    row = frame.select(exprs).row(0, named=True)
    if row["n0"] or row["n1"] or row["lo0"] < 0 or row["lo1"] < 0:
        return None
    if rating is not None and (row["nr"] or row["badr"] or row["lor"] < 0 or row["hir"] > _F32_MAX):
        return None
    if timestamp is not None and row["nt"]:
        return None
    return {user: (int(row["lo0"]), int(row["hi0"])), item: (int(row["lo1"]), int(row["hi1"]))}


def _checked_columns(frame: pl.DataFrame, user: str, item: str, rating: str | None,
                     timestamp: str | None, where: _Where) -> tuple[pl.Series | None, pl.Series | None]:
    """Rule-by-rule validation (raises on the first offending row); ratings and timestamps."""
    _check_ids(frame, user, "user", where)
    _check_ids(frame, item, "item", where)
    r = t = None
    if rating is not None:
        r = _numeric(frame, rating, "rating", where)
        neg = r < 0
        if neg.any():
            row = _first_true(neg)
            raise DataError(
                f"{where(row, rating)}: negative rating/weight {r[row]}; weights must be >= 0 "
                "(shift the scale or drop the row)"
            )
        big = r > _F32_MAX
        if big.any():
            row = _first_true(big)
            raise DataError(
                f"{where(row, rating)}: rating/weight {r[row]} is too large (weights are stored "
                f"as float32, at most {_F32_MAX:.3g}); rescale the column"
            )
    if timestamp is not None:
        t = _timestamps(frame, timestamp, where)
    return r, t


def _finish(frame: pl.DataFrame, ucodes: np.ndarray, icodes: np.ndarray, user_vocab: np.ndarray,
            item_vocab: np.ndarray, r: pl.Series | None, t: pl.Series | None, *, user: str,
            item: str, u_raw: pl.Series, i_raw: pl.Series, duplicates: str, where: _Where,
            source: str | None, user_features: Any, item_features: Any,
            name: str | None) -> Interactions:
    """Duplicate-pair handling and the :class:`Interactions` of validated, encoded columns."""
    r_np = None if r is None else r.to_numpy().astype(np.float32)
    t_np = None if t is None else t.to_numpy()
    report = PreprocessReport()
    report.add("load", source=source or "frame", rows=frame.height)

    if duplicates != "keep_all":
        key = _pair_key(ucodes, icodes, len(user_vocab), len(item_vocab))
        if _has_duplicates(key):
            if duplicates == "error":
                later = pl.Series(key).is_first_distinct().not_()
                row = _first_true(later)
                first = _first_true(pl.Series(key) == key[row])
                raise DataError(
                    f"{where(row)}, columns {user!r}/{item!r}: duplicate (user, item) pair "
                    f"({u_raw[row]!r}, {i_raw[row]!r}), first seen at "
                    f"{where(first)}; pass duplicates='keep_last', 'sum' "
                    "or 'keep_all' (CLI: --duplicates) to say how to combine repeats"
                )
            before = key.shape[0]
            rows, r_np, t_np = _combine(key, r_np, t_np, duplicates)
            ucodes, icodes = ucodes[rows], icodes[rows]
            report.add("deduplicate", policy=duplicates, removed=before - rows.shape[0])
        else:
            report.add("deduplicate", policy=duplicates, removed=0)

    return Interactions(
        ucodes,
        icodes,
        user_ids=user_vocab,
        item_ids=item_vocab,
        rating=r_np,
        timestamp=t_np,
        user_features=_features(user_features, user_vocab, "user"),
        item_features=_features(item_features, item_vocab, "item"),
        name=name,
        report=report,
    )


def _pair_key(u: np.ndarray, i: np.ndarray, n_users: int, n_items: int) -> np.ndarray:
    """``u * n_items + i``: one integer per (user, item) pair.

    uint32 when every pair fits (e.g. MovieLens 20M: 138,493 x 26,744 < 2**32), which halves
    the memory and the time of the sort in :func:`_has_duplicates`; int64 otherwise.
    """
    dtype: type[np.integer[Any]] = np.uint32 if n_users * max(1, n_items) <= 2**32 else np.int64
    key: np.ndarray = u.astype(dtype)
    np.multiply(key, dtype(max(1, n_items)), out=key)
    np.add(key, i.astype(dtype, copy=False), out=key)
    return key


def _has_duplicates(key: np.ndarray) -> bool:
    """Whether any pair key repeats (one vectorised sort; numpy uses SIMD sorts on x86)."""
    if key.shape[0] < 2:
        return False
    srt = np.sort(key)
    return bool((srt[1:] == srt[:-1]).any())


def _combine(key: np.ndarray, r: np.ndarray | None, t: np.ndarray | None,
             policy: str) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Rows kept after combining repeated pairs, with their ratings and timestamps.

    ``keep_last`` keeps the latest event of each pair (by timestamp, ties and missing
    timestamps by row order); ``sum`` keeps the first row's position with the summed weight
    (the count when there is no rating) and the latest timestamp. Output rows stay in input
    order.
    """
    cols: dict[str, Any] = {"k": key, "row": np.arange(key.shape[0], dtype=np.int64)}
    if r is not None:
        cols["r"] = r
    if t is not None:
        cols["t"] = t
    work = pl.DataFrame(cols)
    if policy == "keep_last":
        order = ["t", "row"] if t is not None else ["row"]
        kept = work.sort(order).unique(subset=["k"], keep="last").sort("row")
        rows = kept.get_column("row").to_numpy()
        return (rows, None if r is None else r[rows], None if t is None else t[rows])
    aggs = [pl.col("row").first()]
    aggs.append(pl.col("r").sum() if r is not None else pl.len().cast(pl.Float32).alias("r"))
    if t is not None:
        aggs.append(pl.col("t").max())
    kept = work.group_by("k", maintain_order=True).agg(aggs).sort("row")
    rows = kept.get_column("row").to_numpy()
    return (rows, kept.get_column("r").to_numpy().astype(np.float32),
            None if t is None else kept.get_column("t").to_numpy())
