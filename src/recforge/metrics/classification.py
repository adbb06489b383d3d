"""Classification metrics for CTR models: AUC, logloss, group AUC, calibration.

Pure functions over whole arrays (scikit-learn's habit): ``y_true`` holds 0/1 labels,
``y_score`` any real-valued score (higher = more likely positive), ``y_prob`` probabilities.

Example:
    >>> import numpy as np
    >>> from recforge.metrics.classification import auc, logloss
    >>> auc(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.5, 0.5]))
    0.875
"""

from __future__ import annotations

import numpy as np

from recforge.errors import DataError

__all__ = ["auc", "calibration", "group_auc", "logloss", "metric_names", "compute"]


def _labels(y_true: np.ndarray, name: str = "y_true") -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, got shape {y.shape}")
    if y.size and not np.isin(y, (0, 1)).all():
        bad = y[~np.isin(y, (0, 1))][0]
        raise DataError(f"{name} must hold 0/1 labels, found {bad!r}; binarise the labels first")
    return y.astype(bool)


def _scores(y_score: np.ndarray, n: int, name: str = "y_score") -> np.ndarray:
    s = np.asarray(y_score, dtype=np.float64)
    if s.shape != (n,):
        raise DataError(f"{name} must have shape ({n},) like the labels, got {s.shape}")
    if not np.isfinite(s).all():
        raise DataError(f"{name} holds non-finite values (NaN or inf) at index {int(np.argmin(np.isfinite(s)))}")
    return s


def _tie_average_ranks(s: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their average rank (scipy's 'average' method)."""
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    n = len(s)
    # start index of each run of equal values
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], n]
    avg = (starts + ends + 1) / 2.0  # mean of 1-based ranks starts+1 .. ends
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Exact ROC AUC with ties counted as one half (Mann-Whitney U / (P * N)).

    Raises:
        DataError: when only one class is present (AUC is undefined).
    """
    y = _labels(y_true)
    s = _scores(y_score, len(y))
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise DataError(
            f"AUC needs both classes; got {n_pos} positives and {n_neg} negatives"
        )
    ranks = _tie_average_ranks(s)
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def logloss(y_true: np.ndarray, y_prob: np.ndarray, *, eps: float = 1e-7) -> float:
    """Mean binary cross-entropy; probabilities are clipped to ``[eps, 1 - eps]``."""
    y = _labels(y_true)
    if len(y) == 0:
        raise DataError("logloss of an empty array is undefined")
    p = _scores(y_prob, len(y), "y_prob")
    if (p < 0).any() or (p > 1).any():
        raise DataError("y_prob must lie in [0, 1]; pass probabilities, not logits")
    p = np.clip(p, eps, 1.0 - eps)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


def group_auc(y_true: np.ndarray, y_score: np.ndarray, groups: np.ndarray) -> float:
    """Impression-weighted mean of per-group AUC (GAUC, e.g. per user).

    Groups holding only one class are skipped (their AUC is undefined), as in the
    DIN paper's definition.

    Raises:
        DataError: when no group holds both classes.
    """
    y = _labels(y_true)
    s = _scores(y_score, len(y))
    g = np.asarray(groups)
    if g.shape != y.shape:
        raise DataError(f"groups must have shape {y.shape} like the labels, got {g.shape}")
    _, gcode = np.unique(g, return_inverse=True)
    # sort by (group, score); ranks within a group, ties averaged within (group, score) runs
    order = np.lexsort((s, gcode))
    gs, ss, ys = gcode[order], s[order], y[order]
    n = len(y)
    gstart_flag = np.r_[True, gs[1:] != gs[:-1]]
    gstarts = np.flatnonzero(gstart_flag)
    gid = np.cumsum(gstart_flag) - 1
    run_flag = gstart_flag | np.r_[True, ss[1:] != ss[:-1]]
    rstarts = np.flatnonzero(run_flag)
    rends = np.r_[rstarts[1:], n]
    rank_in_group = np.repeat((rstarts + rends + 1) / 2.0, rends - rstarts) - gstarts[gid]
    n_groups = len(gstarts)
    pos = np.bincount(gid, weights=ys, minlength=n_groups)
    size = np.bincount(gid, minlength=n_groups).astype(np.float64)
    neg = size - pos
    rank_pos = np.bincount(gid, weights=np.where(ys, rank_in_group, 0.0), minlength=n_groups)
    ok = (pos > 0) & (neg > 0)
    if not ok.any():
        raise DataError("group AUC needs at least one group holding both classes")
    per = (rank_pos[ok] - pos[ok] * (pos[ok] + 1) / 2.0) / (pos[ok] * neg[ok])
    return float(np.sum(per * size[ok]) / size[ok].sum())


def calibration(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """Mean predicted probability divided by the observed positive rate (1.0 = calibrated)."""
    y = _labels(y_true)
    p = _scores(y_prob, len(y), "y_prob")
    rate = y.mean() if len(y) else 0.0
    if rate == 0:
        raise DataError("calibration needs at least one positive label")
    return float(p.mean() / rate)


_METRICS = ("auc", "logloss", "gauc", "calibration")


def metric_names() -> tuple[str, ...]:
    """Names accepted by :func:`compute` (and ``recforge evaluate --metrics``)."""
    return _METRICS


def compute(names: list[str], y_true: np.ndarray, y_prob: np.ndarray,
            groups: np.ndarray | None = None) -> dict[str, float]:
    """Compute several CTR metrics by name (``auc``, ``logloss``, ``gauc``, ``calibration``)."""
    out: dict[str, float] = {}
    for raw in names:
        name = raw.strip().lower()
        if name == "auc":
            out[name] = auc(y_true, y_prob)
        elif name == "logloss":
            out[name] = logloss(y_true, y_prob)
        elif name in ("gauc", "group_auc"):
            if groups is None:
                raise DataError("gauc needs a group field (e.g. the user); this data has none")
            out[name] = group_auc(y_true, y_prob, groups)
        elif name == "calibration":
            out[name] = calibration(y_true, y_prob)
        else:
            raise DataError(f"unknown CTR metric {raw!r}; valid ones are {', '.join(_METRICS)}")
    return out
