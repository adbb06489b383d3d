"""Mult-VAE (Liang et al., WWW 2018): a variational autoencoder over users' item sets.

Each user's binary training row is L2-normalised, dropped out, encoded to a Gaussian
(``latent`` dims) and decoded to a softmax over the catalogue; the loss is the multinomial
log-likelihood of the row plus ``beta`` x KL, with ``beta`` annealed linearly from 0 to
``anneal_cap`` over ``anneal_steps`` updates (the paper's KL annealing). Scoring uses the
posterior mean, so any item history can be scored, including users never seen in training
(fold-in, ``_score_history``).

CPU notes: the input layer is a sparse x dense product over the batch's nonzeros (users touch
a small share of the catalogue), and the likelihood is gathered at the nonzeros, so no dense
``batch x n_items`` input matrix is ever built; only the decoder's output is dense.

Example:
    >>> model = MultVAE(epochs=100).fit(train, valid)              # doctest: +SKIP
    >>> recs, unknown = model.recommend_history([[1, 2, 3]], k=10)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from recforge.config import param
from recforge.errors import ConfigError
from recforge.models.base import TAG_FOLD_IN, TAG_ITERATIVE, TAG_NEURAL
from recforge.models.neural._base import NeuralRecommender, minibatches
from recforge.models.neural._torch import load_numpy_state, state_to_numpy
from recforge.models.neural.loop import NeuralConfig

if TYPE_CHECKING:
    import scipy.sparse as sp
    import torch

    from recforge.data.interactions import Interactions


@dataclasses.dataclass(frozen=True)
class MultVAEConfig(NeuralConfig):
    """Mult-VAE settings (architecture [n_items -> 600 -> 200 -> 600 -> n_items] as in the paper).

    Attributes:
        hidden: width of the hidden layer on both sides.
        latent: size of the Gaussian latent code.
        dropout: input dropout rate.
        anneal_cap: final KL weight beta.
        anneal_steps: optimiser updates over which beta grows linearly to ``anneal_cap``.
        weight_decay: L2 on the weights (Adam's weight_decay).
    """

    epochs: int = param(200, low=1, high=100_000, doc="maximum epochs")
    lr: float = param(1e-3, low=1e-6, high=1.0, doc="learning rate (Adam)")
    batch_size: int = param(500, low=1, high=1_000_000, doc="users per step")
    patience: int = param(10, low=0, doc="evaluations without improvement before stopping (0 = off)")
    hidden: int = param(600, low=1, high=65_536, doc="hidden layer width")
    latent: int = param(200, low=1, high=65_536, doc="latent dimension")
    dropout: float = param(0.5, low=0.0, high=0.95, doc="input dropout")
    anneal_cap: float = param(0.2, low=0.0, high=10.0, doc="maximum KL weight")
    anneal_steps: int = param(2000, low=1, doc="updates to reach anneal_cap")
    weight_decay: float = param(0.0, low=0.0, doc="L2 weight decay")


def _module_class() -> type:
    import torch
    from torch import nn

    class MultVAEModule(nn.Module):
        """Encoder/decoder MLPs with tanh; the first layer consumes a sparse input."""

        def __init__(self, n_items: int, hidden: int, latent: int, dropout: float) -> None:
            super().__init__()
            self.latent = latent
            self.dropout = dropout
            self.enc_in = nn.Parameter(torch.empty(n_items, hidden))
            self.enc_in_bias = nn.Parameter(torch.zeros(hidden))
            self.enc_out = nn.Linear(hidden, 2 * latent)
            self.dec_in = nn.Linear(latent, hidden)
            self.dec_out = nn.Linear(hidden, n_items)
            nn.init.xavier_uniform_(self.enc_in)
            for lin in (self.enc_out, self.dec_in, self.dec_out):
                nn.init.xavier_uniform_(lin.weight)
                nn.init.normal_(lin.bias, std=0.001)

        def encode(self, rows: torch.Tensor, cols: torch.Tensor, n_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
            """Gaussian posterior of binary rows given as (row, col) nonzero coordinates."""
            counts = torch.bincount(rows, minlength=n_rows).clamp_min(1).to(torch.float32)
            vals = counts.rsqrt()[rows]  # L2 normalisation of a binary row
            if self.training and self.dropout > 0:
                keep = torch.rand(vals.shape[0]) >= self.dropout
                vals = vals * keep / (1.0 - self.dropout)
            # coordinates come from a CSR row block: sorted and unique, hence coalesced
            x = torch.sparse_coo_tensor(torch.stack([rows, cols]), vals,
                                        size=(n_rows, self.enc_in.shape[0]),
                                        check_invariants=False, is_coalesced=True)
            h = torch.tanh(torch.sparse.mm(x, self.enc_in) + self.enc_in_bias)
            out = self.enc_out(h)
            return out[:, : self.latent], out[:, self.latent:]

        def decode(self, z: torch.Tensor) -> torch.Tensor:
            return self.dec_out(torch.tanh(self.dec_in(z)))

        def forward(self, rows: torch.Tensor, cols: torch.Tensor, n_rows: int,
                    beta: torch.Tensor) -> torch.Tensor:
            mu, logvar = self.encode(rows, cols, n_rows)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
            logp = torch.log_softmax(self.decode(z), dim=1)
            nll = -logp[rows, cols].sum() / n_rows
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n_rows
            return nll + beta * kl

    return MultVAEModule


class MultVAE(NeuralRecommender):
    """Mult-VAE; see the module docstring."""

    name = "mult-vae"
    config_class = MultVAEConfig
    tags = frozenset({TAG_NEURAL, TAG_ITERATIVE, TAG_FOLD_IN})

    def _build(self, n_items: int) -> None:
        cfg: Any = self.config
        self.module_ = _module_class()(n_items, cfg.hidden, cfg.latent, cfg.dropout)

    def _setup(self, train: Interactions, valid: Interactions | None) -> int:
        import torch

        cfg: Any = self.config
        self._build(self._seen_.shape[1])
        self._optimizers = [torch.optim.Adam(self.module_.parameters(), lr=cfg.lr,
                                             weight_decay=cfg.weight_decay)]
        self._users = np.flatnonzero(np.diff(self._seen_.indptr) > 0)
        self._updates = 0
        return int(self._users.size)

    def _loss(self, rows: torch.Tensor, cols: torch.Tensor, n_rows: int, beta: torch.Tensor) -> torch.Tensor:
        return self.module_(rows, cols, n_rows, beta)

    def _train_epoch(self, epoch: int) -> float:
        import torch

        cfg: Any = self.config
        opt = self._optimizers[0]
        total, n = 0.0, 0
        for idx in minibatches(self._users.size, cfg.batch_size, self._rng):
            block = self._seen_[self._users[idx]].tocoo()
            beta = min(cfg.anneal_cap, cfg.anneal_cap * self._updates / cfg.anneal_steps)
            opt.zero_grad(set_to_none=True)
            loss = self._step(torch.from_numpy(block.row.astype(np.int64)),
                              torch.from_numpy(block.col.astype(np.int64)), len(idx),
                              torch.tensor(beta, dtype=torch.float32))  # a tensor: no recompiles
            loss.backward()
            opt.step()
            self._updates += 1
            total += float(loss.detach())
            n += 1
        return total / max(1, n)

    def _score_history(self, history: sp.csr_matrix) -> np.ndarray:
        import torch

        self._check_fitted()
        if history.shape[1] != self.module_.dec_out.out_features:  # type: ignore[union-attr]
            raise ConfigError(
                f"history has {history.shape[1]} item columns; this model knows "
                f"{self.module_.dec_out.out_features}"  # type: ignore[union-attr]
            )
        coo = history.tocoo()
        self.module_.eval()
        with torch.no_grad():
            mu, _ = self.module_.encode(torch.from_numpy(coo.row.astype(np.int64)),  # type: ignore[operator]
                                        torch.from_numpy(coo.col.astype(np.int64)), history.shape[0])
            return self.module_.decode(mu).numpy()  # type: ignore[operator]

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self._score_history(self._seen_[users])

    def get_state(self) -> dict[str, np.ndarray]:
        return state_to_numpy(self.module_)

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self._build(int(state["dec_out.bias"].shape[0]))
        load_numpy_state(self.module_, state)
        self.module_.eval()
