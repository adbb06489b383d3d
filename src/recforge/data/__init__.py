"""Data containers and readers: interactions, CTR feature logs, logged bandit feedback."""

from __future__ import annotations

import importlib
from typing import Any

from recforge.data.interactions import Interactions, PreprocessReport
from recforge.data.preprocess import (
    deduplicate,
    filter_rating,
    k_core,
)
from recforge.data.readers import read_interactions, read_table

_LAZY = {
    "FeatureLog": "recforge.data.features:FeatureLog",
    "BanditLog": "recforge.data.bandit:BanditLog",
}

__all__ = [
    "BanditLog",
    "FeatureLog",
    "Interactions",
    "PreprocessReport",
    "deduplicate",
    "filter_rating",
    "k_core",
    "read_interactions",
    "read_table",
]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'recforge.data' has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)
