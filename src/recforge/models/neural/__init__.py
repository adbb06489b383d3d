"""Neural top-K recommenders in PyTorch (Mult-VAE, LightGCN, SASRec, two-tower).

Importing this package does not import torch; each model module imports it when a model is
built. The shared epoch loop lives in :mod:`recforge.models.neural.loop`.
"""

from __future__ import annotations

__all__ = ["LightGCN", "MultVAE", "SASRec", "TwoTower"]


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    targets = {
        "LightGCN": "recforge.models.neural.lightgcn",
        "MultVAE": "recforge.models.neural.mult_vae",
        "SASRec": "recforge.models.neural.sasrec",
        "TwoTower": "recforge.models.neural.two_tower",
    }
    if name not in targets:
        raise AttributeError(f"module 'recforge.models.neural' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(targets[name]), name)
