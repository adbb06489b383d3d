"""Serve a saved model over HTTP: ``create_app(settings)`` (FastAPI), FAISS retrieval for
embedding models, popularity fallback, Prometheus metrics, bounded in-flight requests.

Needs the ``serve`` extra: ``pip install 'recforge[serve]'``.

Example:
    >>> from recforge.serve import Settings, create_app          # doctest: +SKIP
    >>> app = create_app(Settings(artifact="artifacts/best"))    # doctest: +SKIP
"""

from __future__ import annotations

from recforge.errors import require

require("fastapi", "serve")
require("prometheus_client", "serve")

from recforge.serve.app import create_app  # noqa: E402
from recforge.serve.settings import Settings  # noqa: E402

__all__ = ["Settings", "create_app"]
