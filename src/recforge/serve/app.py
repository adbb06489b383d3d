"""The FastAPI application: ``create_app(settings)``.

Endpoints (raw ids in and out):

- ``GET /recommend/{user_id}?k=10`` — top-k for a user; an unknown user gets the training
  popularity, flagged ``fallback: true`` with a reason.
- ``POST /recommend`` — ``{"users": [...], "k": 10}`` or ``{"history": [...], "k": 10}``
  (fold-in for models that support it; unknown items are ignored and listed).
- ``GET /similar/{item_id}?k=10`` — similar items (404 for an unknown item).
- ``GET /health``, ``GET /metadata``, ``GET /metrics`` (Prometheus text format).

Bad input is answered 422 naming the field (FastAPI/pydantic's error format), overload 503.
"""

# no "from __future__ import annotations": FastAPI must resolve the local Annotated aliases
import asyncio
import concurrent.futures
import contextlib
import gc
import json
import math
import os
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from recforge.serve.engine import Engine, MicroBatcher, load_engine
from recforge.serve.metrics import ServiceMetrics, ServiceMiddleware
from recforge.serve.schemas import (
    Health,
    Problem,
    Recommendation,
    RecommendRequest,
    RecommendResponse,
    SimilarResponse,
)
from recforge.serve.settings import Settings

SETTINGS_ENV = "RECFORGE_SERVE_SETTINGS"


def _too_large(loc: tuple[str, ...], value: Any, limit: int, what: str) -> RequestValidationError:
    return RequestValidationError([{
        "type": "less_than_equal" if what == "value" else "too_long",
        "loc": loc,
        "msg": f"{'Input should be less than or equal to' if what == 'value' else 'List should have at most'} "
               f"{limit}{'' if what == 'value' else ' items'} (a limit of this service)",
        "input": value if what == "value" else f"{len(value)} items",
        "ctx": {"le" if what == "value" else "max_length": limit},
    }])


def _json_safe(obj: Any) -> Any:
    """Replace NaN and infinities (which strict JSON cannot hold) by their text, recursively."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def set_compute_threads(n: int) -> None:
    """Limit BLAS/OpenMP (numpy, scipy, FAISS) and torch to ``n`` threads in this process."""
    import importlib.util

    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=n)  # stays in force (not used as a context manager)
    if importlib.util.find_spec("faiss") is not None:
        import faiss

        faiss.omp_set_num_threads(n)
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.set_num_threads(n)


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the service for the artifact named in ``settings`` (loaded and verified now).

    Args:
        settings: service settings (artifact directory, limits, retrieval path).
        engine: an already loaded engine (tests); loaded from ``settings.artifact`` if None.

    Example:
        >>> app = create_app(Settings(artifact="artifacts/best"))   # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8000)            # doctest: +SKIP
    """
    if settings.threads is not None:
        set_compute_threads(settings.threads)
    eng = engine if engine is not None else load_engine(settings)
    metrics = ServiceMetrics()
    executor = (concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="recforge-score")
                if settings.scoring_thread else None)

    def score_jobs(jobs: list[tuple[np.ndarray, int]]) -> list[Any]:
        metrics.batch_size.observe(sum(int(c.size) for c, _ in jobs))
        return eng.recommend_users(jobs)

    batcher = MicroBatcher(score_jobs, executor, settings.max_batch)
    started = time.time()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Everything alive now (model, framework, imported modules: ~220k objects for EASE
        # on ml-latest-small) lives as long as the service: move it out of the cyclic garbage
        # collector's sight. Otherwise every full collection walks it -- measured 90 ms, which
        # was the whole p99 at 32 concurrent clients (p50 6 ms, p99 104-130 ms).
        gc.collect()
        gc.freeze()
        yield
        gc.unfreeze()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="recforge recommendation service",
        version=__import__("recforge").__version__,
        description=f"Serves the {eng.model.name} model from {settings.artifact}.",
        lifespan=lifespan,
    )
    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler, except that an echoed input such as Infinity (accepted by
        # Python's JSON parser, refused by the strict encoder) cannot turn a 422 into a 500
        return JSONResponse(status_code=422, content={"detail": _json_safe(jsonable_encoder(exc.errors()))})

    app.state.engine = eng
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.batcher = batcher
    max_k = settings.max_k
    K = Annotated[int, Query(ge=1, le=max_k, description=f"list length (1..{max_k})")]
    overload: dict[int | str, dict[str, Any]] = {503: {"model": Problem, "description": "overloaded; retry after the Retry-After delay"}}

    async def in_worker(fn: Any, *args: Any) -> Any:
        if executor is None:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)

    def fallback(k: int, reason: str, user: Any) -> Recommendation:
        items, scores = eng.popular(k)
        metrics.fallbacks.labels(reason).inc()
        return Recommendation(user=user, items=items, scores=scores, fallback=True, reason=reason)

    def fast(body: Any) -> Response:
        # a Response skips FastAPI's re-validation and jsonable_encoder pass; the body is a
        # model built (and so validated) here, serialised by pydantic-core
        return Response(body.model_dump_json(), media_type="application/json")

    async def recommend_one(user_id: str, k: int) -> bytes:
        code = eng.user_code(user_id)
        if code < 0:
            return fallback(k, "unknown user", user_id).model_dump_json().encode()
        rows = await batcher.submit((np.array([code], np.int64), k))
        items, scores = rows[0]
        return Recommendation(user=eng.user_id(code), items=items, scores=scores).model_dump_json().encode()

    @app.get("/recommend/{user_id}", response_model=Recommendation, responses=overload,
             summary="Top-k items for one user")
    async def recommend_user(user_id: Annotated[str, Path(min_length=1, max_length=256)], k: K = 10) -> Any:
        return Response(await recommend_one(user_id, k), media_type="application/json")

    @app.post("/recommend", response_model=RecommendResponse, responses=overload,
              summary="Top-k for a batch of users, or for an anonymous item history")
    async def recommend_batch(body: RecommendRequest) -> Any:
        if body.k > max_k:
            raise _too_large(("body", "k"), body.k, max_k, "value")
        if body.history is not None:
            if len(body.history) > settings.max_history:
                raise _too_large(("body", "history"), body.history, settings.max_history, "list")
            res = await in_worker(eng.recommend_history, body.history, body.k)
            if res.fallback:
                metrics.fallbacks.labels(res.reason or "history").inc()
            rec = Recommendation(user=None, items=res.items, scores=res.scores, fallback=res.fallback,
                                 reason=res.reason, unknown_items=res.unknown_items)
            return RecommendResponse(model=eng.model.name, k=body.k, results=[rec])
        users = body.users or []
        if len(users) > settings.max_users:
            raise _too_large(("body", "users"), users, settings.max_users, "list")
        codes = eng.encode_users(users)
        known = codes[codes >= 0]
        rows = (await batcher.submit((known, body.k)))[:] if known.size else []
        results: list[Recommendation] = []
        it = iter(rows)
        for raw, c in zip(users, codes.tolist(), strict=True):
            if c < 0:
                results.append(fallback(body.k, "unknown user", raw))
            else:
                items, scores = next(it)
                results.append(Recommendation(user=eng.user_id(c), items=items, scores=scores))
        return fast(RecommendResponse(model=eng.model.name, k=body.k, results=results))

    @app.get("/similar/{item_id}", response_model=SimilarResponse,
             responses={404: {"model": Problem, "description": "unknown item"}, 503: overload[503]},
             summary="Items similar to an item")
    async def similar(item_id: Annotated[str, Path(min_length=1, max_length=256)], k: K = 10) -> Any:
        code = int(eng.encode_items([item_id])[0])
        if code < 0:
            return JSONResponse(status_code=404, content={
                "detail": f"unknown item {item_id!r}: not in the model's catalogue of {eng.n_items} items"})
        items, scores = await in_worker(eng.similar, code, k)
        return SimilarResponse(model=eng.model.name, item=eng.item_id(code), items=items, scores=scores)

    @app.get("/health", response_model=Health, summary="Liveness and the model served")
    async def health() -> Health:
        return Health(status="ok", model=eng.model.name, n_users=eng.n_users, n_items=eng.n_items)

    @app.get("/metadata", summary="The model, its artifact manifest and the retrieval path")
    async def metadata() -> dict[str, Any]:
        return {**eng.describe(), "service": {
            "artifact": str(settings.artifact), "settings": json.loads(settings.model_dump_json()),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "load_seconds": getattr(eng, "load_seconds", None), "pid": os.getpid(),
            "scoring_batches": batcher.batches, "scoring_jobs": batcher.jobs,
        }}

    @app.get("/metrics", summary="Prometheus metrics (text format)",
             responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    route = next(r for r in app.routes if getattr(r, "path", None) == "/recommend/{user_id}")
    app.add_middleware(FastRecommendPath, handle=recommend_one, max_k=max_k, route=route)
    app.add_middleware(ServiceMiddleware, metrics=metrics, max_concurrency=settings.max_concurrency)
    return app


_PLAIN_K = re.compile(rb"(?:k=([1-9][0-9]{0,6}))?")


class FastRecommendPath:
    """``GET /recommend/{user_id}[?k=N]`` with a plain id and k answered without FastAPI's
    routing, dependency solving and parameter validation -- the same handler, the same body.

    The hot path of a recommendation service; FastAPI's per-request machinery cost about as
    much as scoring a user here (profiled with py-spy under 32 concurrent clients, ALS on
    gowalla). Anything that is not that plain shape (other query parameters, k out of range or
    not a plain integer, an id with a slash or over 256 characters) goes to the FastAPI route,
    which validates it and answers exactly as it always does (422 naming the field, ...).
    """

    def __init__(self, app: Any, handle: Any, max_k: int, route: Any) -> None:
        self.app = app
        self.handle = handle
        self.max_k = max_k
        self.route = route

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith("/recommend/"):
            user = scope["path"][11:]
            m = _PLAIN_K.fullmatch(scope.get("query_string", b""))
            if m is not None and 0 < len(user) <= 256 and "/" not in user:
                k = int(m.group(1)) if m.group(1) else 10
                if k <= self.max_k:
                    scope["route"] = self.route  # the metrics label FastAPI would set
                    body = await self.handle(user, k)
                    await send({"type": "http.response.start", "status": 200,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode())]})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` / several workers: settings JSON in $RECFORGE_SERVE_SETTINGS."""
    raw = os.environ.get(SETTINGS_ENV)
    if not raw:
        raise RuntimeError(f"set {SETTINGS_ENV} to the service settings as JSON")
    return create_app(Settings.model_validate_json(raw))
