"""Building blocks of the CTR networks (torch).

Every network takes the "feature index + feature value" input of :class:`EncodedLog`:
``index`` (B x F int64, rows of one fused table) and ``value`` (B x F float32, or ``None`` when
every field is categorical) and returns logits (B,).

:class:`FeatureEmbedding` is the one embedding layer shared by all models: a single
``nn.Embedding`` of ``n_features x (1 + dim)`` rows with sparse gradients. Column 0 is the
first-order (linear) weight of the feature, columns 1.. its embedding vector, so LR/FM/DeepFM/
Wide&Deep get both from one gather. Per-field vocabularies are laid end to end in the table
(offsets are added when the log is encoded, see :class:`~recforge.data.features.FeatureVocab`).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class FeatureEmbedding(nn.Module):
    """One fused embedding table for all fields (first-order weight + ``dim`` factors).

    Args:
        n_features: rows of the fused table (sum of per-field vocabulary sizes).
        dim: embedding size.
        init_std: standard deviation of the normal initialisation of the factors.
        sparse: produce sparse gradients (optimised by SparseAdam in the training loop).
    """

    def __init__(self, n_features: int, dim: int, *, init_std: float = 1e-4, sparse: bool = True) -> None:
        super().__init__()
        self.dim = dim
        self.table = nn.Embedding(n_features, dim + 1, sparse=sparse)
        with torch.no_grad():
            self.table.weight.normal_(0.0, init_std)
            self.table.weight[:, 0].zero_()

    def forward(self, index: torch.Tensor, value: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (first-order sum (B,), embeddings (B, F, dim)), both scaled by ``value``."""
        e = self.table(index)  # (B, F, 1 + dim)
        if value is not None:
            e = e * value.unsqueeze(-1)
        return e[..., 0].sum(dim=1), e[..., 1:]


def fm_interaction(emb: torch.Tensor) -> torch.Tensor:
    """Second-order FM term ``sum_{i<j} <v_i, v_j>`` in O(k n): 0.5 * ((sum v)^2 - sum v^2).

    ``emb`` is (B, F, k); returns (B,).
    """
    s = emb.sum(dim=1)
    return 0.5 * (s * s - (emb * emb).sum(dim=1)).sum(dim=1)


class MLP(nn.Module):
    """Linear -> ReLU (-> dropout) blocks, then an optional output layer.

    The output layer always runs in float32, also under bf16 autocast: a bf16 logit has only
    8 significant bits, which coarsens the ranking (ties) for a negligible saving.
    """

    def __init__(self, in_dim: int, hidden: tuple[int, ...], *, dropout: float = 0.0,
                 out_dim: int | None = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU(inplace=True)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            d = h
        self.net = nn.Sequential(*layers)
        self.head = nn.Linear(d, out_dim) if out_dim is not None else None
        self.out_dim = out_dim if out_dim is not None else d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.net(x)
        if self.head is None:
            return h
        return float32_linear(self.head, h)


def float32_linear(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """``layer(x)`` in float32 even inside a bf16 autocast region."""
    with torch.autocast("cpu", enabled=False):
        return layer(x.float())


class CrossNetV2(nn.Module):
    """DCN-v2 cross network (full-rank matrix): x_{l+1} = x_0 * (W_l x_l + b_l) + x_l."""

    def __init__(self, dim: int, n_layers: int) -> None:
        super().__init__()
        lins = [nn.Linear(dim, dim) for _ in range(n_layers)]
        for lin in lins:
            nn.init.xavier_normal_(lin.weight)
            nn.init.zeros_(lin.bias)
        self.layers = nn.ModuleList(lins)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = x0
        for lin in self.layers:
            x = x0 * lin(x) + x
        return x


def dot_interaction(vectors: torch.Tensor) -> torch.Tensor:
    """DLRM dot interaction: the strictly upper triangle of ``V V^T`` for (B, n, d) -> (B, n(n-1)/2)."""
    n = vectors.shape[1]
    z = torch.bmm(vectors, vectors.transpose(1, 2))
    iu = torch.triu_indices(n, n, offset=1, device=vectors.device)
    return z[:, iu[0], iu[1]]


def xavier_mlp_init(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every Linear in ``module``."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            bound = math.sqrt(6.0 / (m.in_features + m.out_features))
            nn.init.uniform_(m.weight, -bound, bound)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
