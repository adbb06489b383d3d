"""Model registry: name -> "module:Class", imported lazily.

Importing a model module may pull in torch; the registry keeps ``import recforge`` light by
importing only the model that is asked for.  An unknown name lists the valid ones.
"""

from __future__ import annotations

import importlib
from typing import Any

from recforge.errors import ConfigError

# Top-K recommenders (user x item).
_TOPK: dict[str, str] = {
    # traditional
    "most-popular": "recforge.models.baselines:MostPopular",
    "random": "recforge.models.baselines:RandomRecommender",
    # -- traditional models (issue 3) --
    "item-knn": "recforge.models.knn:ItemKNN",
    "rp3beta": "recforge.models.knn:RP3beta",
    "ease": "recforge.models.ease:EASE",
    "als": "recforge.models.mf:ALS",
    "bpr": "recforge.models.mf:BPR",
    # -- neural models (issue 4) --
    "mult-vae": "recforge.models.neural.mult_vae:MultVAE",
    "lightgcn": "recforge.models.neural.lightgcn:LightGCN",
    "sasrec": "recforge.models.neural.sasrec:SASRec",
    "two-tower": "recforge.models.neural.two_tower:TwoTower",
    # -- two-stage (issue 10) --
    "two-stage": "recforge.models.two_stage:TwoStage",
}

# CTR rankers (feature logs).
_CTR: dict[str, str] = {
    # -- CTR models (issue 5) --
    "lr": "recforge.models.ctr.models:LR",
    "fm": "recforge.models.ctr.models:FM",
    "wide-deep": "recforge.models.ctr.models:WideDeep",
    "deepfm": "recforge.models.ctr.models:DeepFM",
    "dcn-v2": "recforge.models.ctr.models:DCNv2",
    "dlrm": "recforge.models.ctr.models:DLRM",
}

_ALIASES: dict[str, str] = {
    "widedeep": "wide-deep",
    "dcnv2": "dcn-v2",
    "pop": "most-popular",
    "popularity": "most-popular",
    "itemknn": "item-knn",
    "bpr-mf": "bpr",
    "mf-bpr": "bpr",
}


def _all() -> dict[str, str]:
    return {**_TOPK, **_CTR}


def names(kind: str | None = None) -> list[str]:
    """Registered model names; ``kind`` is ``"topk"``, ``"ctr"`` or ``None`` for all."""
    if kind is None:
        return sorted(_all())
    if kind == "topk":
        return sorted(_TOPK)
    if kind == "ctr":
        return sorted(_CTR)
    raise ConfigError(f"kind must be 'topk', 'ctr' or None, got {kind!r}")


def canonical(name: str) -> str:
    key = name.strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in _all():
        raise ConfigError(f"unknown model {name!r}; valid names are: {', '.join(names())}")
    return key


def get(name: str) -> Any:
    """Return the model class registered under ``name`` (case-insensitive)."""
    key = canonical(name)
    module_name, _, attr = _all()[key].partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def create(name: str, params: dict[str, Any] | None = None) -> Any:
    """Instantiate a registered model from a parameter mapping (validated by its config)."""
    cls = get(name)
    return cls(**(params or {}))
