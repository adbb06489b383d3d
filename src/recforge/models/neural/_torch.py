"""Small torch helpers shared by the neural models: threads, seeding, sparse conversion.

Kept apart from :mod:`recforge.models.neural.loop` so that model modules can use them without
the loop, and free of any model knowledge.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp
    import torch

#: Environment variables through which a user states a thread count we must not override.
_THREAD_ENV = ("RECFORGE_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def physical_cores() -> int:
    """Physical cores available to this process (hyper-thread siblings counted once).

    Reads ``/sys/devices/system/cpu/cpu*/topology/thread_siblings_list`` for the CPUs in our
    affinity mask; falls back to the affinity size (or ``os.cpu_count()``) elsewhere.
    """
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
    seen: set[str] = set()
    for c in cpus:
        try:
            with open(f"/sys/devices/system/cpu/cpu{c}/topology/thread_siblings_list") as fh:
                seen.add(fh.read().strip())
        except OSError:
            return max(1, len(cpus))
    return max(1, len(seen))


def configure_threads() -> int:
    """Set torch's intra-op threads: the physical cores that are not already busy.

    ``RECFORGE_NUM_THREADS`` wins when set; ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` are left
    to torch (it reads them itself). Otherwise we take the physical cores minus the 1-minute
    load average (at least one): on a machine shared with other jobs, OpenMP threads that
    wait for a descheduled sibling make small ops far slower (measured here with another job
    running: LightGCN's forward+backward on MovieLens-100K took 20 ms with 1 thread and
    110-340 ms with 2). Returns the thread count torch now uses.
    """
    import torch

    explicit = os.environ.get("RECFORGE_NUM_THREADS")
    if explicit:
        with contextlib.suppress(ValueError):
            torch.set_num_threads(max(1, int(explicit)))
    elif not any(os.environ.get(k) for k in _THREAD_ENV[1:]):
        cores = physical_cores()
        try:
            busy = int(os.getloadavg()[0])
        except OSError:  # pragma: no cover - no load average on this platform
            busy = 0
        want = max(1, min(cores, cores - busy))
        if torch.get_num_threads() != want:
            torch.set_num_threads(want)
    return int(torch.get_num_threads())


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch's global generator and return a numpy Generator for data order/sampling."""
    import torch

    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def csr_to_torch(mat: sp.csr_matrix, *, layout: str = "csr") -> torch.Tensor:
    """A scipy CSR matrix as a float32 torch sparse tensor (``"csr"`` or ``"coo"`` layout)."""
    import torch

    mat = mat.tocsr()
    if layout == "csr":
        return torch.sparse_csr_tensor(
            torch.from_numpy(mat.indptr.astype(np.int64)),
            torch.from_numpy(mat.indices.astype(np.int64)),
            torch.from_numpy(mat.data.astype(np.float32)),
            size=mat.shape,
        )
    coo = mat.tocoo()
    idx = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(idx, torch.from_numpy(coo.data.astype(np.float32)),
                                   size=mat.shape).coalesce()


def state_to_numpy(module: torch.nn.Module, prefix: str = "") -> dict[str, np.ndarray]:
    """A module's state_dict as contiguous numpy arrays (for :mod:`recforge.artifacts`)."""
    return {f"{prefix}{k}": np.ascontiguousarray(v.detach().cpu().numpy())
            for k, v in module.state_dict().items()}


def load_numpy_state(module: torch.nn.Module, state: dict[str, np.ndarray], prefix: str = "") -> None:
    """Load arrays produced by :func:`state_to_numpy` (strict: every key must be there)."""
    import torch

    from recforge.errors import ArtifactError

    sub = {k[len(prefix):]: torch.from_numpy(np.array(v)) for k, v in state.items() if k.startswith(prefix)}
    try:
        module.load_state_dict(sub, strict=True)
    except RuntimeError as exc:
        raise ArtifactError(f"saved state does not fit this model's network: {exc}") from exc
