"""Preprocessing: rating threshold, k-core filtering, deduplication, vocabulary compaction.

Each step returns a new :class:`Interactions` and records what it removed in ``.report``.
"""

from __future__ import annotations

import numpy as np

from recforge.data.interactions import Interactions, PreprocessReport
from recforge.errors import DataError


def _with_report(data: Interactions, step: str, **info: object) -> PreprocessReport:
    report = PreprocessReport(list(data.report.steps))
    report.add(step, **info)
    return report


def compact(data: Interactions) -> Interactions:
    """Drop users and items without interactions from the vocabularies (codes re-numbered)."""
    ucount = data.user_counts()
    icount = data.item_counts()
    ukeep = np.flatnonzero(ucount)
    ikeep = np.flatnonzero(icount)
    if ukeep.size == data.n_users and ikeep.size == data.n_items:
        return data
    umap = np.full(data.n_users, -1, dtype=np.int32)
    umap[ukeep] = np.arange(ukeep.size, dtype=np.int32)
    imap = np.full(data.n_items, -1, dtype=np.int32)
    imap[ikeep] = np.arange(ikeep.size, dtype=np.int32)
    uf = data.user_features[ukeep.tolist()] if data.user_features is not None else None
    itf = data.item_features[ikeep.tolist()] if data.item_features is not None else None
    return Interactions(
        umap[data.user],
        imap[data.item],
        user_ids=data.user_ids[ukeep],
        item_ids=data.item_ids[ikeep],
        rating=data.rating,
        timestamp=data.timestamp,
        user_features=uf,
        item_features=itf,
        name=data.name,
        report=data.report,
        origin=data.origin,
        origin_names=data.origin_names,
    )


def _nonempty(data: Interactions, step: str, hint: str) -> Interactions:
    if data.n_interactions == 0:
        raise DataError(f"no interactions left after {step}; {hint}")
    return data


def filter_rating(data: Interactions, threshold: float, *, binarize: bool = True) -> Interactions:
    """Keep interactions with rating >= ``threshold`` (e.g. 4 of 5 stars as positives).

    With ``binarize`` the kept ratings become weights of 1.
    """
    if data.rating is None:
        raise DataError("filter_rating needs a rating column; this data has none")
    keep = data.rating >= threshold
    out = data.subset(keep)
    if binarize:
        out.rating = None
    out = compact(out)
    out.report = _with_report(data, "rating_threshold", threshold=threshold,
                              removed=int((~keep).sum()), kept=int(keep.sum()),
                              users_removed=data.n_users - out.n_users,
                              items_removed=data.n_items - out.n_items)
    return _nonempty(out, f"rating >= {threshold}", "lower the threshold")


def k_core(data: Interactions, *, user_k: int = 5, item_k: int = 5,
           max_rounds: int | None = None) -> Interactions:
    """Iterate user/item minimum-degree filtering until a fixed point is reached.

    After it every remaining user has at least ``user_k`` and every item at least ``item_k``
    distinct interactions (counted as unique pairs), and nothing that satisfies both was
    removed (the result is the largest such subset: the (user_k, item_k)-core).

    Args:
        max_rounds: stop after this many rounds even if not converged (the report then
            says ``converged=False``); by default iterate to the fixed point.

    Raises:
        DataError: bad thresholds, or nothing left (names the thresholds and the fix).
    """
    if user_k < 1 or item_k < 1:
        raise DataError(f"k-core thresholds must be >= 1, got user_k={user_k}, item_k={item_k}")
    keep = np.ones(data.n_interactions, dtype=bool)
    rounds = 0
    converged = False
    while max_rounds is None or rounds < max_rounds:
        rounds += 1
        u = data.user[keep]
        i = data.item[keep]
        # distinct pairs: dedupe by a combined key
        key = u.astype(np.int64) * data.n_items + i
        uniq = np.unique(key)
        ucnt = np.bincount((uniq // data.n_items).astype(np.int64), minlength=data.n_users)
        icnt = np.bincount((uniq % data.n_items).astype(np.int64), minlength=data.n_items)
        ok = keep & (ucnt[data.user] >= user_k) & (icnt[data.item] >= item_k)
        if ok.sum() == keep.sum():
            converged = True
            break
        keep = ok
    out = compact(data.subset(keep))
    out.report = _with_report(
        data, "k_core", user_k=user_k, item_k=item_k, rounds=rounds, converged=converged,
        removed=int((~keep).sum()), users_removed=data.n_users - out.n_users,
        items_removed=data.n_items - out.n_items, users_left=out.n_users, items_left=out.n_items,
    )
    return _nonempty(out, f"{user_k}/{item_k}-core filtering", "lower k")


def deduplicate(data: Interactions, *, policy: str = "keep_last") -> Interactions:
    """Collapse repeated (user, item) pairs: ``keep_last`` (by time, else order) or ``sum``."""
    if policy not in ("keep_last", "sum"):
        raise DataError(f"policy must be 'keep_last' or 'sum', got {policy!r}")
    n = data.n_interactions
    key = data.user.astype(np.int64) * data.n_items + data.item
    if policy == "keep_last":
        order = np.lexsort((np.arange(n), data.timestamp if data.timestamp is not None else np.zeros(n), key))
        sk = key[order]
        last = np.ones(n, dtype=bool)
        last[:-1] = sk[1:] != sk[:-1]
        sel = np.sort(order[last])
        out = data.subset(sel)
    else:
        uniq, inv = np.unique(key, return_inverse=True)
        weights = data.rating if data.rating is not None else np.ones(n, dtype=np.float32)
        summed = np.bincount(inv, weights=weights).astype(np.float32)
        ts = None
        if data.timestamp is not None:
            ts = np.full(uniq.size, np.iinfo(np.int64).min)
            np.maximum.at(ts, inv, data.timestamp)
        out = Interactions(
            (uniq // data.n_items).astype(np.int32), (uniq % data.n_items).astype(np.int32),
            user_ids=data.user_ids, item_ids=data.item_ids, rating=summed, timestamp=ts,
            user_features=data.user_features, item_features=data.item_features, name=data.name,
        )
    out.report = _with_report(data, "deduplicate", policy=policy, removed=n - out.n_interactions)
    return out
