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
    s = df.get_column(col)
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


def _encode_column(s: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Sorted vocabulary and int32 codes (dense rank - 1), vectorised in polars."""
    if s.dtype.is_numeric():
        s = s.cast(pl.Int64)
    elif s.dtype != pl.Utf8:
        s = s.cast(pl.Utf8)
    codes = (s.rank("dense") - 1).cast(pl.Int32).to_numpy()
    vocab = s.unique().sort().to_numpy()
    if vocab.dtype.kind in "OUS":
        vocab = vocab.astype(object)
    return vocab, codes


def _features(frame: Any, vocab: np.ndarray, role: str) -> pl.DataFrame | None:
    """Align a side-feature frame (first column = raw id) to the vocabulary order."""
    if frame is None:
        return None
    f = to_polars(frame, what=f"{role}_features")
    if f.width < 2:
        raise DataError(f"{role}_features needs an id column followed by at least one feature column")
    idcol = f.columns[0]
    dup = f.get_column(idcol).is_duplicated()
    if dup.any():
        row = _first_true(dup)
        raise DataError(f"{role}_features row {row}, column {idcol!r}: duplicate {role} id {f[idcol][row]!r}")
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
) -> Interactions:
    if duplicates not in _DUP_POLICIES:
        raise DataError(f"duplicates must be one of {list(_DUP_POLICIES)}, got {duplicates!r}")
    where = _Where(source, line_offset)
    frame = to_polars(df)
    _check_columns(frame, {"user": user, "item": item, "rating": rating, "timestamp": timestamp}, where)
    if frame.height == 0:
        raise DataError(f"{source or 'data'}: no interactions (empty input); nothing to learn from")
    _check_ids(frame, user, "user", where)
    _check_ids(frame, item, "item", where)
    cols = {"u": frame.get_column(user), "i": frame.get_column(item)}
    if rating is not None:
        r = _numeric(frame, rating, "rating", where)
        neg = r < 0
        if neg.any():
            row = _first_true(neg)
            raise DataError(
                f"{where(row, rating)}: negative rating/weight {r[row]}; weights must be >= 0 "
                "(shift the scale or drop the row)"
            )
        cols["r"] = r
    if timestamp is not None:
        cols["t"] = _timestamps(frame, timestamp, where)
    work = pl.DataFrame(cols).with_row_index("row")
    report = PreprocessReport()
    report.add("load", source=source or "frame", rows=frame.height)

    # duplicate (user, item) pairs
    if duplicates != "keep_all":
        dup_mask = work.select(pl.struct("u", "i").is_duplicated()).to_series()
        n_dup_rows = int(dup_mask.sum())
        if n_dup_rows:
            if duplicates == "error":
                is_later = work.select(pl.struct("u", "i").is_first_distinct().not_()).to_series()
                row = _first_true(is_later)
                raise DataError(
                    f"{where(row)}: duplicate (user, item) pair ({work['u'][row]!r}, "
                    f"{work['i'][row]!r}); pass duplicates='keep_last', 'sum' or 'keep_all' "
                    "(CLI: --duplicates) to say how to combine repeats"
                )
            before = work.height
            if duplicates == "keep_last":
                order = ["t", "row"] if "t" in work.columns else ["row"]
                work = work.sort(order).unique(subset=["u", "i"], keep="last").sort("row")
            else:  # sum
                aggs = [pl.col("row").first()]
                if "r" in work.columns:
                    aggs.append(pl.col("r").sum())
                else:
                    aggs.append(pl.len().cast(pl.Float64).alias("r"))
                if "t" in work.columns:
                    aggs.append(pl.col("t").max())
                work = work.group_by(["u", "i"], maintain_order=True).agg(aggs).sort("row")
            report.add("deduplicate", policy=duplicates, removed=before - work.height)

    user_vocab, ucodes = _encode_column(work.get_column("u"))
    item_vocab, icodes = _encode_column(work.get_column("i"))
    return Interactions(
        ucodes,
        icodes,
        user_ids=user_vocab,
        item_ids=item_vocab,
        rating=None if "r" not in work.columns else work.get_column("r").to_numpy().astype(np.float32),
        timestamp=None if "t" not in work.columns else work.get_column("t").to_numpy(),
        user_features=_features(user_features, user_vocab, "user"),
        item_features=_features(item_features, item_vocab, "item"),
        name=name,
        report=report,
    )
