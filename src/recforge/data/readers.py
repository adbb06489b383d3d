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
_COMPRESSED = (".gz", ".gzip", ".zst", ".zlib")


def _base_suffix(p: Path) -> str:
    """The data suffix of ``p``, looking through a compression suffix (``ratings.dat.gz``)."""
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        return suffixes[-2] if len(suffixes) > 1 else ""
    return suffixes[-1] if suffixes else p.suffix.lower()


def _first_line(path: Path) -> str:
    if path.suffix.lower() in (".gz", ".gzip"):
        import gzip

        with gzip.open(path, "rb") as gz:
            return gz.readline().decode("utf-8", errors="replace")
    with open(path, "rb") as fh:
        return fh.readline().decode("utf-8", errors="replace")


def sniff_separator(path: Path) -> str:
    """Guess the delimiter from the first line (``::``, tab, comma, ``;``, ``|``, else space)."""
    head = _first_line(Path(path))
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
    _typed_hint: dict[str, Any] | None = None,
) -> tuple[pl.DataFrame, int]:
    """Read a delimited text (optionally gzip-compressed) or Parquet file.

    Args:
        path: the file. ``.gz`` files are decompressed by polars.
        sep: field separator; guessed from the suffix or the first line when omitted.
            Multi-character separators (MovieLens 1M/10M ``::``) are supported.
        has_header: whether line 1 holds column names.
        columns: names for the columns (required in practice for headerless files).
        schema_overrides: polars dtypes for some columns (skips type inference for them).
        _typed_hint: internal (``read_interactions``): dtypes tried first for some columns;
            a file that does not parse with them is read as if no hint were given.

    Returns:
        ``(frame, line number of the frame's row 0)``; the line number is 0 for Parquet.

    Raises:
        DataError: missing/empty file, or a line with the wrong number of fields (named).
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: file not found; check the path")
    if p.is_dir():
        raise DataError(f"{p}: is a directory; give the interactions file inside it")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: file is empty; nothing to read")
    suffix = _base_suffix(p)
    if suffix in (".parquet", ".pq"):
        try:
            return pl.read_parquet(p), 0
        except Exception as exc:
            raise DataError(f"{p}: not a readable Parquet file ({exc})") from exc
    if sep is None:
        sep = _SUFFIX_SEP.get(suffix) or sniff_separator(p)
    first = 2 if has_header else 1
    if len(sep) > 1:
        return _read_multichar(p, sep, has_header, columns, encoding), first
    parse_errors = (pl.exceptions.ComputeError, pl.exceptions.ShapeError, pl.exceptions.NoDataError)
    try:
        df = None
        if _typed_hint:
            # Fast path: the expected types of the interaction columns are given, so polars
            # skips type inference for them. If the file does not fit them (string ids,
            # float or ISO-date timestamps...) the inferred read below gives exactly the
            # frame this function returned without the hint.
            try:
                df = pl.read_csv(p, separator=sep, has_header=has_header, new_columns=columns,
                                 schema_overrides={**(schema_overrides or {}), **_typed_hint},
                                 encoding=encoding, infer_schema_length=10000, quote_char='"')
            except parse_errors:
                df = None
        if df is None:
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
    except parse_errors as exc:
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
    if df.height == 0:
        raise DataError(f"{p}: has a header but no data rows; nothing to read")
    return df, first


def _read_multichar(p: Path, sep: str, has_header: bool, columns: list[str] | None, encoding: str) -> pl.DataFrame:
    """Read text whose separator has several characters (MovieLens ``::``).

    polars takes one-byte separators. When every character of ``sep`` is the same (``::``)
    the file is read natively with that one byte as separator; a well-formed line then has
    empty fields between the doubled separators, which are dropped. If any of those fields
    is not empty (a value contains the byte), the slower line-splitting path below is used,
    which names a malformed line.
    """
    if len(set(sep)) == 1 and encoding == "utf8":
        fast = _read_repeated_sep(p, sep, has_header, columns)
        if fast is not None:
            return fast
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
        header = columns or [f"column_{i + 1}" for i in range(int(width.max() or 0))]  # type: ignore[arg-type]
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


def _read_repeated_sep(p: Path, sep: str, has_header: bool, columns: list[str] | None) -> pl.DataFrame | None:
    """Fast path of :func:`_read_multichar`; ``None`` when the file does not fit it."""
    byte, k = sep[0], len(sep)
    header: list[str] | None = None
    if has_header:
        header = _first_line(p).rstrip("\r\n").split(sep)
    try:
        raw = pl.read_csv(p, separator=byte, has_header=False, skip_rows=1 if has_header else 0,
                          infer_schema_length=10000, quote_char=None)
    except Exception:  # ragged or odd lines: the slow path names the line
        return None
    if (raw.width - 1) % k:
        return None
    n_fields = (raw.width - 1) // k + 1
    gaps = [c for idx, c in enumerate(raw.columns) if idx % k]
    if any(raw.get_column(c).null_count() != raw.height for c in gaps):
        return None
    names = columns or header or [f"column_{j + 1}" for j in range(n_fields)]
    if len(names) != n_fields:
        return None
    out = raw.select([pl.col(raw.columns[j * k]).alias(name) for j, name in enumerate(names)])
    if out.null_count().sum_horizontal().item():
        # a short line or an empty field: the slow path tells which (ragged -> named line)
        return None
    return out


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


def _interaction_types(path: str | os.PathLike[str], sep: str | None, has_header: bool,
                       columns: list[str] | None, wanted: dict[str | None, Any]) -> dict[str, Any] | None:
    """polars types to try first for the interaction columns named in a file's header.

    Integer ids, float ratings and integer timestamps are by far the commonest layout;
    giving polars these types saves its inference pass. ``None`` (no hint) for headerless
    files, Parquet, multi-character separators and headers that are not plain names.
    """
    p = Path(path)
    if not has_header or columns is not None or not p.is_file() or p.stat().st_size == 0:
        return None
    suffix = _base_suffix(p)
    if suffix in (".parquet", ".pq") or (p.suffix.lower() in _COMPRESSED and p.suffix.lower() not in (".gz", ".gzip")):
        return None
    head = _first_line(p).rstrip("\r\n")
    if sep is None:
        sep = _SUFFIX_SEP.get(suffix) or sniff_separator(p)
    if len(sep) != 1 or '"' in head:
        return None
    names = head.split(sep)
    if len(set(names)) != len(names):
        return None
    hint = {col: dtype for col, dtype in wanted.items() if col is not None and col in names}
    return hint or None


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
    n_users: int | None = None,
    n_items: int | None = None,
) -> Interactions:
    """Read and validate an interaction file.

    Args:
        path: CSV/TSV/delimited text or Parquet file.
        user, item, rating, timestamp: column names (``columns`` names them for headerless files).
        sep: delimiter; guessed from the suffix or first line when omitted.
        duplicates: policy for repeated (user, item) pairs, see :meth:`Interactions.from_frame`.
        n_users, n_items: declare pre-encoded integer ids, see :meth:`Interactions.from_frame`.

    Raises:
        DataError: naming the file, line (header = line 1), column, value and the fix.

    Example:
        >>> data = read_interactions("ratings.csv", user="userId", item="movieId",
        ...                          rating="rating", timestamp="timestamp")  # doctest: +SKIP
    """
    hint = _interaction_types(path, sep, has_header, columns,
                              {user: pl.Int64, item: pl.Int64, rating: pl.Float64, timestamp: pl.Int64})
    df, offset = read_table(path, sep=sep, has_header=has_header, columns=columns, _typed_hint=hint)
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
        n_users=n_users,
        n_items=n_items,
    )
