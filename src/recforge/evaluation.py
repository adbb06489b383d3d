"""Honest offline evaluation of top-K recommenders.

Default protocol: **full ranking** over every item of the catalogue, items the model was
trained on excluded for each user, metrics averaged over the test users who have at least one
relevant item. Work is done in user batches, so memory stays bounded by
``batch_size x n_items`` scores. Sampled evaluation (ranking the positives among ``N`` random
negatives) exists only on request, and every metric it returns is labelled
``name@k[sampled-N]``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from recforge.data.interactions import Interactions
from recforge.errors import ConfigError, DataError
from recforge.metrics import beyond, ranking
from recforge.models.base import TAG_FOLD_IN, mask_rows, topk_rows

if TYPE_CHECKING:
    import scipy.sparse as sp

    from recforge.models.base import Recommender

_RANKING = {
    "precision": "precision",
    "prec": "precision",
    "recall": "recall",
    "hit": "hit",
    "hr": "hit",
    "hitrate": "hit",
    "ndcg": "ndcg",
    "gndcg": "gndcg",
    "mrr": "mrr",
    "map": "map",
}
_BEYOND = {"coverage", "gini", "novelty", "arp"}
_METRIC_RE = re.compile(r"^([a-z_]+)(?:@(\d+))?$")


@dataclass(frozen=True)
class MetricSpec:
    name: str
    k: int | None

    @property
    def key(self) -> str:
        return self.name if self.k is None else f"{self.name}@{self.k}"


def parse_metrics(metrics: str | Iterable[str]) -> list[MetricSpec]:
    """Parse ``"ndcg@10,recall@20"`` (or a list) into specs; unknown names are an error."""
    items = [m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics)]
    out = []
    valid = sorted({*_RANKING.values(), *_BEYOND, "auc"})
    for raw in items:
        if not raw:
            continue
        m = _METRIC_RE.match(raw.lower())
        if not m:
            raise ConfigError(f"invalid metric {raw!r}; write NAME@K, e.g. ndcg@10 (valid names: {valid})")
        name, k = m.group(1), m.group(2)
        if name == "auc":
            if k is not None:
                raise ConfigError("auc takes no cut-off; write 'auc'")
            out.append(MetricSpec("auc", None))
            continue
        canon = _RANKING.get(name, name if name in _BEYOND else None)
        if canon is None:
            raise ConfigError(f"unknown metric {raw!r}; valid names: {valid} (ranking ones take @K)")
        if k is None or int(k) < 1:
            raise ConfigError(f"metric {raw!r} needs a cut-off, e.g. {canon}@10")
        out.append(MetricSpec(canon, int(k)))
    if not out:
        raise ConfigError("no metrics given; e.g. --metrics ndcg@10,recall@20")
    return out


@dataclass
class EvaluationResult(Mapping[str, float]):
    """Mean metric values (a read-only mapping) plus per-user values and the protocol."""

    metrics: dict[str, float]
    n_users: int
    protocol: str
    seconds: float
    users: np.ndarray = field(repr=False)
    per_user: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    top_items: np.ndarray | None = field(repr=False, default=None)

    def __getitem__(self, key: str) -> float:
        return self.metrics[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.metrics)

    def __len__(self) -> int:
        return len(self.metrics)

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": dict(self.metrics), "n_users": self.n_users,
                "protocol": self.protocol, "eval_seconds": round(self.seconds, 4)}


def _relevance(test: Interactions, graded: bool) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
    rel = test.to_csr("binary")
    grades = test.to_csr("rating") if graded and test.has_ratings else None
    return rel, grades


def evaluate(
    model: Recommender,
    test: Interactions,
    *,
    train: Interactions | None = None,
    metrics: str | Iterable[str] = ("ndcg@10", "recall@20"),
    batch_size: int = 1024,
    sampled: int | None = None,
    seed: int = 0,
    users: np.ndarray | None = None,
    progress: bool = False,
    keep_top_items: bool = False,
) -> EvaluationResult:
    """Evaluate a fitted model on ``test``.

    Args:
        model: a fitted recommender.
        test: held-out interactions (same vocabularies as training).
        train: interactions to exclude from each user's ranking; defaults to the model's own
            training data. Pass ``train.concat(valid)`` to exclude validation items too.
        metrics: names like ``"ndcg@10"``, ``"recall@20"``, ``"auc"``, ``"coverage@10"``.
        sampled: rank each user's positives among this many random unseen negatives instead
            of the full catalogue (labelled ``[sampled-N]``); off by default.
        users: restrict to these user codes.

    Returns:
        :class:`EvaluationResult`; ``result["ndcg@10"]`` is the mean over test users.

    Example:
        >>> scores = evaluate(model, test, train=train, metrics=["ndcg@10"])  # doctest: +SKIP
    """
    model._check_fitted()
    specs = parse_metrics(metrics)
    if test.n_items != model.train_.n_items or test.n_users != model.train_.n_users:
        raise DataError("test data must come from the same dataset/split as the model's training data")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    if sampled is not None and sampled < 1:
        raise ConfigError(f"sampled must be a positive number of negatives, got {sampled}")
    start = time.perf_counter()
    graded = any(s.name == "gndcg" for s in specs)
    rel, grades = _relevance(test, graded)
    fold_in = test.history is not None
    if fold_in and TAG_FOLD_IN not in model.tags:
        raise ConfigError(
            f"{model.name} cannot score held-out users (user-holdout split needs fold-in); "
            "use a model with the fold_in tag (e.g. ease, item-knn, mult-vae)"
        )
    exclude: sp.csr_matrix
    if fold_in:
        assert test.history is not None
        exclude = test.history.to_csr("binary")
    else:
        exclude = train.to_csr("binary") if train is not None else model._seen_
    eval_users = test.active_users() if users is None else np.asarray(users, dtype=np.int32)
    n_rel_all = np.diff(rel.indptr)
    eval_users = eval_users[n_rel_all[eval_users] > 0]
    if eval_users.size == 0:
        raise DataError("no test user has a relevant item; nothing to evaluate")
    kmax = max([s.k or 0 for s in specs] + [1])
    need_auc = any(s.name == "auc" for s in specs)
    n_items = model.train_.n_items

    hits_all = np.zeros((eval_users.size, kmax), dtype=bool)
    gains_all = np.zeros((eval_users.size, kmax)) if graded else None
    ideal_all = np.zeros((eval_users.size, kmax)) if graded else None
    top_all = np.full((eval_users.size, kmax), -1, dtype=np.int64)
    auc_ranks: list[np.ndarray] = []
    auc_ncand = np.zeros(eval_users.size)
    rng = np.random.default_rng(seed)
    bar = _progress(progress, eval_users.size)
    for lo in range(0, eval_users.size, batch_size):
        hi = min(eval_users.size, lo + batch_size)
        batch = eval_users[lo:hi]
        if fold_in:
            scores = np.array(model._score_history(exclude[batch]), dtype=np.float32, copy=True)
        else:
            scores = np.array(model.score_codes(batch), dtype=np.float32, copy=True)
        mask_rows(scores, exclude, batch)
        need_dense = sampled is not None or graded or need_auc
        rel_rows = rel[batch]
        rel_dense = rel_rows.toarray() > 0 if need_dense else None
        if sampled is not None:
            assert rel_dense is not None
            _sample_candidates(scores, rel_dense, sampled, rng)
        idx, val = topk_rows(scores, kmax)
        idx[~np.isfinite(val)] = -1
        top_all[lo:hi, : idx.shape[1]] = idx
        h = _membership(rel_rows, idx)
        hits_all[lo:hi, : h.shape[1]] = h
        if graded and gains_all is not None and ideal_all is not None:
            assert grades is not None or not test.has_ratings
            assert rel_dense is not None
            g_dense = grades[batch].toarray() if grades is not None else rel_dense.astype(np.float64)
            gains_all[lo:hi, : idx.shape[1]] = np.where(idx >= 0, np.take_along_axis(g_dense, np.maximum(idx, 0), axis=1), 0)
            srt = -np.sort(-g_dense, axis=1)[:, :kmax]
            ideal_all[lo:hi, : srt.shape[1]] = srt
        if need_auc:
            assert rel_dense is not None
            for j in range(hi - lo):
                row = scores[j]
                cand = np.isfinite(row)
                pos = rel_dense[j] & cand
                cvals = np.sort(row[cand])
                # tie-aware rank: items strictly above, plus half of the other ties
                above = cvals.size - np.searchsorted(cvals, row[pos], side="right")
                ties = np.searchsorted(cvals, row[pos], side="right") - np.searchsorted(cvals, row[pos], side="left") - 1
                # ranks among negatives+positives; auc_from_ranks subtracts positives above
                auc_ranks.append(_tie_aware_ranks(above, ties, row[pos]))
                auc_ncand[lo + j] = cvals.size
        if bar is not None:
            bar.advance(bar.task_ids[0], hi - lo)  # type: ignore[union-attr]
    if bar is not None:
        bar.stop()

    n_rel = n_rel_all[eval_users]
    n_rel_eff = n_rel  # the sampled protocol keeps every positive as a candidate too
    per_user: dict[str, np.ndarray] = {}
    # popularity for novelty/ARP always comes from the model's training data (also under
    # fold-in, where the excluded matrix holds only the held-out users' histories)
    item_pop = np.asarray(model._seen_.sum(axis=0)).ravel()
    results: dict[str, float] = {}
    for s in specs:
        k = s.k or kmax
        if s.name == "precision":
            v = ranking.precision_at_k(hits_all, k=k)
        elif s.name == "recall":
            v = ranking.recall_at_k(hits_all, n_rel_eff, k=k)
        elif s.name == "hit":
            v = ranking.hit_rate_at_k(hits_all, k=k)
        elif s.name == "ndcg":
            v = ranking.ndcg_at_k(hits_all, n_rel_eff, k=k)
        elif s.name == "gndcg":
            assert gains_all is not None and ideal_all is not None
            v = ranking.graded_ndcg_at_k(gains_all, ideal_all, k=k)
        elif s.name == "mrr":
            v = ranking.mrr_at_k(hits_all, k=k)
        elif s.name == "map":
            v = ranking.map_at_k(hits_all, n_rel_eff, k=k)
        elif s.name == "auc":
            v = ranking.auc_from_ranks(auc_ranks, auc_ncand)
        elif s.name == "novelty":
            v = beyond.novelty(top_all[:, :k], item_popularity=item_pop, n_users=model.train_.n_users)
        elif s.name == "arp":
            v = beyond.average_popularity(top_all[:, :k], item_popularity=item_pop)
        elif s.name == "coverage":
            results[_label(s, sampled)] = beyond.catalogue_coverage(top_all[:, :k], n_items=n_items)
            continue
        elif s.name == "gini":
            results[_label(s, sampled)] = beyond.gini_index(top_all[:, :k], n_items=n_items)
            continue
        else:  # pragma: no cover - parse_metrics guards this
            raise ConfigError(f"unsupported metric {s.key}")
        per_user[_label(s, sampled)] = v
        results[_label(s, sampled)] = float(np.nanmean(v))
    return EvaluationResult(
        metrics=results,
        n_users=int(eval_users.size),
        protocol="full-ranking" if sampled is None else f"sampled-{sampled}",
        seconds=time.perf_counter() - start,
        users=eval_users,
        per_user=per_user,
        top_items=top_all if keep_top_items else None,
    )


def _membership(rel_rows: sp.csr_matrix, idx: np.ndarray) -> np.ndarray:
    """``hits[j, r]``: is item ``idx[j, r]`` among row ``j``'s relevant items (sparse, no dense copy)."""
    n, k = idx.shape
    m = rel_rows.shape[1]
    rel_keys = np.repeat(np.arange(n, dtype=np.int64), np.diff(rel_rows.indptr)) * m + rel_rows.indices
    keys = np.arange(n, dtype=np.int64)[:, None] * m + np.maximum(idx, 0)
    return np.isin(keys, rel_keys) & (idx >= 0)


def _tie_aware_ranks(above: np.ndarray, ties: np.ndarray, pos_scores: np.ndarray) -> np.ndarray:
    """0-based ranks for auc_from_ranks: items strictly above count fully, tied items half."""
    return above.astype(np.float64) + ties / 2.0


def _label(spec: MetricSpec, sampled: int | None) -> str:
    return spec.key if sampled is None else f"{spec.key}[sampled-{sampled}]"


def _sample_candidates(scores: np.ndarray, rel_dense: np.ndarray, n_neg: int, rng: np.random.Generator) -> None:
    """Keep each row's positives plus ``n_neg`` random non-excluded negatives; -inf the rest."""
    for j in range(scores.shape[0]):
        row = scores[j]
        neg_pool = np.flatnonzero(np.isfinite(row) & ~rel_dense[j])
        keep = np.zeros(row.size, dtype=bool)
        keep[rel_dense[j]] = True
        if neg_pool.size:
            keep[rng.choice(neg_pool, size=min(n_neg, neg_pool.size), replace=False)] = True
        row[~keep] = -np.inf


def _progress(enabled: bool, total: int):  # type: ignore[no-untyped-def]
    if not enabled:
        return None
    from recforge._progress import make_progress

    bar = make_progress("evaluating")
    if bar is None:
        return None
    bar.start()
    bar.add_task("evaluate", total=total)
    return bar
