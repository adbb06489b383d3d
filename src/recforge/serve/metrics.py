"""Prometheus metrics and the in-flight limit, as one pure ASGI middleware.

Metrics are written with ``prometheus_client`` into a registry owned by the app (so that
several apps in one process, as in tests, do not share counters). A pure ASGI middleware is
used instead of Starlette's ``BaseHTTPMiddleware`` because the latter adds a task and a
stream per request, a noticeable cost at thousands of requests per second.

The in-flight limit counts requests inside the app (being scored or waiting for the worker
thread). uvicorn's own ``--limit-concurrency`` counts open *connections*, so idle keep-alive
clients would be refused; counting requests refuses only real overload.
"""

from __future__ import annotations

import json
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05,
                   0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    """The service's counters, histograms and gauges in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("recforge_requests", "HTTP requests by route, method and status",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("recforge_request_duration_seconds", "Request latency in the app",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("recforge_requests_in_flight", "Requests being handled", registry=r)
        self.rejected = Counter("recforge_overload_rejections", "Requests answered 503 (in-flight limit)",
                                registry=r)
        self.fallbacks = Counter("recforge_fallbacks", "Lists served by the popularity fallback",
                                 ["reason"], registry=r)
        self.batch_size = Histogram("recforge_scoring_batch_users", "Users scored per micro-batch",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), registry=r)


class ServiceMiddleware:
    """Counts and times every HTTP request; answers 503 beyond ``max_concurrency``."""

    def __init__(self, app: Any, metrics: ServiceMetrics, max_concurrency: int,
                 exempt: tuple[str, ...] = ("/health", "/metrics")) -> None:
        self.app = app
        self.metrics = metrics
        self.max_concurrency = max_concurrency
        self.exempt = frozenset(exempt)
        self.in_flight = 0
        self._children: dict[tuple[str, str, str], Any] = {}  # labels() lookups are not free

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limited = scope["path"] not in self.exempt
        if limited and self.in_flight >= self.max_concurrency:
            self.metrics.rejected.inc()
            self.metrics.requests.labels("overload", scope["method"], "503").inc()
            body = json.dumps({"detail": f"overloaded: {self.in_flight} requests in flight "
                                         f"(limit {self.max_concurrency}); retry shortly"}).encode()
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        status = 500
        start = time.perf_counter()

        async def send_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        if limited:
            self.in_flight += 1
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            if limited:
                self.in_flight -= 1
            self.metrics.in_flight.dec()
            route = scope.get("route")
            label = getattr(route, "path", None) or "unmatched"
            key = (label, scope["method"], str(status))
            pair = self._children.get(key)
            if pair is None:
                pair = self._children[key] = (self.metrics.requests.labels(*key),
                                              self.metrics.latency.labels(label))
            pair[0].inc()
            pair[1].observe(time.perf_counter() - start)
