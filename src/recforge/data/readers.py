"""Readers for interaction files (CSV, TSV, other delimited text, Parquet) via polars.

polars' multi-threaded CSV reader does the parsing; recforge adds validation with line numbers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

from recforge.data.interactions import DuplicatePolicy, Interactions
from recforge.errors import DataError

_SUFFIX_SEP = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".dat": None, ".data": "\t", ".txt": None}


def sniff_separator(path: Path) -> str:
    """Guess the delimiter from the first line (tab, comma, '::', ';', '|', space)."""
    with open(path, "rb") as fh:
        head = fh.readline().decode("utf-8", errors="replace")
    for sep in ("::", "\t", ",", ";", "|"):
        if sep in head:
            return sep
    return " "


def read_table(
    path: str | os.PathLike[str],
    *,
    sep: str | None = None,
    has_header: bool = True,
    columns: list[str] | None = None,
    schema_overrides: dict[str, Any] | None = None,
    encoding: str = "utf8",
) -> tuple[pl.DataFrame, int]:
    """Read a delimited text or Parquet file; returns (frame, line number of row 0)."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found")
    if p.is_dir():
        raise DataError(f"{p}: is a directory; give the interactions file inside it")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: file is empty")
    if p.suffix.lower() in (".parquet", ".pq"):
        try:
            return pl.read_parquet(p), 0
        except Exception as exc:
            raise DataError(f"{p}: not a readable Parquet file ({exc})") from exc
    if sep is None:
        sep = _SUFFIX_SEP.get(p.suffix.lower()) or sniff_separator(p)
    if len(sep) > 1:
        # polars takes one-byte separators; '::' (MovieLens 1M/10M) is read as ':' with the
        # empty fields between the doubled separator dropped.
        return _read_multichar(p, sep, has_header, columns, encoding), (2 if has_header else 1)
    try:
        df = pl.read_csv(
            p,
            separator=sep,
            has_header=has_header,
            new_columns=columns,
            schema_overrides=schema_overrides,
            encoding=encoding,
            infer_schema_length=10000,
            quote_char='"',
        )
    except (pl.exceptions.ComputeError, pl.exceptions.ShapeError) as exc:
        # The fast path failed (ragged line, mixed types beyond the inference window):
        # re-read everything as text, which cannot fail on types, and let the validator
        # name the offending row and column.
        try:
            df = pl.read_csv(
                p,
                separator=sep,
                has_header=has_header,
                new_columns=columns,
                infer_schema=False,
                encoding=encoding,
                quote_char='"',
            )
        except Exception:
            raise DataError(_ragged_message(p, sep, has_header, exc)) from exc
    return df, (2 if has_header else 1)


def _read_multichar(p: Path, sep: str, has_header: bool, columns: list[str] | None, encoding: str) -> pl.DataFrame:
    raw = pl.read_csv(
        p,
        separator="\x1f",  # a byte that does not occur: one string column per line
        has_header=False,
        new_columns=["line"],
        infer_schema=False,
        encoding=encoding,
        quote_char=None,
    )
    parts = raw.get_column("line").str.split(sep)
    width = parts.list.len()
    if has_header:
        header = parts[0].to_list()
        parts = parts.slice(1)
        width = width.slice(1)
    else:
        header = columns or [f"column_{i + 1}" for i in range(int(width.max() or 0))]
    if columns is not None:
        header = columns
    bad = width != len(header)
    if bad.any():
        row = int(bad.arg_true()[0])
        raise DataError(
            f"{p}, line {row + (2 if has_header else 1)}: expected {len(header)} fields "
            f"separated by {sep!r}, found {width[row]}"
        )
    frame = pl.DataFrame({"p": parts}).select(
        [pl.col("p").list.get(i).alias(name) for i, name in enumerate(header)]
    )
    # let polars infer numeric types like the CSV path does
    out = {}
    for name in header:
        col = frame.get_column(name)
        as_int = col.cast(pl.Int64, strict=False)
        if as_int.null_count() == col.null_count():
            out[name] = as_int
            continue
        as_float = col.cast(pl.Float64, strict=False)
        out[name] = as_float if as_float.null_count() == col.null_count() else col
    return pl.DataFrame(out)


def _ragged_message(p: Path, sep: str, has_header: bool, exc: Exception) -> str:
    expected = None
    with open(p, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            n = len(line.rstrip("\r\n").split(sep))
            if expected is None:
                expected = n
            elif n != expected and line.strip():
                return (
                    f"{p}, line {lineno}: expected {expected} fields separated by {sep!r}, "
                    f"found {n}; fix that line or pass the right separator"
                )
    return f"{p}: could not be parsed as {sep!r}-separated text ({exc})"


def read_interactions(
    path: str | os.PathLike[str],
    *,
    user: str = "user",
    item: str = "item",
    rating: str | None = None,
    timestamp: str | None = None,
    sep: str | None = None,
    has_header: bool = True,
    columns: list[str] | None = None,
    duplicates: DuplicatePolicy = "error",
    name: str | None = None,
) -> Interactions:
    """Read and validate an interaction file.

    Args:
        path: CSV/TSV/delimited text or Parquet file.
        user, item, rating, timestamp: column names (``columns`` names them for headerless files).
        sep: delimiter; guessed from the suffix or first line when omitted.
        duplicates: policy for repeated (user, item) pairs, see :meth:`Interactions.from_frame`.

    Example:
        >>> data = read_interactions("ratings.csv", user="userId", item="movieId",
        ...                          rating="rating", timestamp="timestamp")  # doctest: +SKIP
    """
    df, offset = read_table(path, sep=sep, has_header=has_header, columns=columns)
    return Interactions.from_frame(
        df,
        user=user,
        item=item,
        rating=rating,
        timestamp=timestamp,
        duplicates=duplicates,
        name=name or Path(path).stem,
        source=str(path),
        line_offset=offset or None,
    )
