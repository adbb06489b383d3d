"""A fast, reusable CPU training loop for networks with one sparse embedding table.

The loop is independent of CTR specifics: it trains any ``nn.Module`` whose ``forward(*inputs)``
returns logits and that splits its parameters into ``sparse_parameters()`` (embedding tables
with ``sparse=True``; optimised by ``torch.optim.SparseAdam``) and ``dense_parameters()``
(optimised by ``Adam``). Inputs are whole-dataset tensors (:class:`Batches`); the loop
shuffles them once per epoch and copies each batch into preallocated buffers with
``index_select(out=...)`` (a fresh tensor per batch costs page faults: ~3x slower gathers
on this class of machine, see ``shared/MACHINE.md``).

It reports after every epoch through :data:`recforge.models.base.EpochCallback`, stops early
when the validation metric has not improved for ``patience`` epochs, restores the best epoch's
weights, and is deterministic for a given seed (shuffling uses its own ``torch.Generator``).

What makes it fast on a CPU (measured in ``benchmarks/bench_ctr_throughput.py``):
sparse embedding gradients (only touched rows are updated), one fused table instead of one
per field (one gather, one backward scatter, one optimizer step), no per-batch tensor
allocation for inputs, ``torch.set_num_threads`` set to the cores, and optional bf16 autocast
for the MLP matmuls (AVX-512 BF16 doubles matmul throughput; the embedding and the loss stay
in float32).

Example:
    >>> settings = LoopSettings(epochs=5, batch_size=4096, lr=1e-3)      # doctest: +SKIP
    >>> result = train(net, Batches.from_arrays(idx, val, y), valid_fn=..., settings=settings)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from recforge.models.base import EpochCallback, EpochReport
from recforge.models.ctr.optim import RowSparseAdam


@dataclass(frozen=True)
class LoopSettings:
    """Hyperparameters of the training loop.

    Attributes:
        epochs: maximum number of epochs.
        batch_size: rows per step.
        lr: Adam learning rate of the dense parameters.
        lr_embedding: SparseAdam learning rate of the embedding table (None: same as lr).
        weight_decay: L2 penalty (Adam weight decay) on dense parameters.
        patience: epochs without validation improvement before stopping (0 = never stop early).
        seed: seeds initialisation (done by the caller) and shuffling.
        threads: torch intra-op threads; None = :func:`default_threads` (free cores).
        bf16: run the forward pass under bf16 autocast (matmuls in bf16, weights stay float32).
        eval_batch_size: rows per forward pass when predicting.
        restore_best: load the best epoch's weights at the end (when a validation set is given).
        sparse_optimizer: ``"row"`` (:class:`~recforge.models.ctr.optim.RowSparseAdam`, sort-free)
            or ``"torch"`` (``torch.optim.SparseAdam``); same update rule.
    """

    epochs: int = 10
    batch_size: int = 4096
    lr: float = 1e-3
    lr_embedding: float | None = None
    weight_decay: float = 0.0
    patience: int = 2
    seed: int = 0
    threads: int | None = None
    bf16: bool = False
    eval_batch_size: int = 65536
    restore_best: bool = True
    sparse_optimizer: str = "row"


@dataclass
class LoopResult:
    """What :func:`train` returns: per-epoch history and the best epoch (1-based)."""

    history: list[EpochReport] = field(default_factory=list)
    best_epoch: int = 0
    best_metric: float | None = None
    samples_per_second: float = 0.0
    stopped_by_callback: bool = False


@dataclass
class Batches:
    """Whole-dataset input tensors; row ``i`` of each tensor belongs to example ``i``."""

    inputs: list[torch.Tensor | None]
    target: torch.Tensor

    @classmethod
    def from_arrays(cls, *inputs: np.ndarray | None, target: np.ndarray) -> Batches:
        tensors: list[torch.Tensor | None] = []
        for a in inputs:
            if a is None:
                tensors.append(None)
            else:
                arr = np.ascontiguousarray(a)
                t = torch.from_numpy(arr.astype(np.int64) if arr.dtype.kind in "iu" else arr.astype(np.float32))
                tensors.append(t)
        return cls(tensors, torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)))

    def __len__(self) -> int:
        return int(self.target.shape[0])


def default_threads() -> int:
    """Cores this process may use, minus those other processes keep busy (1-minute load).

    On a shared machine, OpenMP threads that outnumber the free cores spin and stall: measured
    here with other jobs running, DeepFM trained ~7x *slower* with 2 threads than with 1. On an
    idle machine this returns every core (``torch.set_num_threads`` to the core count).
    """
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        cores = max(1, os.cpu_count() or 1)
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except OSError:  # pragma: no cover
        busy = 0
    return max(1, min(cores, cores - busy + 1))


@torch.no_grad()
def predict_logits(net: nn.Module, batches: Batches, *, batch_size: int = 65536, bf16: bool = False) -> np.ndarray:
    """Logits for every row of ``batches`` (eval mode, no autograd)."""
    was_training = net.training
    net.eval()
    n = len(batches)
    out = np.empty(n, dtype=np.float32)
    try:
        for lo in range(0, n, batch_size):
            hi = min(n, lo + batch_size)
            args = [None if t is None else t[lo:hi] for t in batches.inputs]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = net(*args)
            out[lo:hi] = logits.float().numpy()
    finally:
        net.train(was_training)
    return out


def train(
    net: nn.Module,
    data: Batches,
    *,
    settings: LoopSettings,
    valid_fn: Callable[[nn.Module], float] | None = None,
    metric_name: str = "auc",
    callback: EpochCallback | None = None,
) -> LoopResult:
    """Train ``net`` with binary cross-entropy on logits.

    Args:
        net: module with ``forward(*inputs) -> logits`` and ``sparse_parameters()`` /
            ``dense_parameters()`` methods.
        data: training tensors.
        settings: loop hyperparameters.
        valid_fn: returns the validation metric (higher is better) for the current weights;
            drives early stopping and best-epoch restore. None: train all epochs.
        metric_name: name reported in :class:`EpochReport`.
        callback: called after every epoch; returning True stops training.
    """
    threads = settings.threads or default_threads()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    sparse_params = list(net.sparse_parameters())  # type: ignore[operator]
    dense_params = [p for p in net.dense_parameters() if p.requires_grad]  # type: ignore[operator]
    optimizers: list[torch.optim.Optimizer] = []
    if sparse_params:
        sparse_cls = RowSparseAdam if settings.sparse_optimizer == "row" else torch.optim.SparseAdam
        optimizers.append(sparse_cls(sparse_params, lr=settings.lr_embedding or settings.lr))
    if dense_params:
        # fused: one pass over each tensor (measured ~3x faster than foreach for a 3x400 MLP here)
        optimizers.append(torch.optim.Adam(dense_params, lr=settings.lr, weight_decay=settings.weight_decay,
                                           fused=True))
    gen = torch.Generator().manual_seed(settings.seed)
    n = len(data)
    bs = min(settings.batch_size, n)
    # preallocated batch buffers (see module docstring)
    bufs = [None if t is None else torch.empty((bs, *t.shape[1:]), dtype=t.dtype) for t in data.inputs]
    ybuf = torch.empty(bs, dtype=torch.float32)
    loss_fn = nn.BCEWithLogitsLoss()
    result = LoopResult()
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs = 0
    start = time.perf_counter()
    train_time = 0.0
    seen = 0
    net.train()
    for epoch in range(1, settings.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gen)
        total = torch.zeros((), dtype=torch.float64)
        for lo in range(0, n, bs):
            rows = perm[lo:lo + bs]
            b = rows.shape[0]
            args: list[torch.Tensor | None] = []
            for t, buf in zip(data.inputs, bufs, strict=True):
                if t is None or buf is None:
                    args.append(None)
                else:
                    torch.index_select(t, 0, rows, out=buf[:b])
                    args.append(buf[:b])
            torch.index_select(data.target, 0, rows, out=ybuf[:b])
            for opt in optimizers:
                opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
                logits = net(*args)
            loss = loss_fn(logits.float(), ybuf[:b])
            loss.backward()
            for opt in optimizers:
                opt.step()
            total += loss.detach().double() * b
        train_time += time.perf_counter() - t0
        seen += n
        mean_loss = float(total) / n
        metric = float(valid_fn(net)) if valid_fn is not None else None
        report = EpochReport(epoch=epoch, elapsed=time.perf_counter() - start, loss=mean_loss,
                             metric=metric, metric_name=metric_name if metric is not None else None)
        result.history.append(report)
        improved = metric is not None and (result.best_metric is None or metric > result.best_metric)
        if improved:
            result.best_metric, result.best_epoch, bad_epochs = metric, epoch, 0
            if settings.restore_best and valid_fn is not None:
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        elif metric is not None:
            bad_epochs += 1
        if metric is None:
            result.best_epoch = epoch
        if callback is not None and callback(report):
            result.stopped_by_callback = True
            break
        if metric is not None and settings.patience > 0 and bad_epochs >= settings.patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    result.samples_per_second = seen / train_time if train_time > 0 else 0.0
    net.eval()
    return result
