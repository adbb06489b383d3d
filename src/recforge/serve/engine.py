"""The scoring engine behind the service: id mapping, retrieval, fallback, micro-batching.

:class:`Engine` maps raw ids to codes and back, picks the retrieval path (FAISS for embedding
models, the model's own batched ``recommend_codes`` otherwise, or torch), answers unknown
users with the training popularity and keeps the model on one worker thread.
:class:`MicroBatcher` gathers the single-user requests that arrive while a batch is being
scored and scores them together, which keeps the event loop free and bounds the work queue.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from recforge.models.base import TAG_EMBEDDING, TAG_FOLD_IN, TAG_SIMILAR_ITEMS
from recforge.serve.settings import Settings


@dataclass
class Result:
    """Top-k for one request: raw ids, scores, and why a fallback was used (if it was)."""

    items: list[Any]
    scores: list[float]
    user: Any = None
    fallback: bool = False
    reason: str | None = None
    unknown_items: list[Any] = field(default_factory=list)


def _py(ids: np.ndarray) -> list[Any]:
    return ids.tolist()


class Engine:
    """Wraps a loaded model for serving. Not thread-safe: call it from one thread."""

    def __init__(self, model: Any, settings: Settings, manifest: dict[str, Any] | None = None) -> None:
        self.model = model
        self.settings = settings
        self.manifest = manifest or getattr(model, "artifact_manifest_", {}) or {}
        train = model.train_
        self.user_ids = train.user_ids
        self.item_ids = train.item_ids
        self.n_users, self.n_items = train.n_users, train.n_items
        seen = model._seen_
        self.seen = seen
        pop = np.asarray(seen.sum(axis=0)).ravel().astype(np.float32)
        # popularity order, ties by lower code: the fallback for unknown users
        self.pop_order = np.lexsort((np.arange(pop.size), -pop))
        self.pop_scores = pop
        self.retrieval = "model"
        self.retriever: Any = None
        self.index_info: dict[str, Any] | None = None
        self._user_index: dict[str, int] | None = None
        self._choose_retrieval()
        self.score_rows: Any = None
        self.score_cache: dict[str, Any] | None = None
        self._build_score_cache()

    # ------------------------------------------------------------------ set-up
    def _choose_retrieval(self) -> None:
        s, m = self.settings, self.model
        embedding = TAG_EMBEDDING in m.tags and hasattr(m, "user_factors_") and hasattr(m, "item_factors_")
        want = s.retrieval
        if want == "auto":
            # exact search: torch matmul + mask + topk beat FAISS IndexFlatIP here, because
            # excluding seen items makes FAISS fetch k + (seen items) per query (a large heap);
            # HNSW (approximate) pays off on large catalogues only
            # EASE and Mult-VAE: the same scores through a torch path measured faster
            # (benchmarks/serve_compiled.py); other models: their own batched scoring
            large = embedding and (m.item_factors_.shape[0] >= s.hnsw_threshold or s.index == "hnsw")
            has_index = "index.faiss" in self.manifest.get("files", {})  # built on purpose: use it
            has_torch = importlib.util.find_spec("torch") is not None
            if not embedding:
                want = "model"
                if has_torch:
                    from recforge.serve.compiled import make_scorer

                    self.retriever = make_scorer(m)
                    want = "torch" if self.retriever is not None else "model"
            elif large or has_index or s.index == "flat" or not has_torch:
                want = "faiss"
            else:
                want = "torch"
        if want == "faiss" and not embedding:
            from recforge.errors import ConfigError

            raise ConfigError(f"retrieval='faiss' needs an embedding model; {m.name} has no user/item vectors "
                              "(use retrieval='model' or 'auto')")
        if want == "faiss":
            from recforge.serve import index as faiss_index

            stored = (self.manifest.get("metadata") or {}).get("index")
            path = getattr(m, "artifact_path_", None)
            if (stored and path is not None and faiss_index.INDEX_FILE in self.manifest.get("files", {})
                    and s.index in ("auto", stored.get("kind"))):
                from recforge.artifacts import read_extra

                blob = read_extra(path, faiss_index.INDEX_FILE, self.manifest)
                self.retriever = faiss_index.from_bytes(blob, stored)
                self.index_info = {**stored, "source": "artifact"}
            else:
                r = faiss_index.build(m.item_factors_, kind=s.index, hnsw_threshold=s.hnsw_threshold)
                faiss_index.tune_ef_search(r, m.user_factors_, m.item_factors_, k=10, n_queries=500)
                r.info["source"] = "built at start-up"
                self.retriever = r
                self.index_info = r.info
        elif want in ("torch", "torch-compile") and not (want == "torch" and self.retriever is not None):
            from recforge.serve.compiled import make_scorer

            self.retriever = make_scorer(m, compile=want == "torch-compile")
            if self.retriever is None:
                from recforge.errors import ConfigError

                raise ConfigError(f"retrieval={want!r} has no torch path for {m.name}; it exists for embedding "
                                  "models, ease and mult-vae (use retrieval='model' or 'auto')")
        self.retrieval = want

    def _build_score_cache(self, block: int = 1024) -> None:
        """Materialise known users' masked score rows when they fit (see Settings.score_cache_mb)."""
        need = self.n_users * self.n_items * 4
        cap = self.settings.score_cache_mb * 2**20
        if (not cap or need > cap or self.retrieval not in ("torch", "torch-compile")
                or not hasattr(self.retriever, "masked_scores")):
            return
        import torch

        start = time.perf_counter()
        rows = torch.empty((self.n_users, self.n_items), dtype=torch.float32)
        for lo in range(0, self.n_users, block):
            hi = min(self.n_users, lo + block)
            rows[lo:hi] = self.retriever.masked_scores(np.arange(lo, hi))
        self.score_rows = rows
        self.score_cache = {"users": self.n_users, "mib": round(need / 2**20, 1),
                            "build_seconds": round(time.perf_counter() - start, 3)}

    # ------------------------------------------------------------------ ids
    def user_code(self, raw: str) -> int:
        """Code of a user id given as text (from a URL); -1 when unknown. A dict hit is the
        common case; misses go through the vocabulary's own conversion (e.g. ' 42')."""
        if self._user_index is None:
            self._user_index = {str(v): i for i, v in enumerate(self.user_ids.tolist())}
        code = self._user_index.get(raw)
        return code if code is not None else int(self.encode_users([raw])[0])

    def encode_users(self, raw: list[Any]) -> np.ndarray:
        if not raw:
            return np.zeros(0, np.int64)
        return self.model.train_.encode_users(np.asarray(raw, dtype=object), missing="mask")

    def encode_items(self, raw: list[Any]) -> np.ndarray:
        if not raw:
            return np.zeros(0, np.int64)
        return self.model.train_.encode_items(np.asarray(raw, dtype=object), missing="mask")

    def user_id(self, code: int) -> Any:
        return self.user_ids[code].item() if hasattr(self.user_ids[code], "item") else self.user_ids[code]

    def item_id(self, code: int) -> Any:
        v = self.item_ids[code]
        return v.item() if hasattr(v, "item") else v

    # ------------------------------------------------------------------ scoring (worker thread)
    def topk_codes(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k item codes/scores for known user codes, seen items excluded."""
        if self.score_rows is not None:
            import torch

            from recforge.serve.compiled import _to_numpy, fast_topk

            with torch.inference_mode():
                vals, idx = fast_topk(self.score_rows[torch.from_numpy(np.asarray(codes, np.int64))],
                                      min(k, self.n_items))
            return _to_numpy(vals, idx)
        if self.retrieval == "faiss":
            q = self.model.user_factors_[codes]
            return self.retriever.topk_excluding(q, min(k, self.n_items), self.seen, codes)
        if self.retrieval in ("torch", "torch-compile"):
            return self.retriever.topk(codes, k)
        return self.model.recommend_codes(codes, k)

    def _pack(self, idx: np.ndarray, val: np.ndarray) -> tuple[list[Any], list[float]]:
        keep = idx >= 0
        return _py(self.item_ids[idx[keep]]), val[keep].astype(float).tolist()

    def popular(self, k: int, exclude: np.ndarray | None = None) -> tuple[list[Any], list[float]]:
        order = self.pop_order
        if exclude is not None and exclude.size:
            order = order[~np.isin(order, exclude)]
        top = order[:k]
        return _py(self.item_ids[top]), self.pop_scores[top].astype(float).tolist()

    def recommend_users(self, jobs: list[tuple[np.ndarray, int]]) -> list[list[tuple[list[Any], list[float]]]]:
        """Score several requests (each: known user codes, k) in one batch."""
        if not jobs:
            return []
        codes = np.concatenate([c for c, _ in jobs])
        kmax = max(k for _, k in jobs)
        out: list[list[tuple[list[Any], list[float]]]] = []
        idx_all = np.empty((0, 0), np.int64)
        val_all = np.empty((0, 0), np.float32)
        if codes.size:
            parts_i, parts_v = [], []
            step = max(1, self.settings.max_batch)
            for lo in range(0, codes.size, step):
                i, v = self.topk_codes(codes[lo:lo + step], kmax)
                parts_i.append(i)
                parts_v.append(v)
            idx_all, val_all = np.vstack(parts_i), np.vstack(parts_v)
        pos = 0
        for c, k in jobs:
            rows = [self._pack(idx_all[pos + j, :k], val_all[pos + j, :k]) for j in range(c.size)]
            pos += c.size
            out.append(rows)
        return out

    def recommend_history(self, history: list[Any], k: int) -> Result:
        codes = self.encode_items(history)
        unknown = [h for h, c in zip(history, codes.tolist(), strict=True) if c < 0]
        known = np.unique(codes[codes >= 0])
        if TAG_FOLD_IN in self.model.tags and known.size:
            if hasattr(self.retriever, "topk_history"):
                import scipy.sparse as sp

                row = sp.csr_matrix((np.ones(known.size, np.float32), known, [0, known.size]),
                                    shape=(1, self.n_items))
                idx, val = self.retriever.topk_history(row, k)
                items, scores = self._pack(idx[0], val[0])
            else:
                recs, _ = self.model.recommend_history([_py(self.item_ids[known])], k=k)
                items, scores = self._pack(recs.item_codes[0], recs.scores[0])
            return Result(items=items, scores=scores, unknown_items=unknown)
        reason = ("no known items in the history" if TAG_FOLD_IN in self.model.tags
                  else f"{self.model.name} cannot fold in a history")
        items, scores = self.popular(k, exclude=known)
        return Result(items=items, scores=scores, fallback=True, reason=reason, unknown_items=unknown)

    def similar(self, code: int, k: int) -> tuple[list[Any], list[float]]:
        m = self.model
        if TAG_SIMILAR_ITEMS in m.tags and hasattr(m, "similar_items"):
            idx, val = m.similar_items(np.array([code]), k)
            return self._pack(np.asarray(idx)[0], np.asarray(val, dtype=np.float32)[0])
        # co-occurrence (item-item cosine on the training matrix) for models without their own
        X = self.seen.tocsc()
        col = X[:, code]
        co = np.asarray((X.T @ col).todense()).ravel().astype(np.float32)
        norms = np.sqrt(np.asarray(X.sum(axis=0)).ravel()).astype(np.float32)
        norms[norms == 0] = 1.0
        sim = co / (norms * norms[code])
        sim[code] = -np.inf
        from recforge.models.base import topk_rows

        idx, val = topk_rows(sim[None, :], k)
        idx[~np.isfinite(val)] = -1
        return self._pack(idx[0], val[0])

    def describe(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "model": self.model.name,
            "config": self.model.config.to_dict(),
            "tags": sorted(self.model.tags),
            "n_users": self.n_users,
            "n_items": self.n_items,
            "retrieval": self.retrieval,
            "index": self.index_info,
            "score_cache": self.score_cache,
            "created": m.get("created"),
            "versions": m.get("versions"),
            "artifact_metadata": m.get("metadata"),
            "fold_in": TAG_FOLD_IN in self.model.tags,
        }


class MicroBatcher:
    """Collects the scoring jobs that arrive while a batch is being scored; scores them together.

    With an executor, model calls run on its one worker thread (the model is not thread-safe;
    numpy/BLAS/FAISS release the GIL there). Without one they run inline on the event loop;
    the requests that arrive meanwhile are parsed after the batch and form the next one.
    """

    def __init__(self, fn: Callable[[list[Any]], list[Any]], executor: concurrent.futures.Executor | None,
                 max_batch: int) -> None:
        self.fn = fn
        self.executor = executor
        self.max_batch = max_batch
        self._pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.jobs = 0

    async def submit(self, job: Any) -> Any:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self._pending.append((job, fut))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            self.batches += 1
            self.jobs += len(batch)
            try:
                jobs = [j for j, _ in batch]
                if self.executor is None:  # inline: requests parsed meanwhile wait in the socket buffers
                    results = self.fn(jobs)
                else:
                    results = await loop.run_in_executor(self.executor, self.fn, jobs)
            except BaseException as exc:  # handed to every waiting request
                for _, f in batch:
                    if not f.done():
                        f.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, f), r in zip(batch, results, strict=True):
                if not f.done():
                    f.set_result(r)


def load_engine(settings: Settings) -> Engine:
    """Load (and verify) the artifact named in ``settings`` and wrap it for serving."""
    from recforge.artifacts import load

    start = time.perf_counter()
    model = load(Path(settings.artifact))
    engine = Engine(model, settings)
    engine.load_seconds = time.perf_counter() - start  # type: ignore[attr-defined]
    return engine
