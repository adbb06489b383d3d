"""The CTR networks: LR, FM, Wide&Deep, DeepFM, DCN-v2, DLRM (torch ``nn.Module``s).

All share :class:`~recforge.models.ctr.layers.FeatureEmbedding`; each ``forward(index, value)``
returns logits (B,). ``dense_mask`` (per field, True for dense numeric fields) lets DLRM send
dense fields through its bottom MLP as in the paper; the other models scale the field's
embedding by the value (the FM/DeepFM convention).
"""

from __future__ import annotations

import torch
from torch import nn

from recforge.models.ctr.layers import (
    MLP,
    CrossNetV2,
    FeatureEmbedding,
    dot_interaction,
    float32_linear,
    fm_interaction,
    xavier_mlp_init,
)


class CTRNet(nn.Module):
    """Base: the shared embedding layer plus a global bias."""

    def __init__(self, n_features: int, n_fields: int, dim: int, init_std: float = 1e-4) -> None:
        super().__init__()
        self.n_fields = n_fields
        self.dim = dim
        self.embedding = FeatureEmbedding(n_features, dim, init_std=init_std)
        self.bias = nn.Parameter(torch.zeros(1))

    def sparse_parameters(self) -> list[torch.Tensor]:
        """Parameters with sparse gradients (the embedding table): optimised by SparseAdam."""
        return [self.embedding.table.weight]

    def dense_parameters(self) -> list[torch.Tensor]:
        sparse = {id(p) for p in self.sparse_parameters()}
        return [p for p in self.parameters() if id(p) not in sparse]


class LRNet(CTRNet):
    """Logistic regression on one-hot features: bias + sum of first-order weights."""

    def forward(self, index: torch.Tensor, value: torch.Tensor | None) -> torch.Tensor:
        lin, _ = self.embedding(index, value)
        return lin + self.bias


class FMNet(CTRNet):
    """Factorization machine (Rendle 2010) with the O(kn) pairwise term."""

    def forward(self, index: torch.Tensor, value: torch.Tensor | None) -> torch.Tensor:
        lin, emb = self.embedding(index, value)
        return lin + fm_interaction(emb) + self.bias


class WideDeepNet(CTRNet):
    """Wide & Deep (Cheng et al. 2016): linear part over features + MLP over embeddings."""

    def __init__(self, n_features: int, n_fields: int, dim: int, hidden: tuple[int, ...],
                 dropout: float = 0.0, init_std: float = 1e-4) -> None:
        super().__init__(n_features, n_fields, dim, init_std)
        self.mlp = MLP(n_fields * dim, hidden, dropout=dropout)
        xavier_mlp_init(self.mlp)

    def forward(self, index: torch.Tensor, value: torch.Tensor | None) -> torch.Tensor:
        lin, emb = self.embedding(index, value)
        deep = self.mlp(emb.reshape(emb.shape[0], -1)).squeeze(-1)
        return lin + deep + self.bias


class DeepFMNet(WideDeepNet):
    """DeepFM (Guo et al. 2017): linear + FM + MLP on the same embeddings."""

    def forward(self, index: torch.Tensor, value: torch.Tensor | None) -> torch.Tensor:
        lin, emb = self.embedding(index, value)
        deep = self.mlp(emb.reshape(emb.shape[0], -1)).squeeze(-1)
        return lin + fm_interaction(emb) + deep + self.bias


class DCNv2Net(CTRNet):
    """DCN-v2 (Wang et al. 2021), parallel structure: cross net and MLP side by side, then
    one linear output over both; plus the first-order term of the shared embedding layer."""

    def __init__(self, n_features: int, n_fields: int, dim: int, hidden: tuple[int, ...],
                 cross_layers: int, dropout: float = 0.0, init_std: float = 1e-4) -> None:
        super().__init__(n_features, n_fields, dim, init_std)
        d_in = n_fields * dim
        self.cross = CrossNetV2(d_in, cross_layers)
        self.mlp = MLP(d_in, hidden, dropout=dropout, out_dim=None)
        xavier_mlp_init(self.mlp)
        self.out = nn.Linear(d_in + self.mlp.out_dim, 1, bias=False)
        xavier_mlp_init(self.out)

    def forward(self, index: torch.Tensor, value: torch.Tensor | None) -> torch.Tensor:
        lin, emb = self.embedding(index, value)
        x0 = emb.reshape(emb.shape[0], -1)
        both = torch.cat([self.cross(x0).float(), self.mlp(x0).float()], dim=1)
        return lin + float32_linear(self.out, both).squeeze(-1) + self.bias


class DLRMNet(CTRNet):
    """DLRM (Naumov et al. 2019): dense fields -> bottom MLP -> a vector; pairwise dot products
    of all vectors (categorical embeddings + that one) with the bottom output -> top MLP."""

    def __init__(self, n_features: int, n_fields: int, dim: int, hidden: tuple[int, ...],
                 bottom: tuple[int, ...], dense_mask: torch.Tensor, dropout: float = 0.0,
                 init_std: float = 1e-4) -> None:
        super().__init__(n_features, n_fields, dim, init_std)
        self.cat_cols: torch.Tensor
        self.dense_cols: torch.Tensor
        self.register_buffer("cat_cols", torch.nonzero(~dense_mask).flatten())
        self.register_buffer("dense_cols", torch.nonzero(dense_mask).flatten())
        n_dense = int(dense_mask.sum())
        n_vec = int((~dense_mask).sum()) + (1 if n_dense else 0)
        self.bottom = MLP(n_dense, (*bottom, dim), out_dim=None) if n_dense else None
        top_in = n_vec * (n_vec - 1) // 2 + (dim if n_dense else 0)
        self.top = MLP(top_in, hidden, dropout=dropout)
        xavier_mlp_init(self)

    def forward(self, index: torch.Tensor, value: torch.Tensor | None) -> torch.Tensor:
        cat_index = index.index_select(1, self.cat_cols) if self.bottom is not None else index
        lin, emb = self.embedding(cat_index, None)
        parts = []
        if self.bottom is not None:
            assert value is not None
            z = self.bottom(value.index_select(1, self.dense_cols))
            emb = torch.cat([emb, z.unsqueeze(1)], dim=1)
            parts.append(z)
        parts.append(dot_interaction(emb))
        return lin + self.top(torch.cat(parts, dim=1)).squeeze(-1) + self.bias
