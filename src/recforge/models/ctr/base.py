"""The CTR model contract (separate from the top-K :class:`~recforge.models.base.Recommender`).

A CTR model ranks *impressions*: given a :class:`~recforge.data.features.FeatureLog` row it
predicts the click probability. Same habits as the top-K models: a frozen config, ``__init__``
does no work, learned state ends in ``_``, ``fit`` returns ``self`` and refits from scratch,
using the model before ``fit`` raises :class:`NotFittedError`.

* ``fit(train, valid=None, callback=None)``: fits the vocabularies on ``train`` only, trains
  with early stopping on validation AUC (when ``valid`` is given), reports every epoch;
* ``predict_proba(log)``: probabilities (float32) for any log with the same fields, encoded
  with the *training* vocabularies (unseen values fall into the OOV bucket);
* ``get_state`` / ``set_state``: numeric arrays only (weights + vocabularies), saved as
  safetensors by :mod:`recforge.models.ctr.artifact`.
"""

from __future__ import annotations

import abc
import dataclasses
import time
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from recforge.config import Config, build_config, param
from recforge.data.features import EncodedLog, FeatureLog, FeatureVocab
from recforge.errors import ConfigError, DataError, NotFittedError
from recforge.models.base import TAG_CTR, TAG_ITERATIVE, TAG_NEURAL, EpochCallback, EpochReport

if TYPE_CHECKING:
    from torch import nn


@dataclasses.dataclass(frozen=True)
class CTRConfig(Config):
    """Settings shared by every CTR model."""

    dim: int = param(16, low=1, high=1024, doc="embedding size")
    epochs: int = param(10, low=1, high=10_000, doc="maximum epochs")
    batch_size: int = param(4096, low=1, high=1 << 20, doc="rows per step")
    lr: float = param(1e-3, low=1e-7, high=10.0, doc="Adam learning rate (dense parameters)")
    lr_embedding: float = param(1e-3, low=1e-7, high=10.0, doc="SparseAdam learning rate (embeddings)")
    weight_decay: float = param(0.0, low=0.0, high=1.0, doc="L2 on dense parameters")
    patience: int = param(2, low=0, high=1000, doc="early stopping patience (epochs), 0 = off")
    init_std: float = param(1e-4, low=0.0, high=1.0, doc="std of the embedding initialisation")
    bf16: bool = param(False, doc="bf16 autocast for the MLP matmuls")
    threads: int = param(0, low=0, high=1024, doc="torch threads; 0 = auto (cores not kept busy by other processes)")
    seed: int = param(0, low=0, doc="initialisation and shuffling seed")


@dataclasses.dataclass(frozen=True)
class MLPConfig(CTRConfig):
    """CTR models with a deep part."""

    hidden: tuple[int, ...] = param((400, 400, 400), doc="hidden layer sizes of the MLP")
    dropout: float = param(0.0, low=0.0, high=0.95, doc="dropout after each hidden layer")

    def validate(self) -> None:
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ConfigError(f"{type(self).__name__}.hidden must be positive sizes, got {self.hidden!r}")


class CTRModel(abc.ABC):
    """Base class of CTR rankers. See the module docstring for the contract.

    Example:
        >>> from recforge.models.ctr import DeepFM                         # doctest: +SKIP
        >>> model = DeepFM(dim=16, epochs=5).fit(train, valid)              # doctest: +SKIP
        >>> p = model.predict_proba(test)                                   # doctest: +SKIP
    """

    name: ClassVar[str] = "ctr-base"
    config_class: ClassVar[type[Config]] = CTRConfig
    tags: ClassVar[frozenset[str]] = frozenset({TAG_CTR, TAG_NEURAL, TAG_ITERATIVE})

    def __init__(self, config: Config | None = None, **params: Any) -> None:
        self.config = build_config(type(self), self.config_class, config, params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.to_dict().items())
        return f"{type(self).__name__}({args})"

    def get_params(self) -> dict[str, Any]:
        return self.config.to_dict()

    @property
    def cfg(self) -> CTRConfig:
        assert isinstance(self.config, CTRConfig)
        return self.config

    # ------------------------------------------------------------------ network
    @abc.abstractmethod
    def _build(self, vocab: FeatureVocab) -> nn.Module:
        """Build the (untrained) network for the fitted vocabularies."""

    def _make_net(self, vocab: FeatureVocab) -> nn.Module:
        import torch

        torch.manual_seed(self.cfg.seed)
        return self._build(vocab)

    def _settings(self) -> Any:
        from recforge.models.ctr.loop import LoopSettings

        c = self.cfg
        return LoopSettings(epochs=c.epochs, batch_size=c.batch_size, lr=c.lr,
                            lr_embedding=c.lr_embedding, weight_decay=c.weight_decay,
                            patience=c.patience, seed=c.seed, threads=c.threads or None, bf16=c.bf16)

    # ------------------------------------------------------------------ fitting
    def fit(self, train: FeatureLog, valid: FeatureLog | None = None, *,
            callback: EpochCallback | None = None) -> Self:
        """Fit vocabularies on ``train`` only, then train the network.

        Args:
            train: training log.
            valid: validation log (encoded with the training vocabularies); drives early
                stopping on AUC and the restore of the best epoch.
            callback: receives an :class:`EpochReport` after every epoch; True stops.
        """
        from recforge.metrics.classification import auc
        from recforge.models.ctr.loop import Batches, predict_logits
        from recforge.models.ctr.loop import train as run_loop

        if not isinstance(train, FeatureLog):
            raise DataError(f"{self.name}.fit expects a FeatureLog, got {type(train).__name__}")
        if train.n_rows == 0:
            raise DataError(f"{self.name}.fit: the training log is empty")
        labels = train.labels
        if labels.min() == labels.max():
            raise DataError(f"{self.name}.fit: the training labels are all {int(labels[0])}; "
                            "a CTR model needs clicks and non-clicks")
        start = time.perf_counter()
        vocab = train.fit_vocab()
        enc = vocab.transform(train)
        net = self._make_net(vocab)
        has_dense = bool(vocab.dense_mask.any())
        data = Batches.from_arrays(enc.index, enc.value if has_dense else None, target=enc.label)
        valid_fn = None
        if valid is not None and valid.n_rows:
            venc = vocab.transform(valid)
            if venc.label.min() != venc.label.max():
                vdata = Batches.from_arrays(venc.index, venc.value if has_dense else None, target=venc.label)

                def valid_fn(m: nn.Module) -> float:
                    return auc(venc.label, predict_logits(m, vdata, bf16=self.cfg.bf16))

        result = run_loop(net, data, settings=self._settings(), valid_fn=valid_fn,
                          metric_name="auc", callback=callback)
        self.vocab_ = vocab
        self.net_ = net
        self.history_: list[EpochReport] = result.history
        self.best_epoch_ = result.best_epoch
        self.samples_per_second_ = result.samples_per_second
        self.fit_seconds_ = time.perf_counter() - start
        return self

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "net_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(train) before using it")

    # ------------------------------------------------------------------ inference
    def encode(self, log: FeatureLog) -> EncodedLog:
        """Encode ``log`` with the training vocabularies."""
        self._check_fitted()
        return self.vocab_.transform(log)

    def predict_logits(self, log: FeatureLog | EncodedLog) -> np.ndarray:
        """Raw scores (logits, float32) for every row."""
        from recforge.models.ctr.loop import Batches, predict_logits

        self._check_fitted()
        enc = log if isinstance(log, EncodedLog) else self.encode(log)
        has_dense = bool(self.vocab_.dense_mask.any())
        data = Batches.from_arrays(enc.index, enc.value if has_dense else None, target=enc.label)
        return predict_logits(self.net_, data, bf16=self.cfg.bf16)

    def predict_proba(self, log: FeatureLog | EncodedLog) -> np.ndarray:
        """Click probabilities (float32) for every row of ``log``."""
        from scipy.special import expit  # overflow-free logistic

        return expit(self.predict_logits(log).astype(np.float64)).astype(np.float32)

    def evaluate(self, log: FeatureLog, metrics: tuple[str, ...] | list[str] = ("auc", "logloss")) -> dict[str, float]:
        """CTR metrics of this model on ``log`` (see :mod:`recforge.metrics.classification`)."""
        from recforge.metrics.classification import compute

        enc = self.encode(log)
        return compute(list(metrics), enc.label, self.predict_proba(enc), enc.group)

    # ------------------------------------------------------------------ persistence
    def get_state(self) -> dict[str, np.ndarray]:
        """Network weights (``net.*``) and vocabularies (``vocab.*``) as numpy arrays."""
        self._check_fitted()
        out = {f"net.{k}": v.detach().cpu().numpy().copy() for k, v in self.net_.state_dict().items()}
        out.update(self.vocab_.to_arrays())
        return out

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Rebuild the network from ``state`` (inverse of :meth:`get_state`)."""
        import torch

        vocab = FeatureVocab.from_arrays({k: v for k, v in state.items() if k.startswith("vocab.")})
        net = self._make_net(vocab)
        weights = {k[4:]: torch.from_numpy(np.array(v)) for k, v in state.items() if k.startswith("net.")}
        try:
            net.load_state_dict(weights)
        except RuntimeError as exc:
            raise DataError(f"{self.name}: saved weights do not match this configuration ({exc})") from exc
        net.eval()
        self.vocab_ = vocab
        self.net_ = net
