"""Two-tower retrieval (Yi et al., RecSys 2019): in-batch softmax with logQ correction.

A user tower and an item tower each map an id embedding (plus optional side features from
``Interactions.user_features`` / ``item_features``) through an MLP to an L2-normalised vector.
Training takes batches of (user, item) interactions and treats the other items of the batch
as negatives; since popular items appear as in-batch negatives more often, each logit is
corrected by ``-log q(item)``, with ``q`` the item's share of training interactions
(the paper's streaming estimate replaced by exact counts, which we have offline). Accidental
hits (the positive item appearing elsewhere in the batch) are masked out.

Side features: every column after the id column of a feature frame is used; string, boolean,
categorical and integer columns with few values become embedded categories (nulls get their
own category), float columns are standardised numbers (nulls become 0).

CPU notes: id and category embeddings use sparse gradients with ``SparseAdam`` (only the
batch's rows are touched; dense Adam would update the whole table every step); the MLPs use
``Adam``. Scoring is one matmul of the precomputed ``user_factors_`` and ``item_factors_``.

Example:
    >>> model = TwoTower(dim=64, epochs=20).fit(train, valid)   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from recforge.config import param
from recforge.models.base import TAG_EMBEDDING, TAG_ITERATIVE, TAG_NEURAL, TAG_SIDE_FEATURES
from recforge.models.neural._base import NeuralRecommender, minibatches
from recforge.models.neural.loop import NeuralConfig

if TYPE_CHECKING:
    import polars as pl
    import torch

    from recforge.data.interactions import Interactions

#: integer columns with at most this many distinct values are treated as categories
_MAX_INT_CATEGORIES = 1000


@dataclasses.dataclass(frozen=True)
class TwoTowerConfig(NeuralConfig):
    """Two-tower settings.

    Attributes:
        dim: size of the id/feature embeddings and of the output vectors.
        hidden: MLP hidden widths of each tower (empty: one linear layer).
        temperature: softmax temperature on cosine similarities.
        logq: apply the logQ sampling-bias correction.
        use_features: use side features when the data has them.
        weight_decay: L2 on the MLP weights.
    """

    epochs: int = param(30, low=1, high=100_000, doc="maximum epochs")
    lr: float = param(3e-3, low=1e-6, high=1.0, doc="learning rate")
    batch_size: int = param(1024, low=2, high=1_000_000, doc="interactions per step")
    patience: int = param(5, low=0, doc="evaluations without improvement before stopping (0 = off)")
    dim: int = param(64, low=1, high=4096, doc="embedding size")
    hidden: tuple[int, ...] = param((128,), doc="hidden layer widths")
    temperature: float = param(0.1, low=1e-4, high=10.0, doc="softmax temperature")
    logq: bool = param(True, doc="logQ correction of in-batch negatives")
    use_features: bool = param(True, doc="use user/item side features")
    weight_decay: float = param(0.0, low=0.0, doc="L2 on MLP weights")


def encode_features(frame: pl.DataFrame | None) -> tuple[np.ndarray, list[int], np.ndarray]:
    """Side-feature frame (id column first, rows aligned to codes) -> model inputs.

    Returns ``(categorical codes (n, c) int64 with 0 = missing, cardinalities incl. missing,
    numeric (n, d) float32 standardised)``.
    """
    import polars as pl

    if frame is None or frame.width < 2:
        n = 0 if frame is None else frame.height
        return np.zeros((n, 0), np.int64), [], np.zeros((n, 0), np.float32)
    cats, cards, nums = [], [], []
    for name in frame.columns[1:]:
        col = frame.get_column(name)
        is_int_cat = col.dtype.is_integer() and col.n_unique() <= _MAX_INT_CATEGORIES
        if col.dtype in (pl.String, pl.Boolean, pl.Categorical, pl.Enum) or is_int_cat:
            values = col.cast(pl.String).to_numpy()
            present = col.is_not_null().to_numpy()
            uniq, inv = np.unique(values[present].astype(str), return_inverse=True)
            codes = np.zeros(frame.height, np.int64)
            codes[present] = inv + 1
            cats.append(codes)
            cards.append(int(uniq.size) + 1)
        elif col.dtype.is_numeric():
            x = col.cast(pl.Float64).fill_null(np.nan).to_numpy()
            x = np.nan_to_num(x, nan=np.nanmean(x) if np.isfinite(x).any() else 0.0)
            sd = x.std()
            nums.append(((x - x.mean()) / (sd if sd > 0 else 1.0)).astype(np.float32))
        # other dtypes (lists, structs, dates) are skipped: no faithful generic encoding
    cat = np.stack(cats, 1) if cats else np.zeros((frame.height, 0), np.int64)
    num = np.stack(nums, 1) if nums else np.zeros((frame.height, 0), np.float32)
    return cat, cards, num


def _module_class() -> type:
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Tower(nn.Module):
        """id embedding (+ category embeddings + numeric projection) -> MLP -> unit vector."""

        cat_codes: torch.Tensor
        num_values: torch.Tensor

        def __init__(self, n: int, dim: int, cards: list[int], n_num: int,
                     hidden: tuple[int, ...]) -> None:
            super().__init__()
            self.ids = nn.Embedding(n, dim, sparse=True)
            self.cats = nn.ModuleList([nn.Embedding(c, dim, sparse=True) for c in cards])
            self.num = nn.Linear(n_num, dim) if n_num else None
            self.register_buffer("cat_codes", torch.zeros(n, len(cards), dtype=torch.int64))
            self.register_buffer("num_values", torch.zeros(n, n_num))
            width = dim * (1 + len(cards) + (1 if n_num else 0))
            layers: list[nn.Module] = []
            for h in hidden:
                layers += [nn.Linear(width, h), nn.ReLU()]
                width = h
            layers.append(nn.Linear(width, dim))
            self.mlp = nn.Sequential(*layers)
            nn.init.normal_(self.ids.weight, std=0.05)
            for emb in self.cats:
                nn.init.normal_(emb.weight, std=0.05)  # type: ignore[arg-type]

        def forward(self, idx: torch.Tensor) -> torch.Tensor:
            parts = [self.ids(idx)]
            if len(self.cats):
                codes = self.cat_codes[idx]
                parts += [emb(codes[:, j]) for j, emb in enumerate(self.cats)]
            if self.num is not None:
                parts.append(self.num(self.num_values[idx]))
            return F.normalize(self.mlp(torch.cat(parts, 1)), dim=1)

    class TwoTowerModule(nn.Module):
        log_q: torch.Tensor

        def __init__(self, n_users: int, n_items: int, dim: int, ucards: list[int], un: int,
                     icards: list[int], inn: int, hidden: tuple[int, ...]) -> None:
            super().__init__()
            self.user = Tower(n_users, dim, ucards, un, hidden)
            self.item = Tower(n_items, dim, icards, inn, hidden)
            self.register_buffer("log_q", torch.zeros(n_items))

        def forward(self, users: torch.Tensor, items: torch.Tensor, temperature: float,
                    logq: bool) -> torch.Tensor:
            u = self.user(users)
            v = self.item(items)
            logits = (u @ v.T) / temperature
            if logq:
                logits = logits - self.log_q[items].unsqueeze(0)
            # an item repeated in the batch is a positive, not a negative, for its other rows
            same = items.unsqueeze(0) == items.unsqueeze(1)
            same.fill_diagonal_(False)
            logits = logits.masked_fill(same, float("-inf"))
            target = torch.arange(users.shape[0])
            return F.cross_entropy(logits, target)

    return TwoTowerModule


class TwoTower(NeuralRecommender):
    """Two-tower retrieval; see the module docstring."""

    name = "two-tower"
    config_class = TwoTowerConfig
    tags = frozenset({TAG_NEURAL, TAG_ITERATIVE, TAG_EMBEDDING, TAG_SIDE_FEATURES})

    def _build(self, n_users: int, n_items: int, ucards: list[int], un: int, icards: list[int],
               inn: int) -> None:
        cfg: Any = self.config
        self.module_ = _module_class()(n_users, n_items, cfg.dim, ucards, un, icards, inn,
                                       tuple(cfg.hidden))
        self._shapes = {"ucards": ucards, "un": un, "icards": icards, "inn": inn}

    def _setup(self, train: Interactions, valid: Interactions | None) -> int:
        import torch

        cfg: Any = self.config
        use = cfg.use_features
        ucat, ucards, unum = encode_features(train.user_features if use else None)
        icat, icards, inum = encode_features(train.item_features if use else None)
        self._build(train.n_users, train.n_items, ucards, unum.shape[1], icards, inum.shape[1])
        m: Any = self.module_
        if ucat.shape[0]:
            m.user.cat_codes.copy_(torch.from_numpy(ucat))
            m.user.num_values.copy_(torch.from_numpy(unum))
        if icat.shape[0]:
            m.item.cat_codes.copy_(torch.from_numpy(icat))
            m.item.num_values.copy_(torch.from_numpy(inum))
        coo = self._seen_.tocoo()
        counts = np.bincount(coo.col, minlength=train.n_items).astype(np.float64)
        m.log_q.copy_(torch.from_numpy(np.log(np.maximum(counts, 1.0) / coo.nnz).astype(np.float32)))
        sparse = [p for name, p in m.named_parameters() if ".ids." in name or ".cats." in name]
        dense = [p for name, p in m.named_parameters() if not (".ids." in name or ".cats." in name)]
        self._optimizers = [torch.optim.SparseAdam(sparse, lr=cfg.lr),
                            torch.optim.Adam(dense, lr=cfg.lr, weight_decay=cfg.weight_decay)]
        self._train_data = (coo.row.astype(np.int64), coo.col.astype(np.int64))
        return int(coo.nnz)

    def _loss(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        cfg: Any = self.config
        return self.module_(users, items, cfg.temperature, cfg.logq)

    def _train_epoch(self, epoch: int) -> float:
        import torch

        cfg: Any = self.config
        users, items = self._train_data
        total, n = 0.0, 0
        for idx in minibatches(users.size, cfg.batch_size, self._rng):
            if idx.size < 2:  # a softmax over one candidate teaches nothing
                continue
            for opt in self._optimizers:
                opt.zero_grad(set_to_none=True)
            loss = self._step(torch.from_numpy(users[idx]), torch.from_numpy(items[idx]))
            loss.backward()
            for opt in self._optimizers:
                opt.step()
            total += float(loss.detach())
            n += 1
        return total / max(1, n)

    def _refresh(self) -> None:
        import torch

        m: Any = self.module_
        with torch.no_grad():
            self.user_factors_ = m.user(torch.arange(m.user.ids.num_embeddings)).numpy()
            self.item_factors_ = m.item(torch.arange(m.item.ids.num_embeddings)).numpy()

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T

    def get_state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        self.user_factors_ = np.ascontiguousarray(state["user_factors"], dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(state["item_factors"], dtype=np.float32)
