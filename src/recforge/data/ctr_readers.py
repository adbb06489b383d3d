"""Readers that build :class:`~recforge.data.features.FeatureLog`s from CTR file formats.

* :func:`read_criteo` -- Criteo display-advertising TSV: ``label, I1..I13, C1..C26``, empty
  fields are missing values;
* :func:`read_libfm` -- libfm/libsvm one-hot files such as the NFM Frappe split
  (``label idx:1 idx:1 ...``, ``-1`` = negative); the k-th feature of a line belongs to field k;
* :func:`read_feature_table` -- CSV/TSV/Parquet with a field specification;
* :func:`read_movielens_ctr` -- MovieLens-100K as CTR: label ``rating >= 4``; fields user,
  item, user age (bucketed), gender, occupation, one field per genre flag, release year.

Every reader names the file, line and column of a bad value and says how to fix it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recforge.data.features import FeatureLog, Field, parse_spec
from recforge.errors import DataError

CRITEO_NUMERIC = [f"I{i}" for i in range(1, 14)]
CRITEO_CATEGORICAL = [f"C{i}" for i in range(1, 27)]
FRAPPE_FIELDS = ["user", "item", "daytime", "weekday", "isweekend", "homework", "cost",
                 "weather", "country", "city"]


def _must_exist(p: Path) -> None:
    if not p.exists():
        raise DataError(f"{p}: file not found")
    if p.is_dir():
        raise DataError(f"{p}: is a directory; give the data file inside it")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: file is empty")


def read_criteo(path: str | os.PathLike[str], *, min_count: int = 1, numeric: str = "log",
                n_rows: int | None = None) -> FeatureLog:
    """Read a Criteo TSV (label, 13 integer fields, 26 hashed categorical fields, no header).

    Args:
        path: the ``train.txt``-format file.
        min_count: categorical values rarer than this in training go to the OOV bucket.
        numeric: ``"log"`` (log(1+x), Criteo style) or ``"bucket"`` (quantiles).
        n_rows: read only the first rows.
    """
    p = Path(path)
    _must_exist(p)
    cols = ["label", *CRITEO_NUMERIC, *CRITEO_CATEGORICAL]
    try:
        df = pl.read_csv(p, separator="\t", has_header=False, new_columns=cols, infer_schema=False,
                         quote_char=None, n_rows=n_rows)
    except (pl.exceptions.ComputeError, pl.exceptions.ShapeError, pl.exceptions.SchemaError) as exc:
        raise DataError(_width_message(p, 40, "\t", exc)) from exc
    if df.width != 40:
        raise DataError(f"{p}: expected 40 tab-separated columns (label, I1..I13, C1..C26), found {df.width}")
    num = [Field(c, "numeric", transform=numeric) for c in CRITEO_NUMERIC]  # type: ignore[arg-type]
    cat = [Field(c, "categorical", min_count=min_count) for c in CRITEO_CATEGORICAL]
    return FeatureLog.from_frame(df, label="label", categorical=cat, numeric=num,
                                 name="criteo", source=str(p), line_offset=1)


def _width_message(p: Path, expected: int, sep: str, exc: Exception) -> str:
    with open(p, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            n = len(line.rstrip("\r\n").split(sep))
            if n != expected and line.strip():
                return (f"{p}, line {lineno}: expected {expected} fields separated by {sep!r}, found {n}; "
                        "fix or remove that line")
    return f"{p}: could not be parsed ({exc})"


def read_libfm(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
               fields: Sequence[str] | None = None, name: str = "libfm",
               group: str | None = None) -> FeatureLog:
    """Read libfm/libsvm one-hot lines (``label idx:val idx:val ...``) into a FeatureLog.

    The k-th ``idx`` of a line is the value of field k (the NFM/AFN convention for Frappe and
    MovieLens-tag: one active feature per field, in field order). Labels ``-1``/``0`` are
    negatives, ``1`` positives. Several files are concatenated; a ``file`` column (0, 1, ...)
    records which file a row came from.

    Args:
        paths: one file or several files with the same number of fields per line.
        fields: field names (default ``f0, f1, ...``; Frappe: :data:`FRAPPE_FIELDS`).
        group: field that defines groups for group AUC (e.g. ``"user"``).
    """
    plist = [Path(paths)] if isinstance(paths, (str, os.PathLike)) else [Path(p) for p in paths]
    frames = []
    width: int | None = None
    for k, p in enumerate(plist):
        _must_exist(p)
        raw = pl.read_csv(p, has_header=False, separator="\x1f", new_columns=["line"],
                          infer_schema=False, quote_char=None)
        parts = raw.get_column("line").str.strip_chars().str.split(" ")
        lens = parts.list.len()
        w = int(lens[0]) - 1
        if width is None:
            width = w
        bad = lens != width + 1
        if bad.any():
            row = int(bad.arg_true()[0])
            raise DataError(f"{p}, line {row + 1}: expected a label and {width} features, found "
                            f"{int(lens[row]) - 1}; every line needs one feature per field")
        cols: dict[str, Any] = {"label": parts.list.get(0)}
        for j in range(width):
            tok = parts.list.get(j + 1)
            idx = tok.str.split(":").list.get(0)
            ok = tok.str.contains(r"^\d+(:[0-9.eE+-]+)?$")
            if not ok.all():
                row = int((~ok).arg_true()[0])
                raise DataError(f"{p}, line {row + 1}, feature {j + 1}: {tok[row]!r} is not 'index:value'; "
                                "fix the token")
            cols[f"_{j}"] = idx
        label = pl.Series(cols["label"]).cast(pl.Float64, strict=False)
        lab_ok = label.is_in([-1.0, 0.0, 1.0]) & label.is_not_null()
        if not lab_ok.all():
            row = int((~lab_ok).arg_true()[0])
            raise DataError(f"{p}, line {row + 1}, column label: {cols['label'][row]!r} is not -1/0/1")
        cols["label"] = (label > 0).cast(pl.Int8)
        frames.append(pl.DataFrame(cols).with_columns(pl.lit(k, dtype=pl.Int8).alias("file")))
    assert width is not None
    names = list(fields) if fields is not None else [f"f{j}" for j in range(width)]
    if len(names) != width:
        raise DataError(f"{plist[0]}: lines have {width} features but {len(names)} field names were given")
    df = pl.concat(frames).rename({f"_{j}": n for j, n in enumerate(names)})
    log = FeatureLog.from_frame(df, label="label", categorical=names, name=name, group=group,
                                source=",".join(str(p) for p in plist))
    log.meta["file"] = df.get_column("file").to_numpy()
    log.meta["files"] = [str(p) for p in plist]
    return log


def read_frappe(root: str | os.PathLike[str], files: Sequence[str] | None = None) -> FeatureLog:
    """Frappe (NFM libfm split) from a directory; default: validation + test files."""
    r = Path(root)
    names = list(files) if files else ["frappe.validation.libfm", "frappe.test.libfm"]
    return read_libfm([r / f for f in names], fields=FRAPPE_FIELDS, name="frappe", group="user")


def read_feature_table(path: str | os.PathLike[str], spec: str | dict[str, Any], *,
                       sep: str | None = None, name: str | None = None) -> FeatureLog:
    """Read a CSV/TSV/Parquet file with a field specification (see :func:`parse_spec`).

    Example:
        >>> log = read_feature_table("clicks.csv", "label=click;cat=user,ad;num=price:log")  # doctest: +SKIP
    """
    from recforge.data.readers import read_table

    p = Path(path)
    kw = parse_spec(spec)
    df, offset = read_table(p, sep=sep)
    return FeatureLog.from_frame(df, name=name or p.stem, source=str(p), line_offset=offset or 1, **kw)


def read_movielens_ctr(root: str | os.PathLike[str], *, threshold: int = 4) -> FeatureLog:
    """MovieLens-100K as CTR: label ``rating >= threshold`` (default 4).

    Fields: ``user``, ``item``, ``age`` (bucketed: <18, 18-24, 25-34, 35-44, 45-49, 50-55,
    56+, the MovieLens-1M groups), ``gender``, ``occupation``, one binary field per genre flag
    of ``u.item`` (``g_Action`` ...), and ``year`` (release year from ``u.item``, which is
    Latin-1). ``timestamp`` is kept for temporal splits; ``user`` is the group for GAUC.
    """
    r = Path(root)
    for f in ("u.data", "u.user", "u.item", "u.genre"):
        _must_exist(r / f)
    ratings = pl.read_csv(r / "u.data", separator="\t", has_header=False,
                          new_columns=["user", "item", "rating", "timestamp"])
    users = pl.read_csv(r / "u.user", separator="|", has_header=False, quote_char=None,
                        new_columns=["user", "age", "gender", "occupation", "zip"],
                        schema_overrides={"zip": pl.String})
    genres = [g.split("|")[0] for g in (r / "u.genre").read_text(encoding="latin-1").splitlines() if g.strip()]
    item_cols = ["item", "title", "release", "video", "url", *[f"g_{g}" for g in genres]]
    items = pl.read_csv(r / "u.item", separator="|", has_header=False, quote_char=None,
                        new_columns=item_cols, encoding="latin-1", infer_schema=False)
    items = items.with_columns(
        pl.col("item").cast(pl.Int64),
        pl.col("release").str.slice(-4).alias("year"),
        *[pl.col(f"g_{g}").cast(pl.Int8) for g in genres],
    ).drop("title", "release", "video", "url")
    age_edges = np.array([18, 25, 35, 45, 50, 56])
    labels = ["<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+"]
    users = users.with_columns(
        pl.Series("age", [labels[k] for k in np.searchsorted(age_edges, users.get_column("age").to_numpy(),
                                                             side="right")]),
    ).drop("zip")
    df = ratings.join(users, on="user", how="left").join(items, on="item", how="left")
    if df.get_column("gender").null_count() or df.get_column("year").null_count() > 10:
        raise DataError(f"{r}: ratings refer to users/items missing from u.user/u.item")
    df = df.with_columns((pl.col("rating") >= threshold).cast(pl.Int8).alias("label"))
    cat = ["user", "item", "age", "gender", "occupation", *[f"g_{g}" for g in genres], "year"]
    return FeatureLog.from_frame(df, label="label", categorical=cat, group="user", time="timestamp",
                                 name="ml-100k-ctr", source=str(r / "u.data"))


# ---------------------------------------------------------------------- zoo hooks
def zoo_frappe(root: Path, *, files: list[str] | None = None, **_: Any) -> FeatureLog:
    """Zoo reader of ``frappe``: the NFM libfm split files in ``root``.

    Without ``files``, every ``frappe.*.libfm`` present is read (the shared copy has the
    validation and test files; the 202k-row train file is often missing).
    """
    root = Path(root)
    if files:
        return read_frappe(root, files)
    found = [n for n in ("frappe.train.libfm", "frappe.validation.libfm", "frappe.test.libfm")
             if (root / n).exists()]
    if not found:
        raise DataError(f"frappe: no frappe.*.libfm files in {root}; give --path the folder of the NFM "
                        "libfm split (He & Chua 2017); the raw Mobile_Frappe log has no negatives")
    return read_frappe(root, found)


def zoo_criteo(root: Path, *, files: list[str] | None = None, **options: Any) -> FeatureLog:
    """Zoo reader of ``criteo``: ``train.txt`` (or the one file named in ``files``) in ``root``."""
    names = files or ["train.txt"]
    if len(names) != 1:
        raise DataError(f"criteo: give one file, got {names}")
    return read_criteo(Path(root) / names[0], **options)


def zoo_movielens_ctr(root: Path, *, files: list[str] | None = None, **options: Any) -> FeatureLog:
    """Zoo reader of ``ml-100k-ctr``: the MovieLens-100K folder read as a CTR log."""
    if files:
        raise DataError("ml-100k-ctr has no official split files; use a split such as random:0.8,0.1,0.1")
    return read_movielens_ctr(Path(root), **options)
