"""Feature logs for CTR ranking: a binary label plus categorical and numeric fields.

A :class:`FeatureLog` holds raw field values (a polars frame) and a field specification. A
:class:`FeatureVocab` is *fitted on the training log only* and turns any log (train, valid,
test) into compact arrays (:class:`EncodedLog`):

* categorical fields: per-field vocabulary of values seen at least ``min_count`` times in
  training, sorted by value; code 0 is the out-of-vocabulary bucket (unseen or rare values);
  missing values are a value of their own (``"<missing>"``);
* numeric fields, ``transform="log"``: ``log(1 + x)`` for ``x >= 0`` (Criteo style; negative
  values map to ``-log(1 + |x|)``, missing to 0) kept as a float that scales the field's one
  embedding vector;
* numeric fields, ``transform="bucket"``: quantile buckets with boundaries from training;
  code 0 = missing, then one code per bucket -- the field becomes categorical.

The encoded form is the classic "feature index + feature value" input of FM/DeepFM: ``index``
(int32, rows x fields) points into one fused embedding table (per-field vocabulary offsets)
and ``value`` (float32) is 1 for categorical fields and the transformed number for numeric
ones.

Example:
    >>> import polars as pl
    >>> from recforge.data.features import FeatureLog
    >>> df = pl.DataFrame({"y": [1, 0, 1], "user": ["a", "b", "a"], "price": [3.0, 0.0, 10.0]})
    >>> log = FeatureLog.from_frame(df, label="y", categorical=["user"], numeric=["price"])
    >>> vocab = log.fit_vocab()
    >>> enc = vocab.transform(log)
    >>> enc.index.shape
    (3, 2)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from recforge.errors import ConfigError, DataError

MISSING = "<missing>"
Kind = Literal["categorical", "numeric"]
Transform = Literal["log", "bucket"]


@dataclass(frozen=True)
class Field:
    """One input field of a feature log.

    Attributes:
        name: column name.
        kind: ``"categorical"`` or ``"numeric"``.
        min_count: categorical values seen fewer times in training go to the OOV bucket.
        transform: numeric fields only: ``"log"`` (float value) or ``"bucket"`` (quantiles).
        n_buckets: number of quantile buckets for ``transform="bucket"``.
    """

    name: str
    kind: Kind = "categorical"
    min_count: int = 1
    transform: Transform = "log"
    n_buckets: int = 16

    def __post_init__(self) -> None:
        if self.kind not in ("categorical", "numeric"):
            raise ConfigError(f"field {self.name!r}: kind must be 'categorical' or 'numeric', got {self.kind!r}")
        if self.transform not in ("log", "bucket"):
            raise ConfigError(f"field {self.name!r}: transform must be 'log' or 'bucket', got {self.transform!r}")
        if self.min_count < 1:
            raise ConfigError(f"field {self.name!r}: min_count must be >= 1, got {self.min_count}")
        if self.n_buckets < 2:
            raise ConfigError(f"field {self.name!r}: n_buckets must be >= 2, got {self.n_buckets}")

    @property
    def is_dense(self) -> bool:
        """True for a numeric field kept as a float (one embedding row scaled by the value)."""
        return self.kind == "numeric" and self.transform == "log"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "min_count": self.min_count,
                "transform": self.transform, "n_buckets": self.n_buckets}


def parse_spec(spec: str | dict[str, Any]) -> dict[str, Any]:
    """Parse a field specification for readers and the CLI.

    Accepts a mapping or a compact string such as
    ``"label=click;cat=user,item,city;num=price:log,age:bucket;min_count=2;group=user;time=ts"``.
    Returns keyword arguments for :meth:`FeatureLog.from_frame`.
    """
    if isinstance(spec, dict):
        return dict(spec)
    out: dict[str, Any] = {"categorical": [], "numeric": []}
    for part in [p.strip() for p in spec.split(";") if p.strip()]:
        if "=" not in part:
            raise ConfigError(f"field spec part {part!r} is not KEY=VALUE; e.g. 'label=click;cat=a,b;num=x:log'")
        key, value = (s.strip() for s in part.split("=", 1))
        items = [v.strip() for v in value.split(",") if v.strip()]
        if key == "label":
            out["label"] = value
        elif key in ("cat", "categorical"):
            out["categorical"].extend(items)
        elif key in ("num", "numeric"):
            for it in items:
                name, _, tr = it.partition(":")
                out["numeric"].append(Field(name, "numeric", transform=(tr or "log")))  # type: ignore[arg-type]
        elif key == "min_count":
            out["min_count"] = int(value)
        elif key == "group":
            out["group"] = value
        elif key == "time":
            out["time"] = value
        else:
            raise ConfigError(f"unknown field spec key {key!r}; valid keys are label, cat, num, min_count, group, time")
    if "label" not in out:
        raise ConfigError(f"field spec {spec!r} names no label column (add 'label=COLUMN')")
    return out


@dataclass
class EncodedLog:
    """Compact arrays of an encoded feature log (input of the CTR models).

    Attributes:
        index: int32 (rows x fields), row index into the fused embedding table.
        value: float32 (rows x fields), 1 for categorical fields, the value for dense ones.
        label: float32 (rows,), 0/1.
        group: int64 (rows,) group ids for group AUC (e.g. the user; from raw values, so
            users unseen in training keep their own group), or None.
    """

    index: np.ndarray
    value: np.ndarray
    label: np.ndarray
    group: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.label)

    def take(self, rows: np.ndarray) -> EncodedLog:
        return EncodedLog(self.index[rows], self.value[rows], self.label[rows],
                          None if self.group is None else self.group[rows])


@dataclass
class FeatureLog:
    """A CTR log: label + categorical/numeric fields (raw values, polars frame).

    Build with :meth:`from_frame` (polars/pandas) or the readers in
    :mod:`recforge.data.ctr_readers` (Criteo, libfm/Frappe, CSV/Parquet, MovieLens-100K).

    Attributes:
        frame: the raw columns: the label (0/1 int8) then the fields; categorical columns are
            strings with nulls replaced by ``"<missing>"``, numeric ones Float64 with nulls.
        fields: the field specification, in column order.
        label: label column name.
        group: optional field whose values define groups for group AUC.
        time: optional column (not a model input) for temporal splits.
    """

    frame: pl.DataFrame
    fields: tuple[Field, ...]
    label: str = "label"
    group: str | None = None
    time: str | None = None
    name: str = "featurelog"
    source: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frame(
        cls,
        df: Any,
        *,
        label: str,
        categorical: Sequence[str | Field] = (),
        numeric: Sequence[str | Field] = (),
        min_count: int = 1,
        group: str | None = None,
        time: str | None = None,
        name: str = "featurelog",
        source: str | None = None,
        line_offset: int = 1,
    ) -> FeatureLog:
        """Validate and wrap a polars or pandas frame.

        Args:
            df: polars or pandas DataFrame.
            label: 0/1 label column (also accepts -1/1 and booleans; -1 becomes 0).
            categorical: categorical field names (or :class:`Field` objects).
            numeric: numeric field names (log transform) or :class:`Field` objects.
            min_count: default vocabulary min-count for categorical fields given by name.
            group: field used for group AUC (e.g. ``"user"``).
            time: column kept for temporal splits (not a model input).
            source: file name used in error messages.
            line_offset: file line of the frame's row 0 (for error messages).

        Raises:
            DataError: a missing column, a bad label, or a non-numeric value in a numeric
                field (the message names file, line, column, value and the fix).
        """
        if not isinstance(df, pl.DataFrame):
            try:
                df = pl.from_pandas(df)
            except Exception as exc:
                raise DataError(f"expected a polars or pandas DataFrame, got {type(df).__name__}") from exc
        where = source or name
        fields: list[Field] = []
        for f in categorical:
            fields.append(f if isinstance(f, Field) else Field(f, "categorical", min_count=min_count))
        for f in numeric:
            fields.append(f if isinstance(f, Field) else Field(f, "numeric"))
        if not fields:
            raise ConfigError("a feature log needs at least one categorical or numeric field")
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise ConfigError(f"field names must be unique, got {names}")
        needed = [label, *names, *([time] if time else [])]
        missing = [c for c in needed if c not in df.columns]
        if missing:
            raise DataError(f"{where}: column(s) {missing} not found; available columns: {df.columns}")
        if label in names:
            raise ConfigError(f"the label column {label!r} cannot also be a field")
        if group is not None and group not in names:
            raise ConfigError(f"group {group!r} must be one of the fields {names}")
        if df.height == 0:
            raise DataError(f"{where}: the feature log is empty")
        cols: dict[str, pl.Series] = {label: _check_label(df.get_column(label), where, line_offset)}
        for f in fields:
            col = df.get_column(f.name)
            if f.kind == "categorical":
                cols[f.name] = col.cast(pl.String).fill_null(MISSING)
            else:
                cols[f.name] = _check_numeric(col, f.name, where, line_offset)
        if time is not None:
            cols[time] = df.get_column(time)
        return cls(pl.DataFrame(cols), tuple(fields), label=label, group=group, time=time,
                   name=name, source=source)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return self.frame.height

    @property
    def n_rows(self) -> int:
        return self.frame.height

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def labels(self) -> np.ndarray:
        """0/1 labels as float32."""
        return self.frame.get_column(self.label).to_numpy().astype(np.float32)

    def __repr__(self) -> str:
        pos = float(self.labels.mean()) if self.n_rows else 0.0
        return (f"FeatureLog({self.name!r}: {self.n_rows:,} rows, {len(self.fields)} fields, "
                f"{pos:.1%} positive)")

    def spec(self) -> dict[str, Any]:
        """The field specification as JSON-able data."""
        return {"label": self.label, "group": self.group, "time": self.time,
                "fields": [f.to_dict() for f in self.fields]}

    def subset(self, rows: np.ndarray) -> FeatureLog:
        """Rows ``rows`` (indices or boolean mask) as a new log with the same specification."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        sub = self.frame[rows.astype(np.int64)] if len(rows) else self.frame.clear()
        return FeatureLog(sub, self.fields, label=self.label, group=self.group, time=self.time,
                          name=self.name, source=self.source, meta=dict(self.meta))

    def concat(self, other: FeatureLog) -> FeatureLog:
        if other.fields != self.fields or other.label != self.label:
            raise DataError("cannot concatenate feature logs with different field specifications")
        return FeatureLog(pl.concat([self.frame, other.frame], how="vertical_relaxed"), self.fields,
                          label=self.label, group=self.group, time=self.time, name=self.name,
                          source=self.source, meta=dict(self.meta))

    # ------------------------------------------------------------------ splits
    def random_split(self, fractions: Sequence[float] = (0.8, 0.1, 0.1), *, seed: int = 0
                     ) -> tuple[FeatureLog, ...]:
        """Shuffle rows with ``seed`` and cut them by ``fractions`` (summing to 1)."""
        fr = _check_fractions(fractions)
        perm = np.random.default_rng(seed).permutation(self.n_rows)
        cuts = np.round(np.cumsum(fr)[:-1] * self.n_rows).astype(int)
        return tuple(self.subset(np.sort(part)) for part in np.split(perm, cuts))

    def temporal_split(self, fractions: Sequence[float] = (0.8, 0.1, 0.1)) -> tuple[FeatureLog, ...]:
        """Order rows by the time column and cut by ``fractions``: train never sees the future."""
        if self.time is None:
            raise ConfigError(f"{self.name}: a temporal split needs a time column (time=...)")
        fr = _check_fractions(fractions)
        order = np.argsort(self.frame.get_column(self.time).to_numpy(), kind="stable")
        cuts = np.round(np.cumsum(fr)[:-1] * self.n_rows).astype(int)
        return tuple(self.subset(part) for part in np.split(order, cuts))

    # ------------------------------------------------------------------ encoding
    def fit_vocab(self) -> FeatureVocab:
        """Fit vocabularies / bucket boundaries on this (training) log."""
        return FeatureVocab.fit(self)

    # ------------------------------------------------------------------ files
    def write_parquet(self, path: str | Path) -> None:
        """Write the raw log as Parquet with the field specification in a sidecar JSON."""
        p = Path(path)
        self.frame.write_parquet(p)
        p.with_suffix(".spec.json").write_text(json.dumps(self.spec(), indent=2))


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or len(fr) < 2 or (fr <= 0).any() or abs(fr.sum() - 1.0) > 1e-6:
        raise ConfigError(f"split fractions must be >= 2 positive numbers summing to 1, got {list(fractions)}")
    return fr


def _check_label(col: pl.Series, where: str, line_offset: int) -> pl.Series:
    if col.dtype == pl.Boolean:
        col = col.cast(pl.Int8)
    if col.null_count():
        row = int(col.is_null().arg_true()[0])
        raise DataError(f"{where}, line {row + line_offset}, column {col.name!r}: the label is missing; "
                        "every row needs a 0/1 label")
    num = col.cast(pl.Float64, strict=False)
    ok = num.is_in([0.0, 1.0, -1.0]) & num.is_not_null()
    if not ok.all():
        row = int((~ok).arg_true()[0])
        raise DataError(f"{where}, line {row + line_offset}, column {col.name!r}: label value "
                        f"{col[row]!r} is not 0/1 (or -1/1); binarise the label first")
    return (num > 0).cast(pl.Int8).alias(col.name)


def _check_numeric(col: pl.Series, name: str, where: str, line_offset: int) -> pl.Series:
    if col.dtype == pl.String:
        num = col.str.strip_chars().replace("", None).cast(pl.Float64, strict=False)
        bad = num.is_null() & col.is_not_null() & (col.str.strip_chars() != "")
    elif col.dtype.is_numeric():
        num = col.cast(pl.Float64)
        bad = pl.Series([False] * len(col))
    else:
        raise DataError(f"{where}, column {name!r}: numeric field has type {col.dtype}; give numbers "
                        "or declare it categorical")
    if bad.any():
        row = int(bad.arg_true()[0])
        raise DataError(f"{where}, line {row + line_offset}, column {name!r}: value {col[row]!r} is "
                        "not a number; fix the value or declare the field categorical")
    finite = num.is_nan().fill_null(False) | num.is_infinite().fill_null(False)
    if finite.any():
        row = int(finite.arg_true()[0])
        raise DataError(f"{where}, line {row + line_offset}, column {name!r}: value {col[row]!r} is "
                        "not finite; replace NaN/inf by an empty (missing) value")
    return num.alias(name)


def log_transform(x: np.ndarray) -> np.ndarray:
    """``sign(x) * log(1 + |x|)``; NaN (missing) becomes 0."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0)
    return (np.sign(x) * np.log1p(np.abs(x))).astype(np.float32)


@dataclass
class FeatureVocab:
    """Per-field vocabularies and bucket boundaries fitted on a training log.

    Attributes:
        fields: the field specification.
        vocabs: per categorical field, the in-vocabulary values (code = position + 1).
        boundaries: per bucketed numeric field, the quantile boundaries.
        sizes: per field, the number of embedding rows (categorical: len(vocab) + 1 for OOV;
            bucketed: n boundaries + 2; dense numeric: 1).
        offsets: start row of each field in the fused embedding table.
    """

    fields: tuple[Field, ...]
    label: str
    group: str | None
    vocabs: dict[str, np.ndarray]
    boundaries: dict[str, np.ndarray]

    @classmethod
    def fit(cls, log: FeatureLog) -> FeatureVocab:
        if log.n_rows == 0:
            raise DataError(f"{log.name}: cannot fit vocabularies on an empty log")
        vocabs: dict[str, np.ndarray] = {}
        bounds: dict[str, np.ndarray] = {}
        for f in log.fields:
            col = log.frame.get_column(f.name)
            if f.kind == "categorical":
                vc = col.value_counts()
                keep = vc.filter(pl.col("count") >= f.min_count).get_column(f.name).sort()
                vocabs[f.name] = np.asarray(keep.to_list(), dtype=object)
            elif f.transform == "bucket":
                x = col.drop_nulls().to_numpy().astype(np.float64)
                if len(x) == 0:
                    b = np.zeros(0)
                else:
                    qs = np.quantile(x, np.linspace(0, 1, f.n_buckets + 1)[1:-1])
                    b = np.unique(qs)
                bounds[f.name] = b.astype(np.float64)
        return cls(log.fields, log.label, log.group, vocabs, bounds)

    # ------------------------------------------------------------------ sizes
    @property
    def sizes(self) -> list[int]:
        out = []
        for f in self.fields:
            if f.kind == "categorical":
                out.append(len(self.vocabs[f.name]) + 1)
            elif f.transform == "bucket":
                out.append(len(self.boundaries[f.name]) + 2)
            else:
                out.append(1)
        return out

    @property
    def offsets(self) -> np.ndarray:
        s = np.asarray(self.sizes, dtype=np.int64)
        return np.r_[0, np.cumsum(s)[:-1]].astype(np.int64)

    @property
    def n_features(self) -> int:
        """Rows of the fused embedding table."""
        return int(sum(self.sizes))

    @property
    def dense_mask(self) -> np.ndarray:
        """Boolean per field: True for dense numeric fields (value-scaled embeddings)."""
        return np.array([f.is_dense for f in self.fields], dtype=bool)

    # ------------------------------------------------------------------ transform
    def transform(self, log: FeatureLog) -> EncodedLog:
        """Encode ``log`` with these (training) vocabularies; unseen values go to code 0."""
        if tuple(f.name for f in log.fields) != tuple(f.name for f in self.fields):
            raise DataError(f"{log.name}: fields {log.field_names} differ from the fitted ones "
                            f"{[f.name for f in self.fields]}")
        n = log.n_rows
        index = np.empty((n, len(self.fields)), dtype=np.int32)
        value = np.ones((n, len(self.fields)), dtype=np.float32)
        offsets = self.offsets
        for j, f in enumerate(self.fields):
            col = log.frame.get_column(f.name)
            if f.kind == "categorical":
                voc = self.vocabs[f.name]
                codes = col.replace_strict(pl.Series(voc.tolist(), dtype=pl.String),
                                           pl.Series(np.arange(1, len(voc) + 1, dtype=np.int32)),
                                           default=0, return_dtype=pl.Int32).to_numpy()
                index[:, j] = codes + offsets[j]
            elif f.transform == "bucket":
                x = col.to_numpy().astype(np.float64)
                codes = np.searchsorted(self.boundaries[f.name], x, side="right") + 1
                codes[np.isnan(x)] = 0
                index[:, j] = codes + offsets[j]
            else:
                index[:, j] = offsets[j]
                value[:, j] = log_transform(col.to_numpy())
        group = None
        if self.group is not None:
            # from the raw values, not the codes: unseen users must not share the OOV group
            raw = log.frame.get_column(self.group).cast(pl.String).to_numpy()
            group = np.unique(raw, return_inverse=True)[1].astype(np.int64)
        return EncodedLog(index, value, log.labels, group)

    # ------------------------------------------------------------------ persistence
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Numeric arrays for a safetensors artifact (strings as UTF-8 bytes + offsets)."""
        out: dict[str, np.ndarray] = {}
        spec = {"label": self.label, "group": self.group, "fields": [f.to_dict() for f in self.fields]}
        out["vocab.spec"] = np.frombuffer(json.dumps(spec).encode(), dtype=np.uint8).copy()
        for name, voc in self.vocabs.items():
            enc = [str(v).encode("utf-8") for v in voc.tolist()]
            out[f"vocab.cat.{name}.bytes"] = np.frombuffer(b"".join(enc), dtype=np.uint8).copy()
            out[f"vocab.cat.{name}.ends"] = np.cumsum([len(e) for e in enc], dtype=np.int64)
        for name, b in self.boundaries.items():
            out[f"vocab.num.{name}"] = b
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> FeatureVocab:
        spec = json.loads(bytes(arrays["vocab.spec"].astype(np.uint8)).decode())
        fields = tuple(Field(**f) for f in spec["fields"])
        vocabs: dict[str, np.ndarray] = {}
        bounds: dict[str, np.ndarray] = {}
        for f in fields:
            if f.kind == "categorical":
                raw = bytes(arrays[f"vocab.cat.{f.name}.bytes"].astype(np.uint8))
                ends = arrays[f"vocab.cat.{f.name}.ends"].astype(np.int64)
                starts = np.r_[0, ends[:-1]] if len(ends) else np.zeros(0, np.int64)
                vocabs[f.name] = np.asarray([raw[s:e].decode("utf-8") for s, e in zip(starts, ends, strict=True)],
                                            dtype=object)
            elif f.transform == "bucket":
                bounds[f.name] = arrays[f"vocab.num.{f.name}"].astype(np.float64)
        return cls(fields, spec["label"], spec["group"], vocabs, bounds)
