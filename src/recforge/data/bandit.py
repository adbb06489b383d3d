"""Logged bandit feedback: what was shown, where, with which probability, and what happened.

A :class:`BanditLog` holds one row per impression (a "round" in the off-policy-evaluation
literature): the context features of the round, the action (item) shown, the position (slot)
it was shown in, the reward (e.g. click) and the logging policy's propensity (``pscore``) of
showing that action in that position. Optional: action (item) features and raw user ids (so
that a fitted recforge recommender can act as the evaluation policy).

It is built from CSV/Parquet files or pandas/polars frames with a column mapping and is
validated on the way in: every broken rule raises :class:`~recforge.errors.DataError` naming
the file and line (or row), the column, the value and the fix.

Example:
    >>> import polars as pl
    >>> from recforge.data import BanditLog
    >>> df = pl.DataFrame({"item": [0, 1, 1], "slot": [1, 2, 1], "click": [0, 1, 0],
    ...                    "p": [0.5, 0.5, 0.5], "age": [0.1, 0.3, 0.2]})
    >>> log = BanditLog.from_frame(df, action="item", position="slot", reward="click",
    ...                            pscore="p", context=["age"])
    >>> (log.n_rounds, log.n_actions, log.len_list)
    (3, 2, 2)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from recforge.data._validate import _first_true, _numeric, _Where, to_polars
from recforge.errors import DataError


@dataclass
class BanditLog:
    """Validated logged bandit feedback (arrays aligned by round).

    Attributes:
        action: action codes in ``[0, n_actions)`` (int64, one per round).
        position: position codes in ``[0, len_list)`` (int64), dense ranks of the raw positions.
        reward: observed rewards (float64).
        pscore: the logging policy's probability of the logged action at the logged position.
        context: context features (float64, ``n_rounds x dim_context``; may have 0 columns).
        action_ids: raw action ids; ``action_ids[code]`` is the id of action ``code``.
        position_ids: raw position values in code order.
        action_context: optional action features (``n_actions x k``), rows in code order.
        user: optional raw user ids (one per round) for recommender-based policies.
        context_names: names of the context columns.
        name: dataset name; source: file it came from.
    """

    action: np.ndarray
    position: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    context: np.ndarray
    action_ids: np.ndarray
    position_ids: np.ndarray
    action_context: np.ndarray | None = None
    user: np.ndarray | None = None
    context_names: list[str] = field(default_factory=list)
    name: str | None = None
    source: str | None = None

    # ------------------------------------------------------------------ properties
    @property
    def n_rounds(self) -> int:
        return int(self.action.shape[0])

    @property
    def n_actions(self) -> int:
        return int(self.action_ids.shape[0])

    @property
    def len_list(self) -> int:
        return int(self.position_ids.shape[0])

    @property
    def dim_context(self) -> int:
        return int(self.context.shape[1])

    def on_policy_value(self) -> float:
        """Mean observed reward: the logging policy's own (on-policy) value estimate."""
        return float(self.reward.mean())

    def summary(self) -> dict[str, Any]:
        """Counts and rates for ``recforge data info``-style displays."""
        return {
            "name": self.name,
            "n_rounds": self.n_rounds,
            "n_actions": self.n_actions,
            "len_list": self.len_list,
            "dim_context": self.dim_context,
            "mean_reward": self.on_policy_value(),
            "pscore_min": float(self.pscore.min()),
            "pscore_max": float(self.pscore.max()),
            "has_action_context": self.action_context is not None,
            "has_users": self.user is not None,
        }

    def subset(self, rows: np.ndarray) -> BanditLog:
        """Rows selected by a boolean mask or index array (vocabularies kept)."""
        rows = np.asarray(rows)
        return BanditLog(
            action=self.action[rows], position=self.position[rows], reward=self.reward[rows],
            pscore=self.pscore[rows], context=self.context[rows], action_ids=self.action_ids,
            position_ids=self.position_ids, action_context=self.action_context,
            user=None if self.user is None else self.user[rows],
            context_names=list(self.context_names), name=self.name, source=self.source,
        )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        *,
        action: Any,
        reward: Any,
        pscore: Any,
        position: Any = None,
        context: Any = None,
        n_actions: int | None = None,
        len_list: int | None = None,
        action_context: Any = None,
        user: Any = None,
        binary_reward: bool = False,
        name: str | None = None,
    ) -> BanditLog:
        """Build a log from arrays of codes (actions in ``[0, n_actions)``, positions in
        ``[0, len_list)``); validated like :meth:`from_frame`."""
        action = np.asarray(action)
        n = action.shape[0]
        cols: dict[str, Any] = {"action": action, "reward": np.asarray(reward),
                                "pscore": np.asarray(pscore)}
        cols["position"] = np.zeros(n, np.int64) if position is None else np.asarray(position)
        ctx = np.zeros((n, 0)) if context is None else np.asarray(context, dtype=np.float64)
        if ctx.ndim != 2 or ctx.shape[0] != n:
            raise DataError(f"context must be a 2-D array with {n} rows, got shape {ctx.shape}")
        names = [f"x{j}" for j in range(ctx.shape[1])]
        for j, nm in enumerate(names):
            cols[nm] = ctx[:, j]
        if user is not None:
            cols["user"] = np.asarray(user)
        try:
            frame = pl.DataFrame(cols)
        except Exception as exc:  # polars raises several types for ragged input
            raise DataError(f"arrays of different lengths or types: {exc}") from exc
        log = cls.from_frame(frame, action="action", reward="reward", pscore="pscore",
                             position="position", context=names, n_actions=n_actions,
                             user="user" if user is not None else None,
                             binary_reward=binary_reward, name=name)
        if len_list is not None:
            if log.position.size and int(cols["position"].max()) >= len_list:
                raise DataError(f"position codes must lie in [0, {len_list}); got "
                                f"{int(cols['position'].max())}")
            log.position = np.asarray(cols["position"], dtype=np.int64)
            log.position_ids = np.arange(len_list)
        if action_context is not None:
            ac = np.asarray(action_context, dtype=np.float64)
            if ac.ndim != 2 or ac.shape[0] != log.n_actions:
                raise DataError(f"action_context must have one row per action ({log.n_actions}), "
                                f"got shape {ac.shape}")
            log.action_context = ac
        return log

    @classmethod
    def from_frame(
        cls,
        df: Any,
        *,
        action: str,
        reward: str,
        pscore: str,
        position: str | None = None,
        context: list[str] | None = None,
        categorical_context: list[str] | None = None,
        user: str | None = None,
        sort_by: str | None = None,
        action_context: Any = None,
        n_actions: int | None = None,
        binary_reward: bool = True,
        name: str | None = None,
        source: str | None = None,
        line_offset: int | None = None,
    ) -> BanditLog:
        """Validate a pandas/polars frame and build a :class:`BanditLog`.

        Args:
            df: the log, one row per impression.
            action: column of the shown action (item) id.
            reward: column of the reward; must be 0/1 when ``binary_reward`` is true.
            pscore: column of the logging policy's propensity, in ``(0, 1]``.
            position: column of the slot the action was shown in (omit for one slot).
                Raw values are mapped to dense ranks ``0..len_list-1`` (so 1, 2, 3 -> 0, 1, 2).
            context: numeric context columns (used as they are).
            categorical_context: categorical context columns, one-hot encoded with the first
                (smallest) category dropped, like ``pandas.get_dummies(drop_first=True)``.
            user: optional column of raw user ids (needed for recommender policies).
            sort_by: optional column to sort rows by first (stable), e.g. a timestamp.
            action_context: optional frame of action features; first column is the action id,
                string columns are label-encoded (sorted categories) and placed first, numeric
                columns follow in their order.
            n_actions: number of actions when the ids are the integers ``0..n_actions-1``
                (keeps actions never logged); otherwise the sorted distinct ids are the actions.
            binary_reward: require rewards in {0, 1}.
            name, source, line_offset: for messages (``line_offset`` = file line of row 0).
        """
        where: Any = _Where(source, line_offset)
        frame = to_polars(df, what="bandit log")
        wanted = {"action": action, "reward": reward, "pscore": pscore, "position": position,
                  "user": user, "sort_by": sort_by}
        for j, c in enumerate(context or []):
            wanted[f"context[{j}]"] = c
        for j, c in enumerate(categorical_context or []):
            wanted[f"categorical_context[{j}]"] = c
        src = source or "the bandit log"
        for role, col in wanted.items():
            if col is not None and col not in frame.columns:
                raise DataError(f"{src}: missing {role} column {col!r}; available columns are "
                                f"{frame.columns}. Pass the right column name or rename it")
        if frame.height == 0:
            raise DataError(f"{src}: no rows (empty log); nothing to evaluate")
        if sort_by is not None:
            frame = frame.with_row_index("__row").sort(sort_by, maintain_order=True)
            order = frame.get_column("__row").to_numpy()
            where = _Sorted(where, order)

        # actions
        a = frame.get_column(action)
        if a.null_count():
            row = _first_true(a.is_null())
            raise DataError(f"{where(row, action)}: missing action id; every row needs one "
                            "(drop or fill incomplete rows)")
        if n_actions is not None:
            if not a.dtype.is_integer():
                raise DataError(f"{src}: column {action!r} has type {a.dtype}; with n_actions= "
                                "the action ids must be the integers 0..n_actions-1")
            bad = (a < 0) | (a >= n_actions)
            if bad.any():
                row = _first_true(bad)
                raise DataError(f"{where(row, action)}: action id {a[row]} is outside "
                                f"[0, {n_actions}); fix the id or pass the right n_actions")
            action_codes = a.cast(pl.Int64).to_numpy()
            action_ids = np.arange(n_actions)
        else:
            action_ids, action_codes = _encode(a)

        # positions
        if position is not None:
            p = frame.get_column(position)
            if p.null_count():
                row = _first_true(p.is_null())
                raise DataError(f"{where(row, position)}: missing position; fill it or drop "
                                "the row")
            position_ids, position_codes = _encode(p)
        else:
            position_ids, position_codes = np.arange(1), np.zeros(frame.height, np.int64)

        r = _numeric(frame, reward, "reward", where).to_numpy()
        if binary_reward:
            bad_r = (r != 0) & (r != 1)
            if bad_r.any():
                row = int(np.flatnonzero(bad_r)[0])
                raise DataError(f"{where(row, reward)}: reward {float(r[row])} is not 0 or 1; "
                                "binary rewards (clicks) are required here (pass "
                                "binary_reward=False for real-valued rewards)")
        ps = _numeric(frame, pscore, "pscore", where).to_numpy()
        bad_p = (ps <= 0) | (ps > 1)
        if bad_p.any():
            row = int(np.flatnonzero(bad_p)[0])
            raise DataError(f"{where(row, pscore)}: propensity {float(ps[row])} is outside (0, 1]; "
                            "pscore must be the logging policy's probability of the logged "
                            "action (a zero propensity cannot be importance-weighted; drop "
                            "such rows or fix the logger)")

        ctx_cols: list[np.ndarray] = []
        names: list[str] = []
        for c in context or []:
            ctx_cols.append(_numeric(frame, c, "context feature", where).to_numpy())
            names.append(c)
        for c in categorical_context or []:
            s = frame.get_column(c)
            if s.null_count():
                row = _first_true(s.is_null())
                raise DataError(f"{where(row, c)}: missing categorical context value; fill it "
                                "(e.g. with 'unknown') or drop the row")
            s = s.cast(pl.Utf8)
            cats = np.sort(s.unique().to_numpy().astype(str))
            vals = s.to_numpy().astype(str)
            for cat in cats[1:]:
                ctx_cols.append((vals == cat).astype(np.float64))
                names.append(f"{c}_{cat}")
        n = frame.height
        ctx = np.column_stack(ctx_cols) if ctx_cols else np.zeros((n, 0))
        users = None
        if user is not None:
            u = frame.get_column(user)
            if u.null_count():
                row = _first_true(u.is_null())
                raise DataError(f"{where(row, user)}: missing user id; fill it or drop the row")
            users = u.to_numpy()
        ac = None
        if action_context is not None:
            ac = _action_features(action_context, action_ids)
        return cls(action=np.asarray(action_codes, np.int64),
                   position=np.asarray(position_codes, np.int64),
                   reward=np.asarray(r, np.float64), pscore=np.asarray(ps, np.float64),
                   context=np.ascontiguousarray(ctx, dtype=np.float64), action_ids=action_ids,
                   position_ids=position_ids, action_context=ac, user=users,
                   context_names=names, name=name, source=source)


class _Sorted:
    """Maps row numbers of a sorted frame back to the original rows for messages."""

    def __init__(self, where: _Where, order: np.ndarray) -> None:
        self.where, self.order = where, order

    def __call__(self, row: int, column: str | None = None) -> str:
        return self.where(int(self.order[row]), column)


def _encode(s: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Sorted vocabulary and int64 codes (dense rank - 1)."""
    if s.dtype.is_float():
        if (s != s.floor()).any():
            raise DataError(f"column {s.name!r} holds non-integer ids such as "
                            f"{s.filter(s != s.floor())[0]!r}; ids must be integers or strings")
        s = s.cast(pl.Int64)
    elif not s.dtype.is_integer():
        s = s.cast(pl.Utf8)
    codes = (s.rank("dense") - 1).cast(pl.Int64).to_numpy()
    vocab = s.unique().sort().to_numpy()
    if vocab.dtype.kind in "OUS":
        vocab = vocab.astype(object)
    return vocab, codes


def _action_features(frame: Any, action_ids: np.ndarray) -> np.ndarray:
    """Align an action-feature frame (first column = action id) to the action codes."""
    f = to_polars(frame, what="action_context")
    if f.width < 2:
        raise DataError("action_context needs an action id column followed by feature columns")
    idcol = f.columns[0]
    ids = f.get_column(idcol)
    dup = ids.is_duplicated()
    if dup.any():
        row = _first_true(dup)
        raise DataError(f"action_context row {row}, column {idcol!r}: duplicate action id "
                        f"{ids[row]!r}; give one row per action")
    keys = ids.cast(pl.Utf8).to_list()
    pos = {k: j for j, k in enumerate(keys)}
    missing = [a for a in action_ids if str(a) not in pos]
    if missing:
        raise DataError(f"action_context has no row for action id {missing[0]!r} "
                        f"({len(missing)} actions missing); give features for every action")
    take = np.array([pos[str(a)] for a in action_ids])
    cats, nums = [], []
    for c in f.columns[1:]:
        s = f.get_column(c)
        if s.dtype.is_numeric():
            v = s.cast(pl.Float64).to_numpy()
            if not np.all(np.isfinite(v)):
                row = int(np.flatnonzero(~np.isfinite(v))[0])
                raise DataError(f"action_context row {row}, column {c!r}: value {v[row]} is not "
                                "finite; fix or fill it")
            nums.append(v)
        else:
            vals = s.cast(pl.Utf8).fill_null("").to_numpy().astype(str)
            # label encoding with sorted categories (what sklearn's LabelEncoder does)
            cats.append(np.searchsorted(np.unique(vals), vals).astype(np.float64))
    return np.column_stack(cats + nums)[take]


def read_bandit_log(path: str | os.PathLike[str], **mapping: Any) -> BanditLog:
    """Read a CSV/TSV/Parquet bandit log (``.xz``/``.gz`` compressed text is fine).

    Keyword arguments are the column mapping of :meth:`BanditLog.from_frame`.
    """
    p = Path(path)
    df = read_log_frame(p)
    mapping.setdefault("source", str(p))
    mapping.setdefault("line_offset", 0 if p.suffix.lower() in (".parquet", ".pq") else 2)
    mapping.setdefault("name", p.name.split(".")[0])
    return BanditLog.from_frame(df, **mapping)


def read_log_frame(p: Path) -> pl.DataFrame:
    """Read a (possibly xz/gzip-compressed) delimited text or Parquet file into polars."""
    if not p.exists():
        raise DataError(f"{p}: file not found")
    if p.is_dir():
        raise DataError(f"{p}: is a directory; give the log file inside it")
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        try:
            return pl.read_parquet(p)
        except Exception as exc:
            raise DataError(f"{p}: not a readable Parquet file ({exc})") from exc
    raw: bytes
    if suffixes and suffixes[-1] == ".xz":
        import lzma

        try:
            raw = lzma.decompress(p.read_bytes())
        except lzma.LZMAError as exc:
            raise DataError(f"{p}: not a valid xz file ({exc})") from exc
        suffixes = suffixes[:-1]
    elif suffixes and suffixes[-1] in (".gz", ".gzip"):
        import gzip

        try:
            raw = gzip.decompress(p.read_bytes())
        except OSError as exc:
            raise DataError(f"{p}: not a valid gzip file ({exc})") from exc
        suffixes = suffixes[:-1]
    else:
        raw = p.read_bytes()
    if not raw.strip():
        raise DataError(f"{p}: file is empty")
    sep = "\t" if suffixes and suffixes[-1] in (".tsv", ".tab") else ","
    try:
        df = pl.read_csv(raw, separator=sep, infer_schema_length=10000)
    except Exception as exc:  # polars raises several exception types for malformed text
        raise DataError(f"{p}: cannot parse as delimited text ({exc}); check the separator "
                        "and that every line has the same number of fields") from exc
    if df.height == 0:
        raise DataError(f"{p}: has a header but no data rows")
    return df
