"""Settings of the recommendation service (validated by pydantic)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """Everything :func:`recforge.serve.create_app` needs.

    Attributes:
        artifact: the artifact directory written by ``rf.save`` / ``recforge fit``.
        max_k: largest ``k`` a request may ask for (larger -> 422).
        max_users: most users in one ``POST /recommend`` body.
        max_history: most item ids in one anonymous history.
        max_concurrency: requests in flight (being scored or waiting to be) before the
            service answers 503 with ``Retry-After``; /health and /metrics are exempt.
        max_batch: most users scored together in one micro-batch.
        retrieval: ``auto``: for embedding models exact torch scoring (matmul, seen mask,
            topk) below ``hnsw_threshold`` items and a FAISS HNSW index above it; the model's
            own batched scoring otherwise. Or force ``faiss`` (index per ``index``), ``torch``,
            ``torch-compile`` or ``model``.
        index: FAISS index kind for embedding models: ``auto`` (exact below
            ``hnsw_threshold`` items, HNSW above), ``flat`` or ``hnsw``.
        hnsw_threshold: catalogue size from which ``index=auto`` picks HNSW.
        threads: compute threads of BLAS, OpenMP (FAISS) and torch in this process; None
            leaves them alone. ``recforge serve`` passes 1: on a busy or small machine
            multi-threaded kernels spin against each other per request (measured: ALS top-10
            for one gowalla user 22 ms with 2 threads vs 1.8 ms with 1 on a loaded 2-core box);
            scale with ``--workers`` instead.
        score_cache_mb: materialise the masked score rows of every known user at start-up
            when they fit in this many MiB (users x items x 4 bytes), so a known user's request
            costs a row read and a top-k instead of scoring (EASE on ml-latest-small: 23 MiB,
            ~0.6 ms of memory-bound scoring per user saved). 0 disables it. Only for the torch
            scoring paths (EASE, Mult-VAE, embedding models).
        scoring_thread: score on a worker thread instead of on the event loop. Inline
            (the default) avoids a GIL hand-off per batch, which costs up to the interpreter's
            5 ms switch interval when both threads are busy; the thread keeps /health
            responsive during long batches.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    artifact: Path
    max_k: int = Field(default=1000, ge=1, le=100_000)
    max_users: int = Field(default=1000, ge=1, le=100_000)
    max_history: int = Field(default=10_000, ge=1, le=1_000_000)
    max_concurrency: int = Field(default=256, ge=1, le=100_000)
    max_batch: int = Field(default=256, ge=1, le=100_000)
    retrieval: Literal["auto", "faiss", "torch", "torch-compile", "model"] = "auto"
    index: Literal["auto", "flat", "hnsw"] = "auto"
    hnsw_threshold: int = Field(default=200_000, ge=1)
    threads: int | None = Field(default=None, ge=1, le=1024)
    score_cache_mb: int = Field(default=256, ge=0, le=1_000_000)
    scoring_thread: bool = False
