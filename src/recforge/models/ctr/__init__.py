"""CTR ranking models on feature logs: LR, FM, Wide&Deep, DeepFM, DCN-v2, DLRM.

All share one embedding layer (:class:`~recforge.models.ctr.layers.FeatureEmbedding`), the
training loop of :mod:`recforge.models.ctr.loop` and the :class:`CTRModel` contract.
Importing this package imports torch.
"""

from __future__ import annotations

from recforge.models.ctr.base import CTRConfig, CTRModel, MLPConfig
from recforge.models.ctr.models import (
           DLRM,
           FM,
           LR,
           DCNv2,
           DCNv2Config,
           DeepFM,
           DLRMConfig,
           WideDeep,
)

__all__ = ["CTRConfig", "CTRModel", "DCNv2", "DCNv2Config", "DLRM", "DLRMConfig", "DeepFM", "FM", "LR",
           "MLPConfig", "WideDeep"]
