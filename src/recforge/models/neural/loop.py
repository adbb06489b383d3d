"""The epoch loop shared by every neural model (and usable by any iterative one).

What it does, and nothing more: run epochs, evaluate on a validation split after each
(``eval_every``) epoch with :func:`recforge.evaluation.evaluate` (full ranking), stop early
after ``patience`` evaluations without improvement, call the user's
:data:`~recforge.models.base.EpochCallback` with an :class:`~recforge.models.base.EpochReport`
(returning ``True`` stops training — the search prunes this way), keep the best epoch's
weights in a safetensors checkpoint and restore them at the end, and show a progress bar on a
terminal.

The model supplies two callables: ``train_epoch(epoch) -> mean loss`` and (optionally)
``refresh()``, which makes ``model._score_users`` reflect the current weights (e.g. LightGCN
recomputes its propagated embeddings). The loop never looks inside the network.

Example:
    >>> loop = TrainingLoop(model, module, epochs=cfg.epochs, patience=cfg.patience,
    ...                     metric=cfg.eval_metric, valid=valid, train=train,
    ...                     callback=callback, refresh=model._refresh)  # doctest: +SKIP
    >>> result = loop.run(train_epoch)                                   # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recforge._progress import make_progress
from recforge.config import Config, param
from recforge.errors import ConfigError
from recforge.models.base import EpochCallback, EpochReport

if TYPE_CHECKING:
    import torch

    from recforge.data.interactions import Interactions
    from recforge.models.base import Recommender


@dataclasses.dataclass(frozen=True)
class NeuralConfig(Config):
    """Fields every neural model shares (subclasses add their own, all with defaults).

    Attributes:
        epochs: maximum number of passes over the training data.
        lr: learning rate.
        batch_size: examples per optimiser step.
        seed: seeds weights, data order and negative sampling (same seed, same model).
        patience: validation evaluations without improvement before stopping; 0 = never stop
            early (the best epoch is still restored when a validation split is given).
        eval_metric: metric watched on the validation split (full ranking), e.g. ``ndcg@10``.
        eval_every: evaluate every this many epochs (the last epoch is always evaluated).
        compile: wrap the training step in ``torch.compile``; the compile time is measured and
            reported in ``fit_info_["compile_seconds"]``.
    """

    epochs: int = param(20, low=1, high=100_000, doc="maximum epochs")
    lr: float = param(1e-3, low=1e-6, high=1.0, doc="learning rate")
    batch_size: int = param(1024, low=1, high=1_000_000, doc="batch size")
    seed: int = param(0, low=0, doc="random seed")
    patience: int = param(3, low=0, doc="evaluations without improvement before stopping (0 = off)")
    eval_metric: str = param("ndcg@10", doc="validation metric for early stopping")
    eval_every: int = param(1, low=1, doc="evaluate on validation every N epochs")
    compile: bool = param(False, doc="torch.compile the training step")

    def validate(self) -> None:
        from recforge.evaluation import parse_metrics

        specs = parse_metrics(self.eval_metric)
        if len(specs) != 1 or specs[0].name in ("coverage", "gini", "novelty", "arp"):
            raise ConfigError(
                f"{type(self).__name__}.eval_metric must be one accuracy metric such as "
                f"'ndcg@10' or 'recall@20', got {self.eval_metric!r}"
            )


@dataclasses.dataclass
class LoopResult:
    """What happened during training."""

    epochs_run: int
    best_epoch: int | None
    best_metric: float | None
    stopped_by: str  # "epochs" | "early_stopping" | "callback"
    seconds: float
    history: list[EpochReport]
    restored_best: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "best_metric": self.best_metric,
            "stopped_by": self.stopped_by,
            "seconds": round(self.seconds, 3),
            "restored_best": self.restored_best,
            "history": [dataclasses.asdict(r) for r in self.history],
        }


# ---------------------------------------------------------------------------- checkpoints
def save_checkpoint(module: torch.nn.Module, path: str | os.PathLike[str]) -> Path:
    """Write ``module``'s state_dict to a safetensors file (atomically). Never pickle."""
    from safetensors.torch import save_file

    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    # clone: safetensors refuses tensors that share storage (tied weights, views)
    tensors = {k: v.detach().contiguous().clone() for k, v in module.state_dict().items()}
    save_file(tensors, str(tmp))
    os.replace(tmp, target)
    return target


def load_checkpoint(module: torch.nn.Module, path: str | os.PathLike[str]) -> None:
    """Load a safetensors checkpoint written by :func:`save_checkpoint` into ``module``."""
    from safetensors.torch import load_file

    module.load_state_dict(load_file(str(path)), strict=True)


# ---------------------------------------------------------------------------- compile
class TimedStep:
    """Wraps a training-step function, optionally through ``torch.compile``, and times it.

    ``first_seconds`` is the first call (it includes compilation when compiled);
    ``compile_seconds`` estimates the compile cost as first call minus the median later call.
    """

    def __init__(self, fn: Callable[..., Any], *, compile: bool) -> None:
        self.compiled = compile
        if compile:
            import torch

            fn = torch.compile(fn)
        self._fn = fn
        self.first_seconds: float | None = None
        self._later: list[float] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.first_seconds is not None and len(self._later) >= 64:
            return self._fn(*args, **kwargs)
        t0 = time.perf_counter()
        out = self._fn(*args, **kwargs)
        dt = time.perf_counter() - t0
        if self.first_seconds is None:
            self.first_seconds = dt
        else:
            self._later.append(dt)
        return out

    @property
    def compile_seconds(self) -> float | None:
        if not self.compiled or self.first_seconds is None:
            return None
        later = sorted(self._later)
        typical = later[len(later) // 2] if later else 0.0
        return max(0.0, self.first_seconds - typical)


# ---------------------------------------------------------------------------- the loop
class TrainingLoop:
    """Runs epochs with validation, early stopping, callbacks and best-weight restore.

    Args:
        model: the recommender being fitted (``train_``/``_seen_`` already set by ``fit``).
        module: its ``nn.Module``; checkpoints hold this module's state_dict.
        epochs: maximum epochs.
        patience: evaluations without improvement before stopping; 0 disables early stopping.
        metric: validation metric name (e.g. ``"ndcg@10"``).
        eval_every: evaluate every N epochs.
        valid: validation interactions, or None (then no metric, no early stopping).
        train: training interactions, excluded from the validation ranking.
        callback: receives an :class:`EpochReport` after each epoch; ``True`` stops training.
        refresh: makes the model's scoring reflect the module's current weights.
        description: progress-bar label.
        checkpoint_dir: where the best-epoch checkpoint lives; a temporary directory if None.
        eval_users: evaluate on at most this many validation users (a fixed seeded sample) to
            bound the cost of validation on large data; None = all.
        seed: seed of that user sample.
    """

    def __init__(
        self,
        model: Recommender,
        module: torch.nn.Module,
        *,
        epochs: int,
        patience: int = 0,
        metric: str = "ndcg@10",
        eval_every: int = 1,
        valid: Interactions | None = None,
        train: Interactions | None = None,
        callback: EpochCallback | None = None,
        refresh: Callable[[], None] | None = None,
        description: str = "training",
        checkpoint_dir: str | os.PathLike[str] | None = None,
        eval_users: int | None = 5000,
        seed: int = 0,
    ) -> None:
        if epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {epochs}")
        self.model = model
        self.module = module
        self.epochs = int(epochs)
        self.patience = int(patience)
        self.metric = metric
        self.eval_every = max(1, int(eval_every))
        self.valid = valid
        self.train = train
        self.callback = callback
        self.refresh = refresh
        self.description = description
        self.checkpoint_dir = checkpoint_dir
        self.eval_users = eval_users
        self.seed = seed

    def _validation_users(self) -> Any:
        import numpy as np

        assert self.valid is not None
        users = self.valid.active_users()
        if self.eval_users is not None and users.size > self.eval_users:
            rng = np.random.default_rng(self.seed)
            users = np.sort(rng.choice(users, size=self.eval_users, replace=False))
        return users

    def evaluate(self, users: Any) -> float:
        """The validation metric for the module's current weights."""
        from recforge.evaluation import evaluate

        assert self.valid is not None
        self.module.eval()
        if self.refresh is not None:
            self.refresh()
        res = evaluate(self.model, self.valid, train=self.train, metrics=[self.metric], users=users)
        self.module.train()
        return float(next(iter(res.metrics.values())))

    def run(self, train_epoch: Callable[[int], float]) -> LoopResult:
        """Train; ``train_epoch(epoch)`` runs one pass (module in train mode), returns its loss."""
        start = time.perf_counter()
        history: list[EpochReport] = []
        best_metric: float | None = None
        best_epoch: int | None = None
        bad = 0
        stopped_by = "epochs"
        users = self._validation_users() if self.valid is not None else None
        with tempfile.TemporaryDirectory(prefix="recforge-ckpt-") as tmp:
            ckpt = Path(self.checkpoint_dir or tmp) / "best.safetensors"
            if self.checkpoint_dir is not None:
                Path(self.checkpoint_dir).mkdir(parents=True, exist_ok=True)
            bar = make_progress(self.description)
            task = None
            if bar is not None:
                bar.start()
                task = bar.add_task(self.description, total=self.epochs)
            try:
                for epoch in range(1, self.epochs + 1):
                    self.module.train()
                    loss = float(train_epoch(epoch))
                    if not math.isfinite(loss):
                        raise FloatingPointError(
                            f"{self.description}: the training loss became {loss} at epoch {epoch}; "
                            "lower lr or raise regularisation"
                        )
                    metric = None
                    if users is not None and (epoch % self.eval_every == 0 or epoch == self.epochs):
                        metric = self.evaluate(users)
                        if best_metric is None or metric > best_metric:
                            best_metric, best_epoch, bad = metric, epoch, 0
                            save_checkpoint(self.module, ckpt)
                        else:
                            bad += 1
                    report = EpochReport(
                        epoch=epoch,
                        elapsed=time.perf_counter() - start,
                        loss=loss,
                        metric=metric,
                        metric_name=self.metric if metric is not None else None,
                    )
                    history.append(report)
                    if bar is not None and task is not None:
                        label = f"{self.description} loss {loss:.4f}"
                        if best_metric is not None:
                            label += f" best {self.metric} {best_metric:.4f}"
                        bar.update(task, advance=1, description=label)
                    if self.callback is not None and self.callback(report):
                        stopped_by = "callback"
                        break
                    if self.patience and metric is not None and bad >= self.patience:
                        stopped_by = "early_stopping"
                        break
            finally:
                if bar is not None:
                    bar.stop()
            restored = False
            if best_epoch is not None and best_epoch != history[-1].epoch:
                load_checkpoint(self.module, ckpt)
                restored = True
        self.module.eval()
        if self.refresh is not None:
            self.refresh()
        return LoopResult(
            epochs_run=len(history),
            best_epoch=best_epoch,
            best_metric=best_metric,
            stopped_by=stopped_by,
            seconds=time.perf_counter() - start,
            history=history,
            restored_best=restored,
        )


def fit_info(result: LoopResult, step: TimedStep | None, n_examples: int, threads: int) -> dict[str, Any]:
    """The ``fit_info_`` dictionary neural models expose after ``fit``."""
    info = result.to_dict()
    info.update({
        "threads": threads,
        "compiled": bool(step and step.compiled),
        "compile_seconds": None if step is None else step.compile_seconds,
        "examples_per_epoch": n_examples,
        "train_seconds": round(result.seconds, 3),
    })
    return info
