"""Torch scoring for embedding models: ``U[users] @ V.T``, seen items masked, ``topk``.

``TorchScorer(compile=True)`` wraps the scoring function in ``torch.compile`` (dynamic batch
size). Whether that beats eager torch, numpy or FAISS is measured, not assumed:
``benchmarks/serve_compiled.py`` prints the ratios on this machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class TorchScorer:
    """Top-k by inner product with seen items excluded, in torch (optionally compiled)."""

    def __init__(self, user_factors: np.ndarray, item_factors: np.ndarray, seen: Any, *,
                 compile: bool = False) -> None:
        import torch

        self.torch = torch
        self.U = torch.from_numpy(np.ascontiguousarray(user_factors, dtype=np.float32))
        self.V_T = torch.from_numpy(np.ascontiguousarray(item_factors, dtype=np.float32)).T.contiguous()
        self.seen = seen
        self.compiled = compile

        def score_topk(q: Any, rows: Any, cols: Any, k: int) -> tuple[Any, Any]:
            s = q @ self.V_T
            s = s.index_put((rows, cols), torch.tensor(float("-inf")))
            return torch.topk(s, k, dim=1)

        self._fn = torch.compile(score_topk, dynamic=True) if compile else score_topk

    def _mask(self, users: np.ndarray) -> tuple[Any, Any]:
        indptr = self.seen.indptr
        starts, ends = indptr[users], indptr[users + 1]
        lens = ends - starts
        rows = np.repeat(np.arange(len(users)), lens)
        cols = self.seen.indices[np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)])
                                 ] if lens.sum() else np.zeros(0, np.int64)
        return (self.torch.from_numpy(rows.astype(np.int64)),
                self.torch.from_numpy(np.asarray(cols, dtype=np.int64)))

    def topk(self, users: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Item codes and scores (best first) for user codes; -1 / -inf pad."""
        torch = self.torch
        users = np.asarray(users, dtype=np.int64)
        k = min(k, self.V_T.shape[1])
        rows, cols = self._mask(users)
        with torch.inference_mode():
            q = self.U[torch.from_numpy(users)]
            vals, idx = self._fn(q, rows, cols, k)
        v = vals.numpy().astype(np.float32, copy=True)
        i = idx.numpy().astype(np.int64, copy=True)
        i[~np.isfinite(v)] = -1
        return i, v
