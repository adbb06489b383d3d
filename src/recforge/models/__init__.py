"""Recommender models behind one protocol (see :mod:`recforge.models.base`).

>>> from recforge import models
>>> models.names()[:2]          # doctest: +SKIP
>>> EASE = models.get("ease")   # imported lazily
"""

from __future__ import annotations

from recforge.models.base import EpochReport, Recommendations, Recommender
from recforge.registry import create, get, names

__all__ = ["EpochReport", "Recommendations", "Recommender", "create", "get", "names"]
