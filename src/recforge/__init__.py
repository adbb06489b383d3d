"""recforge: efficient AutoML for recommender systems.

>>> import recforge as rf
>>> data = rf.datasets.load("ml-latest-small")            # doctest: +SKIP
>>> train, valid, test = rf.split.leave_last_out(data)     # doctest: +SKIP
>>> model = rf.models.get("ease")(l2=500.0).fit(train)     # doctest: +SKIP
>>> rf.evaluate(model, test, train=train, metrics=["ndcg@10"])  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from recforge.errors import (
    ArtifactError,
    ConfigError,
    DataError,
    NotFittedError,
    RecforgeError,
)

__version__ = "0.1.0"

# Public names resolved lazily so that ``import recforge`` stays fast (no torch, no optuna).
_LAZY = {
    "Interactions": "recforge.data:Interactions",
    "FeatureLog": "recforge.data:FeatureLog",
    "BanditLog": "recforge.data:BanditLog",
    "evaluate": "recforge.evaluation:evaluate",
    "search": "recforge.search:search",
    "save": "recforge.artifacts:save",
    "load": "recforge.artifacts:load",
    "data": "recforge.data",
    "datasets": "recforge.datasets",
    "split": "recforge.split",
    "models": "recforge.models",
    "metrics": "recforge.metrics",
}

__all__ = [
    "ArtifactError",
    "ConfigError",
    "DataError",
    "NotFittedError",
    "RecforgeError",
    "__version__",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'recforge' has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    value = getattr(module, attr) if attr else module
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
