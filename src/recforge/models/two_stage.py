"""Two-stage recommendation: a top-K retriever proposes candidates, a CTR model orders them.

Training (no leakage): each user's training interactions are cut by time (at random when
there are no timestamps) into a *retriever part* (the earlier ``1 - ranker_holdout``) and a
*ranker part* (the latest ``ranker_holdout``). The retriever is fitted on the retriever part
only; for every user with ranker-part interactions it proposes ``n_candidates`` items (its
own training items excluded), and those candidates become the ranker's training rows: label 1
when the item is in the user's ranker part, 0 otherwise — hard negatives, because the
retriever thought them likely. The ranker sees user and item ids, the users' and items' side
features (``Interactions.user_features`` / ``item_features``), item popularity, and the
retriever's score and rank as features. Finally the retriever is refitted on all training
interactions (``refit_retriever``) for serving.

Inference: retriever top-``n_candidates`` (seen excluded) -> ranker probabilities. Candidates
always rank above non-candidates; non-candidates keep the retriever's order below them, so
the result is a full ranking and every metric of :mod:`recforge.evaluation` applies.

The ranker's inputs are encoded once per user and per item at fit time (tables of embedding
row indices), so scoring a batch is two gathers, a bucketing of ranks and one forward pass —
no strings at inference, and the artifact stays numeric (safetensors).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import numpy as np

from recforge.config import Config, param
from recforge.data.interactions import Interactions
from recforge.errors import ConfigError, DataError
from recforge.models.base import (
    TAG_ITERATIVE,
    TAG_NEURAL,
    TAG_SIDE_FEATURES,
    EpochCallback,
    Recommender,
    topk_rows,
)

_RANK = "retriever_rank"
_SCORE = "retriever_score"
_POP = "item_popularity"
_RECENT = "item_recent_popularity"


@dataclasses.dataclass(frozen=True)
class TwoStageConfig(Config):
    """Two-stage pipeline settings.

    Attributes:
        retriever: registered top-K model name (e.g. ``ease``, ``als``, ``item-knn``, ``two-tower``).
        retriever_params: JSON object of the retriever's hyperparameters.
        n_candidates: candidates per user passed to the ranker.
        ranker: registered CTR model name (``deepfm``, ``dcn-v2``, ``fm``, ``lr``, ...).
        ranker_params: JSON object of the ranker's hyperparameters.
        ranker_holdout: share of each user's latest training interactions held out of the
            retriever's training to build the ranker's training data.
        holdout: ``"per-user"`` holds out each user's latest interactions; ``"time"`` holds
            out every interaction after a global time cut (the latest ``ranker_holdout`` of
            events), which mimics a temporal evaluation: the ranker learns to predict the
            future of the users active then.
        max_negatives: hard negatives kept per user (0 = every non-positive candidate).
        side_features: use the users' and items' side features when present.
        id_features: give the ranker the user and item ids as categorical fields (off by
            default: on MovieLens-100K they let the ranker fit user/item effects that do not
            order a user's candidates, and cost ~0.03 NDCG@10).
        scorers: comma-separated top-K model names (default hyperparameters) whose scores
            of each candidate are extra ranker features (stacking), e.g. ``"item-knn,als"``.
        recent_window: item popularity over the latest share of the training time span is a
            ranker feature (trending items); 0 turns it off.
        refit_retriever: refit the retriever on all training data after the ranker is trained.
        seed: seed for sampling negatives and for the two models when they take one.
    """

    retriever: str = param("ease")
    retriever_params: str = param("{}")
    n_candidates: int = param(100, low=2, high=100_000)
    ranker: str = param("fm")
    # settings every CTR model accepts; small batches and a larger learning rate than the CTR
    # defaults suit the few tens of thousands of candidate rows a ranker trains on
    ranker_params: str = param('{"epochs": 10, "dim": 8, "lr": 0.01, "lr_embedding": 0.02, "batch_size": 1024}')
    ranker_holdout: float = param(0.2, low=0.01, high=0.9)
    holdout: str = param("per-user", choices=("per-user", "time"))
    max_negatives: int = param(0, low=0)
    side_features: bool = param(True)
    id_features: bool = param(False)
    scorers: str = param("")
    recent_window: float = param(0.1, low=0.0, high=1.0)
    refit_retriever: bool = param(True)
    seed: int = param(0, low=0)

    def validate(self) -> None:
        for name in ("retriever_params", "ranker_params"):
            try:
                value = json.loads(getattr(self, name))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"TwoStageConfig.{name} must be a JSON object, got {getattr(self, name)!r}") from exc
            if not isinstance(value, dict):
                raise ConfigError(f"TwoStageConfig.{name} must be a JSON object, got {getattr(self, name)!r}")
        from recforge import registry

        for name in [n for n in self.scorers.split(",") if n.strip()]:
            if registry.canonical(name) not in registry.names("topk") or registry.canonical(name) == "two-stage":
                raise ConfigError(f"TwoStageConfig.scorers must name top-K models, got {name!r}")
        if registry.canonical(self.retriever) not in registry.names("topk") or registry.canonical(self.retriever) == "two-stage":
            raise ConfigError(f"TwoStageConfig.retriever must be a top-K model, got {self.retriever!r}")
        if registry.canonical(self.ranker) not in registry.names("ctr"):
            raise ConfigError(f"TwoStageConfig.ranker must be a CTR model ({registry.names('ctr')}), got {self.ranker!r}")


def _with_seed(cls: Any, params: dict[str, Any], seed: int) -> dict[str, Any]:
    if "seed" in cls.config_class.field_names() and "seed" not in params:
        return {**params, "seed": seed}
    return params


def _side_frame(frame: Any, n: int, prefix: str) -> dict[str, np.ndarray]:
    """Side-feature columns (code order) as string arrays; numbers stay numbers."""
    if frame is None:
        return {}
    out: dict[str, np.ndarray] = {}
    for col in frame.columns[1:]:
        s = frame.get_column(col)
        name = f"{prefix}{col}"
        if s.dtype.is_numeric() and s.n_unique() > 32:
            out[name] = s.cast(float).fill_null(float("nan")).to_numpy().astype(np.float64)
        else:
            out[name] = np.asarray(s.cast(str).fill_null("<missing>").to_list(), dtype=object)
    if any(len(v) != n for v in out.values()):
        raise DataError(f"{prefix} side features are not aligned with the vocabulary")
    return out


class TwoStage(Recommender):
    """Retriever + CTR ranker as one recommender (see the module docstring).

    Example:
        >>> model = TwoStage(retriever="ease", n_candidates=100, ranker="deepfm").fit(train)  # doctest: +SKIP
    """

    name = "two-stage"
    config_class = TwoStageConfig
    tags = frozenset({TAG_NEURAL, TAG_ITERATIVE, TAG_SIDE_FEATURES})
    batch_size = 256

    @property
    def cfg(self) -> TwoStageConfig:
        assert isinstance(self.config, TwoStageConfig)
        return self.config

    # ------------------------------------------------------------------ helpers
    def _make_retriever(self) -> Recommender:
        from recforge import registry

        cls = registry.get(self.cfg.retriever)
        return cls(**_with_seed(cls, json.loads(self.cfg.retriever_params), self.cfg.seed))  # type: ignore[no-any-return]

    def _make_ranker(self) -> Any:
        from recforge import registry

        cls = registry.get(self.cfg.ranker)
        return cls(**_with_seed(cls, json.loads(self.cfg.ranker_params), self.cfg.seed))

    def _item_stats(self, data: Interactions) -> tuple[np.ndarray, np.ndarray]:
        """Item interaction counts, overall and within the latest ``recent_window`` of time."""
        pop = data.item_counts().astype(np.float32)
        if data.timestamp is None or self.cfg.recent_window <= 0 or data.n_interactions == 0:
            return pop, np.zeros_like(pop)
        t = data.timestamp
        cut = t.max() - (t.max() - t.min()) * self.cfg.recent_window
        recent = np.bincount(data.item[t >= cut], minlength=data.n_items).astype(np.float32)
        return pop, recent

    def _scorer_names(self) -> list[str]:
        return [n.strip() for n in self.cfg.scorers.split(",") if n.strip()]

    def _make_scorers(self) -> list[Recommender]:
        from recforge import registry

        out = []
        for name in self._scorer_names():
            cls = registry.get(name)
            out.append(cls(**_with_seed(cls, {}, self.cfg.seed)))
        return out

    def _scorer_values(self, scorers: list[Recommender], users: np.ndarray, idx: np.ndarray) -> list[np.ndarray]:
        """Per scorer, its scores of the candidates ``idx`` (users x N), min-max normalised per user."""
        out = []
        safe = np.maximum(idx, 0)
        for sc in scorers:
            full = np.asarray(sc.score_codes(users), dtype=np.float32)
            vals = np.take_along_axis(full, safe, axis=1).astype(np.float64)
            vals[idx < 0] = np.nan
            out.append(self._normalise(vals))
        return out

    def _holdout_mask(self, train: Interactions) -> np.ndarray:
        """True for the interactions of the ranker part (each user's latest share)."""
        from recforge.split import _rank_within_user

        rng = np.random.default_rng(self.cfg.seed)
        if self.cfg.holdout == "time":
            if train.timestamp is None:
                raise DataError("two-stage: holdout='time' needs timestamps; use holdout='per-user'")
            cut = np.quantile(train.timestamp, 1.0 - self.cfg.ranker_holdout, method="lower")
            return np.asarray(train.timestamp > cut)
        key = train.timestamp if train.timestamp is not None else rng.random(train.n_interactions)
        pos, cnt = _rank_within_user(train.user, key, rng.random(train.n_interactions))
        n_hold = np.floor(cnt * self.cfg.ranker_holdout).astype(np.int64)
        n_hold = np.where((n_hold == 0) & (cnt >= 3), 1, n_hold)
        return pos >= cnt - n_hold

    def _candidates(self, retriever: Recommender, users: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Top-N item codes, scores, and the full normalised score rows' fallback order."""
        n = self.cfg.n_candidates
        idx, val = retriever.recommend_codes(users, n, exclude_seen=True)
        return idx, val, np.isfinite(val)

    # ------------------------------------------------------------------ features
    def _feature_frame(self, users: np.ndarray, items: np.ndarray, ranks: np.ndarray,
                       scores: np.ndarray, labels: np.ndarray,
                       extra: list[np.ndarray] | None = None) -> Any:
        import polars as pl

        cols: dict[str, Any] = {"label": labels.astype(np.int8), "user": users.astype(np.int64),
                                "item": items.astype(np.int64)}
        for name, arr in self.user_side_.items():
            cols[name] = arr[users]
        for name, arr in self.item_side_.items():
            cols[name] = arr[items]
        cols[_RANK] = ranks.astype(np.float64)
        cols[_SCORE] = scores.astype(np.float64)
        cols[_POP] = self.popularity_[items].astype(np.float64)
        cols[_RECENT] = self.recent_popularity_[items].astype(np.float64)
        for j, name in enumerate(self._scorer_names()):
            cols[f"score_{j}_{name}"] = extra[j] if extra is not None else np.zeros(users.size)
        return pl.DataFrame(cols)

    def _fields(self) -> tuple[list[Any], list[Any]]:
        from recforge.data.features import Field

        cat: list[Any] = ["user", "item"] if self.cfg.id_features else []
        num: list[Any] = []
        for side in (self.user_side_, self.item_side_):
            for name, arr in side.items():
                if arr.dtype == object:
                    cat.append(name)
                else:
                    num.append(Field(name, "numeric", transform="bucket", n_buckets=10))
        num.append(Field(_RANK, "numeric", transform="bucket", n_buckets=16))
        num.append(Field(_SCORE, "numeric", transform="log"))
        num.append(Field(_POP, "numeric", transform="log"))
        num.append(Field(_RECENT, "numeric", transform="log"))
        for j, name in enumerate(self._scorer_names()):
            num.append(Field(f"score_{j}_{name}", "numeric", transform="log"))
        return cat, num

    def _normalise(self, val: np.ndarray) -> np.ndarray:
        """Per-user min-max of the candidates' retriever scores into [0, 1]."""
        v = np.where(np.isfinite(val), val, np.nan)
        lo = np.nanmin(v, axis=1, keepdims=True)
        hi = np.nanmax(v, axis=1, keepdims=True)
        out = (v - lo) / np.where(hi > lo, hi - lo, 1.0)
        return np.nan_to_num(out, nan=0.0)

    # ------------------------------------------------------------------ fitting
    def _fit(self, train: Interactions, valid: Interactions | None, callback: EpochCallback | None) -> None:
        from recforge.data.features import FeatureLog

        t0 = time.perf_counter()
        cfg = self.cfg
        self.user_side_ = _side_frame(train.user_features, train.n_users, "u_") if cfg.side_features else {}
        self.item_side_ = _side_frame(train.item_features, train.n_items, "i_") if cfg.side_features else {}
        hold = self._holdout_mask(train)
        if hold.sum() == 0 or (~hold).sum() == 0:
            raise DataError("two-stage: too few interactions per user to hold some out for the ranker "
                            "(users need >= 3 training interactions); lower ranker_holdout or use one stage")
        r_train = train.subset(~hold)
        k_part = train.subset(hold)
        # item statistics of the ranker's training rows come from the retriever part only,
        # so a held-out positive does not count towards its own popularity (no leakage)
        self.popularity_, self.recent_popularity_ = self._item_stats(r_train)
        retriever = self._make_retriever().fit(r_train)
        scorers = [sc.fit(r_train) for sc in self._make_scorers()]
        users = k_part.active_users()
        rng = np.random.default_rng(cfg.seed)
        rel = k_part.to_csr("binary")
        rows_u, rows_i, rows_r, rows_s, rows_y = [], [], [], [], []
        rows_x: list[list[np.ndarray]] = [[] for _ in scorers]
        for lo in range(0, users.size, 1024):
            batch = users[lo:lo + 1024]
            idx, val, ok = self._candidates(retriever, batch)
            norm = self._normalise(val)
            extra = self._scorer_values(scorers, batch, idx)
            for j, u in enumerate(batch):
                cand = idx[j][ok[j]]
                pos_items = rel.indices[rel.indptr[u]:rel.indptr[u + 1]]
                y = np.isin(cand, pos_items)
                ranks = np.flatnonzero(ok[j]) + 1
                keep = np.ones(cand.size, dtype=bool)
                if cfg.max_negatives and (~y).sum() > cfg.max_negatives:
                    neg = np.flatnonzero(~y)
                    drop = rng.choice(neg, size=neg.size - cfg.max_negatives, replace=False)
                    keep[drop] = False
                rows_u.append(np.full(keep.sum(), u))
                rows_i.append(cand[keep])
                rows_r.append(ranks[keep])
                rows_s.append(norm[j][ok[j]][keep])
                rows_y.append(y[keep])
                for e, vals in enumerate(extra):
                    rows_x[e].append(vals[j][ok[j]][keep])
        y_all = np.concatenate(rows_y)
        self.candidate_recall_ = float(y_all.sum() / max(1, rel.nnz))
        if y_all.sum() == 0 or y_all.all():
            raise DataError("two-stage: the retriever's candidates contain no (or only) held-out items; "
                            "raise n_candidates or choose another retriever")
        frame = self._feature_frame(np.concatenate(rows_u), np.concatenate(rows_i), np.concatenate(rows_r),
                                    np.concatenate(rows_s), y_all, [np.concatenate(x) for x in rows_x])
        cat, num = self._fields()
        log = FeatureLog.from_frame(frame, label="label", categorical=cat, numeric=num,
                                    group="user" if cfg.id_features else None, name="two-stage-ranker")
        # a user-level 90/10 cut of the ranker data drives the ranker's early stopping
        user_col = frame.get_column("user").to_numpy()
        vmask = np.random.default_rng(cfg.seed + 1).random(train.n_users)[user_col] < 0.1
        ranker = self._make_ranker()
        ranker.fit(log.subset(np.flatnonzero(~vmask)), log.subset(np.flatnonzero(vmask)), callback=callback)
        self.ranker_ = ranker
        self.ranker_rows_ = int(frame.height)
        if cfg.refit_retriever:
            retriever = self._make_retriever().fit(train)
            scorers = [sc.fit(train) for sc in self._make_scorers()]
        self.retriever_ = retriever
        self.scorers_ = scorers
        self.popularity_, self.recent_popularity_ = self._item_stats(train)
        self._build_tables()
        self.stage_seconds_ = {"total_fit": time.perf_counter() - t0}
        self.stage_latency_ms_ = self.stage_latency_ms(10)

    def _build_tables(self) -> None:
        """Encode user-side and item-side ranker inputs once (embedding row indices)."""
        from recforge.data.features import FeatureLog

        vocab = self.ranker_.vocab_
        names = [f.name for f in vocab.fields]
        n_users, n_items = self.train_.n_users, self.train_.n_items
        cat, num = self._fields()

        def encode(users: np.ndarray, items: np.ndarray) -> np.ndarray:
            frame = self._feature_frame(users, items, np.ones(users.size), np.zeros(users.size),
                                        np.zeros(users.size))
            log = FeatureLog.from_frame(frame, label="label", categorical=cat, numeric=num,
                                        group="user" if self.cfg.id_features else None)
            return vocab.transform(log).index

        m = max(n_users, n_items)
        idx = encode(np.arange(m) % n_users, np.arange(m) % n_items)
        user_cols = [j for j, nm in enumerate(names) if nm == "user" or nm.startswith("u_")]
        item_cols = [j for j, nm in enumerate(names) if nm in ("item", _POP, _RECENT) or nm.startswith("i_")]
        self.user_table_ = np.ascontiguousarray(idx[:n_users][:, user_cols])
        self.item_table_ = np.ascontiguousarray(idx[:n_items][:, item_cols])
        self._restore_layout()

    # ------------------------------------------------------------------ scoring
    def _rank_candidates(self, users: np.ndarray, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        from recforge.data.features import EncodedLog, log_transform

        ok = np.isfinite(val) & (idx >= 0)
        n, k = idx.shape
        rows = np.repeat(np.arange(n), k)[ok.ravel()]
        items = idx.ravel()[ok.ravel()]
        ranks = np.tile(np.arange(1, k + 1), n)[ok.ravel()].astype(np.float64)
        score = self._normalise(val).ravel()[ok.ravel()]
        n_fields = len(self.ranker_.vocab_.fields)
        index = np.empty((rows.size, n_fields), dtype=np.int32)
        value = np.ones((rows.size, n_fields), dtype=np.float32)
        index[:, self.user_cols_] = self.user_table_[users[rows]]
        index[:, self.item_cols_] = self.item_table_[items]
        index[:, self.rank_col_] = np.searchsorted(self.rank_bounds_, ranks, side="right") + 1 + self.rank_offset_
        index[:, self.score_col_] = self.score_offset_
        value[:, self.score_col_] = log_transform(score)
        value[:, self.pop_col_] = self.pop_value_[items]
        value[:, self.recent_col_] = self.recent_value_[items]
        if self.scorers_:
            extra = self._scorer_values(self.scorers_, users, idx)
            for col, off, vals in zip(self.scorer_cols_, self.scorer_offsets_, extra, strict=True):
                index[:, col] = off
                value[:, col] = log_transform(vals.ravel()[ok.ravel()])
        logits = self.ranker_.predict_logits(EncodedLog(index, value, np.zeros(rows.size, np.float32)))
        out = np.full((n, k), -np.inf, dtype=np.float32)
        out.ravel()[np.flatnonzero(ok.ravel())] = logits
        return out

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        users = np.asarray(users, dtype=np.int64)
        full = np.array(self.retriever_.score_codes(users), dtype=np.float32, copy=True)
        # candidates: the retriever's top-N among unseen items
        from recforge.models.base import mask_rows

        masked = full.copy()
        mask_rows(masked, self.retriever_._seen_, users)
        idx, val = topk_rows(masked, self.cfg.n_candidates)
        logits = self._rank_candidates(users, idx, val)
        # non-candidates keep the retriever's order, strictly below every candidate
        finite = np.isfinite(full)
        lo = np.where(finite, full, np.inf).min(axis=1, keepdims=True)
        hi = np.where(finite, full, -np.inf).max(axis=1, keepdims=True)
        base = (full - lo) / np.where(hi > lo, hi - lo, 1.0)  # [0, 1]
        floor = np.where(np.isfinite(logits), logits, np.inf).min(axis=1, keepdims=True)
        floor = np.where(np.isfinite(floor), floor, 0.0)
        out = floor - 2.0 + base  # in [floor - 2, floor - 1]: below every candidate
        cand = np.isfinite(logits) & (idx >= 0)
        out[np.nonzero(cand)[0], idx[cand]] = logits[cand]
        return out.astype(np.float32)

    def stage_latency_ms(self, n_users: int = 20) -> dict[str, float]:
        """Median and p95 single-user latency of each stage (retrieval: scores + top-N;
        ranking: stacked scorers + ranker forward over the N candidates), in ms."""
        from recforge.models.base import mask_rows

        self._check_fitted()
        users = self.train_.active_users()[:n_users]
        ret, rank = [], []
        for u in users:
            one = np.array([u], dtype=np.int64)
            t0 = time.perf_counter()
            full = np.array(self.retriever_.score_codes(one), dtype=np.float32, copy=True)
            mask_rows(full, self.retriever_._seen_, one)
            idx, val = topk_rows(full, self.cfg.n_candidates)
            t1 = time.perf_counter()
            self._rank_candidates(one, idx, val)
            t2 = time.perf_counter()
            ret.append((t1 - t0) * 1e3)
            rank.append((t2 - t1) * 1e3)
        return {"retrieval_p50_ms": float(np.median(ret)), "retrieval_p95_ms": float(np.percentile(ret, 95)),
                "ranking_p50_ms": float(np.median(rank)), "ranking_p95_ms": float(np.percentile(rank, 95))}

    # ------------------------------------------------------------------ persistence
    def get_state(self) -> dict[str, np.ndarray]:
        out = {f"retriever.{k}": v for k, v in self.retriever_.get_state().items()}
        out.update({f"ranker.{k}": v for k, v in self.ranker_.get_state().items()})
        for j, sc in enumerate(self.scorers_):
            out.update({f"scorer{j}.{k}": v for k, v in sc.get_state().items()})
        out["popularity"] = self.popularity_
        out["recent_popularity"] = self.recent_popularity_
        out["user_table"] = self.user_table_
        out["item_table"] = self.item_table_
        return out

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        retriever = self._make_retriever()
        retriever.train_ = self.train_
        retriever._seen_ = self._seen_
        retriever.set_state({k[len("retriever."):]: v for k, v in state.items() if k.startswith("retriever.")})
        ranker = self._make_ranker()
        ranker.set_state({k[len("ranker."):]: v for k, v in state.items() if k.startswith("ranker.")})
        scorers = self._make_scorers()
        for j, sc in enumerate(scorers):
            sc.train_ = self.train_
            sc._seen_ = self._seen_
            sc.set_state({k[len(f"scorer{j}."):]: v for k, v in state.items() if k.startswith(f"scorer{j}.")})
        self.retriever_ = retriever
        self.scorers_ = scorers
        self.ranker_ = ranker
        self.popularity_ = np.asarray(state["popularity"], dtype=np.float32)
        self.recent_popularity_ = np.asarray(state["recent_popularity"], dtype=np.float32)
        self.user_table_ = np.asarray(state["user_table"])
        self.item_table_ = np.asarray(state["item_table"])
        self._restore_layout()

    def _restore_layout(self) -> None:
        from recforge.data.features import log_transform

        vocab = self.ranker_.vocab_
        names = [f.name for f in vocab.fields]
        self.user_cols_ = np.asarray([j for j, nm in enumerate(names) if nm == "user" or nm.startswith("u_")], dtype=np.int64)
        self.item_cols_ = np.asarray([j for j, nm in enumerate(names) if nm in ("item", _POP, _RECENT) or nm.startswith("i_")], dtype=np.int64)
        self.pop_value_ = log_transform(self.popularity_)
        self.recent_value_ = log_transform(self.recent_popularity_)
        self.rank_bounds_ = vocab.boundaries[_RANK]
        offs = vocab.offsets
        self.rank_col_ = names.index(_RANK)
        self.rank_offset_ = int(offs[self.rank_col_])
        self.score_col_ = names.index(_SCORE)
        self.score_offset_ = int(offs[self.score_col_])
        self.pop_col_ = names.index(_POP)
        self.recent_col_ = names.index(_RECENT)
        self.scorer_cols_ = [names.index(f"score_{j}_{n}") for j, n in enumerate(self._scorer_names())]
        self.scorer_offsets_ = [int(offs[c]) for c in self.scorer_cols_]
