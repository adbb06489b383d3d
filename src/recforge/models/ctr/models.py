"""The registered CTR models: ``lr``, ``fm``, ``wide-deep``, ``deepfm``, ``dcn-v2``, ``dlrm``."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, ClassVar

from recforge.config import Config, param
from recforge.data.features import FeatureVocab
from recforge.models.ctr.base import CTRConfig, CTRModel, MLPConfig

if TYPE_CHECKING:
    from torch import nn


class LR(CTRModel):
    """Logistic regression over one-hot (and log-scaled numeric) features."""

    name: ClassVar[str] = "lr"
    config_class: ClassVar[type[Config]] = CTRConfig

    def _build(self, vocab: FeatureVocab) -> nn.Module:
        from recforge.models.ctr.networks import LRNet

        c = self.cfg
        return LRNet(vocab.n_features, len(vocab.fields), 1, init_std=c.init_std)


class FM(CTRModel):
    """Factorization machine (Rendle, ICDM 2010), pairwise term in O(k n)."""

    name: ClassVar[str] = "fm"
    config_class: ClassVar[type[Config]] = CTRConfig

    def _build(self, vocab: FeatureVocab) -> nn.Module:
        from recforge.models.ctr.networks import FMNet

        c = self.cfg
        return FMNet(vocab.n_features, len(vocab.fields), c.dim, init_std=c.init_std)


class WideDeep(CTRModel):
    """Wide & Deep (Cheng et al., DLRS 2016)."""

    name: ClassVar[str] = "wide-deep"
    config_class: ClassVar[type[Config]] = MLPConfig

    def _build(self, vocab: FeatureVocab) -> nn.Module:
        from recforge.models.ctr.networks import WideDeepNet

        c = self.config
        assert isinstance(c, MLPConfig)
        return WideDeepNet(vocab.n_features, len(vocab.fields), c.dim, c.hidden, c.dropout, c.init_std)


class DeepFM(CTRModel):
    """DeepFM (Guo et al., IJCAI 2017): FM and an MLP sharing one embedding layer."""

    name: ClassVar[str] = "deepfm"
    config_class: ClassVar[type[Config]] = MLPConfig

    def _build(self, vocab: FeatureVocab) -> nn.Module:
        from recforge.models.ctr.networks import DeepFMNet

        c = self.config
        assert isinstance(c, MLPConfig)
        return DeepFMNet(vocab.n_features, len(vocab.fields), c.dim, c.hidden, c.dropout, c.init_std)


@dataclasses.dataclass(frozen=True)
class DCNv2Config(MLPConfig):
    """DCN-v2 settings."""

    cross_layers: int = param(3, low=1, high=16, doc="number of cross layers")


class DCNv2(CTRModel):
    """DCN-v2 (Wang et al., WWW 2021), full-rank cross layers in parallel with an MLP."""

    name: ClassVar[str] = "dcn-v2"
    config_class: ClassVar[type[Config]] = DCNv2Config

    def _build(self, vocab: FeatureVocab) -> nn.Module:
        from recforge.models.ctr.networks import DCNv2Net

        c = self.config
        assert isinstance(c, DCNv2Config)
        return DCNv2Net(vocab.n_features, len(vocab.fields), c.dim, c.hidden, c.cross_layers,
                        c.dropout, c.init_std)


@dataclasses.dataclass(frozen=True)
class DLRMConfig(MLPConfig):
    """DLRM settings."""

    bottom: tuple[int, ...] = param((64,), doc="bottom MLP hidden sizes for dense fields (output = dim)")


class DLRM(CTRModel):
    """DLRM (Naumov et al., 2019) with the dot interaction."""

    name: ClassVar[str] = "dlrm"
    config_class: ClassVar[type[Config]] = DLRMConfig

    def _build(self, vocab: FeatureVocab) -> nn.Module:
        import torch

        from recforge.models.ctr.networks import DLRMNet

        c = self.config
        assert isinstance(c, DLRMConfig)
        mask = torch.from_numpy(vocab.dense_mask)
        return DLRMNet(vocab.n_features, len(vocab.fields), c.dim, c.hidden, c.bottom, mask,
                       c.dropout, c.init_std)
