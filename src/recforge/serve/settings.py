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
        retrieval: ``auto`` (FAISS for embedding models, the model's own batched scoring
            otherwise), ``faiss``, ``torch`` (matmul + topk), ``torch-compile`` or ``model``.
        index: FAISS index kind for embedding models: ``auto`` (exact below
            ``hnsw_threshold`` items, HNSW above), ``flat`` or ``hnsw``.
        hnsw_threshold: catalogue size from which ``index=auto`` picks HNSW.
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
    scoring_thread: bool = False
