"""Leak-free split protocols.

Every function returns a :class:`Split` — a ``(train, valid, test)`` tuple whose parts share
the input's vocabularies — with a ``report`` of what each protocol did, including how users
and items unseen in training were handled (``unseen="drop"`` by default: test rows whose
user or item never occurs in training cannot be scored honestly by most models, so they are
removed and counted; ``"keep"`` keeps them).

SPLIT strings of the CLI are parsed by :func:`parse_split`:
``random:0.8,0.1,0.1``, ``leave-last:1``, ``temporal:0.8,0.1``, ``user-holdout:0.1,0.1``,
``files:TRAIN[,VALID],TEST``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from recforge.data.interactions import Interactions
from recforge.errors import ConfigError, DataError

Unseen = Literal["drop", "keep"]


class Split(tuple):  # type: ignore[type-arg]
    """``(train, valid, test)``; ``valid`` may be ``None`` for given files without one."""

    report: dict[str, Any]

    def __new__(cls, train: Interactions, valid: Interactions | None, test: Interactions,
                report: dict[str, Any]) -> Split:
        obj = super().__new__(cls, (train, valid, test))
        obj.report = report
        return obj

    @property
    def train(self) -> Interactions:
        return self[0]  # type: ignore[no-any-return]

    @property
    def valid(self) -> Interactions | None:
        return self[1]  # type: ignore[no-any-return]

    @property
    def test(self) -> Interactions:
        return self[2]  # type: ignore[no-any-return]


def _check_fractions(fracs: tuple[float, ...], n: int, what: str) -> None:
    if len(fracs) != n or any(f < 0 for f in fracs) or sum(fracs) > 1 + 1e-9:
        raise ConfigError(f"{what} needs {n} non-negative fractions summing to at most 1, got {fracs}")


def _apply_unseen(train: Interactions, part: Interactions | None, unseen: Unseen,
                  label: str, report: dict[str, Any]) -> Interactions | None:
    if part is None:
        return None
    if unseen not in ("drop", "keep"):
        raise ConfigError(f"unseen must be 'drop' or 'keep', got {unseen!r}")
    seen_u = train.user_counts() > 0
    seen_i = train.item_counts() > 0
    bad_u = ~seen_u[part.user]
    bad_i = ~seen_i[part.item]
    report[f"{label}_unseen_user_rows"] = int(bad_u.sum())
    report[f"{label}_unseen_item_rows"] = int(bad_i.sum())
    if unseen == "drop" and (bad_u.any() or bad_i.any()):
        part = part.subset(~(bad_u | bad_i))
    report[f"{label}_rows"] = part.n_interactions
    report[f"{label}_users"] = int(len(part.active_users()))
    return part


def _finish(data: Interactions, assign: np.ndarray, unseen: Unseen, report: dict[str, Any],
            has_valid: bool = True) -> Split:
    train = data.subset(assign == 0, name=f"{data.name or 'data'}:train")
    valid = data.subset(assign == 1, name=f"{data.name or 'data'}:valid") if has_valid else None
    test = data.subset(assign == 2, name=f"{data.name or 'data'}:test")
    if train.n_interactions == 0:
        raise DataError("the split left no training interactions; use larger train fraction")
    report["train_rows"] = train.n_interactions
    report["unseen_policy"] = unseen
    valid = _apply_unseen(train, valid, unseen, "valid", report)
    test_out = _apply_unseen(train, test, unseen, "test", report)
    assert test_out is not None
    return Split(train, valid, test_out, report)


def _rank_within_user(user: np.ndarray, key: np.ndarray, tiebreak: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each row in its user's ordering by (key, tiebreak) and the user's count."""
    order = np.lexsort((tiebreak, key, user))
    counts = np.bincount(user)
    starts = np.zeros_like(counts)
    np.cumsum(counts[:-1], out=starts[1:])
    pos = np.empty(user.shape[0], dtype=np.int64)
    pos[order] = np.arange(user.shape[0]) - starts[user[order]]
    return pos, counts[user]


def random_holdout(data: Interactions, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                   *, seed: int = 0, unseen: Unseen = "drop") -> Split:
    """Per-user random holdout: each user's interactions are shuffled and cut by fractions.

    Every user with at least one interaction keeps at least one in training.
    """
    _check_fractions(fractions, 3, "random split")
    rng = np.random.default_rng(seed)
    pos, cnt = _rank_within_user(data.user, rng.random(data.n_interactions), np.arange(data.n_interactions))
    n_train = np.maximum(1, np.round(cnt * fractions[0])).astype(np.int64)
    n_valid = np.round(cnt * fractions[1]).astype(np.int64)
    assign = np.where(pos < n_train, 0, np.where(pos < n_train + n_valid, 1, 2))
    if fractions[0] + fractions[1] + fractions[2] < 1 - 1e-9:
        n_test = np.round(cnt * fractions[2]).astype(np.int64)
        assign = np.where(pos >= n_train + n_valid + n_test, 3, assign)
    return _finish(data, assign, unseen, {"protocol": "random", "fractions": list(fractions), "seed": seed})


def leave_last_out(data: Interactions, n: int = 1, *, seed: int = 0, unseen: Unseen = "drop") -> Split:
    """Per user by time: the last ``n`` interactions to test, the ``n`` before them to validation.

    Users with fewer than ``2n + 1`` interactions stay entirely in training. Ties in time are
    broken by a seeded random order. Without timestamps, row order is the time order.
    """
    if n < 1:
        raise ConfigError(f"leave-last needs n >= 1, got {n}")
    rng = np.random.default_rng(seed)
    t = data.timestamp if data.timestamp is not None else np.arange(data.n_interactions)
    pos, cnt = _rank_within_user(data.user, t, rng.random(data.n_interactions))
    from_end = cnt - 1 - pos
    eligible = cnt >= 2 * n + 1
    assign = np.where(eligible & (from_end < n), 2, np.where(eligible & (from_end < 2 * n), 1, 0))
    report = {"protocol": "leave-last", "n": n, "seed": seed,
              "users_too_short": int((np.bincount(data.user) [np.bincount(data.user) > 0] < 2 * n + 1).sum()),
              "uses_timestamps": data.timestamp is not None}
    return _finish(data, assign, unseen, report)


def temporal(data: Interactions, fractions: tuple[float, float] = (0.8, 0.1), *,
             unseen: Unseen = "drop") -> Split:
    """Global time cuts: the earliest ``fractions[0]`` of events train, the next validation,
    the rest test. Every training event is at or before the first cut, strictly before every
    validation and test event, so no model trains on the future of a test point.
    """
    _check_fractions(fractions, 2, "temporal split")
    if data.timestamp is None:
        raise DataError("temporal split needs timestamps; this data has none (use random or leave-last)")
    t = data.timestamp
    cut1 = np.quantile(t, fractions[0], method="lower")
    cut2 = np.quantile(t, min(1.0, fractions[0] + fractions[1]), method="lower")
    assign = np.where(t <= cut1, 0, np.where(t <= cut2, 1, 2))
    report = {"protocol": "temporal", "fractions": list(fractions),
              "train_until": int(cut1), "valid_until": int(cut2)}
    return _finish(data, assign, unseen, report)


def user_holdout(data: Interactions, fractions: tuple[float, float] = (0.1, 0.1), *,
                 fold_in: float = 0.8, seed: int = 0, unseen: Unseen = "drop") -> Split:
    """Held-out users with fold-in (the Mult-VAE protocol).

    ``fractions`` of users go to validation and test. Each held-out user's interactions are
    cut (by time when available, else at random) into a fold-in history — ``part.history`` —
    and targets. Models must support fold-in (``"fold_in"`` tag) to be evaluated on them.
    """
    _check_fractions(fractions, 2, "user-holdout split")
    if not 0 < fold_in < 1:
        raise ConfigError(f"fold_in must be in (0, 1), got {fold_in}")
    rng = np.random.default_rng(seed)
    users = data.active_users()
    perm = rng.permutation(users)
    n_val = int(round(len(users) * fractions[0]))
    n_test = int(round(len(users) * fractions[1]))
    group = np.zeros(data.n_users, dtype=np.int8)
    group[perm[:n_val]] = 1
    group[perm[n_val:n_val + n_test]] = 2
    key = data.timestamp if data.timestamp is not None else rng.random(data.n_interactions)
    pos, cnt = _rank_within_user(data.user, key, rng.random(data.n_interactions))
    is_hist = pos < np.maximum(1, np.floor(cnt * fold_in))
    g = group[data.user]
    train = data.subset(g == 0, name=f"{data.name or 'data'}:train")
    report: dict[str, Any] = {"protocol": "user-holdout", "fractions": list(fractions),
                              "fold_in": fold_in, "seed": seed, "train_rows": train.n_interactions,
                              "unseen_policy": unseen}
    parts = []
    for label, gid in (("valid", 1), ("test", 2)):
        target = data.subset((g == gid) & ~is_hist, name=f"{data.name or 'data'}:{label}")
        hist = data.subset((g == gid) & is_hist, name=f"{data.name or 'data'}:{label}-history")
        seen_i = train.item_counts() > 0
        if unseen == "drop":
            target = target.subset(seen_i[target.item])
            hist = hist.subset(seen_i[hist.item])
        target.history = hist
        report[f"{label}_users"] = int(len(target.active_users()))
        report[f"{label}_rows"] = target.n_interactions
        parts.append(target)
    return Split(train, parts[0], parts[1], report)


def given(data: Interactions, train: str, test: str, valid: str | None = None, *,
          unseen: Unseen = "drop") -> Split:
    """Split by the file each row came from (``data.origin``), e.g. ml-100k's u1.base/u1.test."""
    if data.origin is None:
        raise DataError("a files: split needs data read from several files (see datasets.load(files=...))")
    names = data.origin_names

    def idx(name: str) -> int:
        if name not in names:
            raise ConfigError(f"file {name!r} is not among the loaded files {names}")
        return names.index(name)

    assign = np.full(data.n_interactions, 3, dtype=np.int8)
    assign[data.origin == idx(train)] = 0
    assign[data.origin == idx(test)] = 2
    if valid is not None:
        assign[data.origin == idx(valid)] = 1
    report = {"protocol": "files", "train": train, "valid": valid, "test": test}
    return _finish(data, assign, unseen, report, has_valid=valid is not None)


def parse_split(spec: str) -> tuple[str, dict[str, Any]]:
    """Parse a SPLIT string into (protocol, keyword arguments)."""
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigError(
            f"invalid split {spec!r}; use random:0.8,0.1,0.1 | leave-last:1 | temporal:0.8,0.1 | "
            "user-holdout:0.1,0.1 | files:TRAIN[,VALID],TEST"
        )
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    parts = [a.strip() for a in arg.split(",") if a.strip()]

    def floats(n: int) -> tuple[float, ...]:
        try:
            vals = tuple(float(a) for a in parts)
        except ValueError as exc:
            raise ConfigError(f"split {spec!r}: fractions must be numbers") from exc
        if len(vals) != n:
            raise ConfigError(f"split {spec!r}: {kind} takes {n} fractions, got {len(vals)}")
        return vals

    if kind == "random":
        return "random", {"fractions": floats(3)}
    if kind in ("leave-last", "leave_last", "loo"):
        if len(parts) > 1:
            raise ConfigError(f"split {spec!r}: leave-last takes an integer (e.g. leave-last:1), got {arg!r}")
        try:
            n = int(parts[0]) if parts else 1
        except ValueError as exc:
            raise ConfigError(f"split {spec!r}: leave-last takes an integer (e.g. leave-last:1), got {arg!r}") from exc
        return "leave-last", {"n": n}
    if kind == "temporal":
        return "temporal", {"fractions": floats(2)}
    if kind in ("user-holdout", "user_holdout"):
        return "user-holdout", {"fractions": floats(2)}
    if kind == "files":
        if len(parts) == 2:
            return "files", {"train": parts[0], "test": parts[1]}
        if len(parts) == 3:
            return "files", {"train": parts[0], "valid": parts[1], "test": parts[2]}
        raise ConfigError(f"split {spec!r}: files takes TRAIN,TEST or TRAIN,VALID,TEST")
    raise ConfigError(
        f"unknown split protocol {kind!r} in {spec!r}; valid: random, leave-last, temporal, "
        "user-holdout, files"
    )


_PROTOCOLS: dict[str, Callable[..., Split]] = {
    "random": random_holdout,
    "leave-last": leave_last_out,
    "temporal": temporal,
    "user-holdout": user_holdout,
    "files": given,
}


def apply(data: Interactions, spec: str, *, seed: int = 0, unseen: Unseen = "drop") -> Split:
    """Split ``data`` according to a SPLIT string (see module docs)."""
    kind, kwargs = parse_split(spec)
    if kind in ("random", "leave-last", "user-holdout"):
        kwargs["seed"] = seed
    return _PROTOCOLS[kind](data, unseen=unseen, **kwargs)
