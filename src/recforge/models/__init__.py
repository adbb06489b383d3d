"""Recommender models behind one protocol (see :mod:`recforge.models.base`).

>>> from recforge import models
>>> models.names()[:2]          # doctest: +SKIP
>>> EASE = models.get("ease")   # imported lazily
"""

from __future__ import annotations

from recforge.models.base import EpochReport, Recommendations, Recommender
from recforge.registry import create, get, names

__all__ = ["EpochReport", "Recommendations", "Recommender", "create", "get", "names"]


def __getattr__(attr: str) -> object:
    """Registered model classes by class name, imported lazily (``rf.models.EASE``)."""
    import importlib

    from recforge import registry

    for target in registry._all().values():
        module, _, cls = target.partition(":")
        if cls == attr:
            return getattr(importlib.import_module(module), cls)
    raise AttributeError(f"module 'recforge.models' has no attribute {attr!r}")
