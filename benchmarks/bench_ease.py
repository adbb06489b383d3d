"""EASE fit vs a plain numpy closed form on a MovieLens-1M-shaped matrix.

Reference: dense float64 Gram ``X^T X`` + ``np.linalg.inv`` + the ``B`` formula (what most
EASE code does). Ours: recforge's EASE (float32 syrk/sparse Gram, in-place Cholesky
inverse). Prints times, their ratio (target: ours <= 1.2x the reference), peak traced memory
and the largest difference between the two ``B`` matrices.

    python benchmarks/bench_ease.py [--l2 500] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synth import ml1m_shaped  # noqa: E402

from recforge.data import Interactions  # noqa: E402
from recforge.models.ease import EASE  # noqa: E402


def reference(X, l2: float) -> np.ndarray:
    Xd = X.toarray().astype(np.float64)
    G = Xd.T @ Xd
    G[np.diag_indices_from(G)] += l2
    P = np.linalg.inv(G)
    B = P / (-np.diag(P))
    B[np.diag_indices_from(B)] = 0.0
    return B


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--l2", type=float, default=500.0)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    df = ml1m_shaped()
    data = Interactions.from_frame(df, user="user", item="item", name="synthetic-ml1m")
    X = data.to_csr("binary")
    print(f"data: {data.n_users} users x {data.n_items} items, {data.n_interactions:,} interactions")
    t_ref, t_ours, t_ours64 = [], [], []
    for _ in range(args.repeat):  # interleave so both see the same machine load
        t0 = time.perf_counter()
        B_ref = reference(X, args.l2)
        t_ref.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        m = EASE(l2=args.l2).fit(data)
        t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        m64 = EASE(l2=args.l2, dtype="float64").fit(data)
        t_ours64.append(time.perf_counter() - t0)
    diff32 = float(np.abs(m.weights_ - B_ref).max())
    diff64 = float(np.abs(m64.weights_ - B_ref).max())
    del m64
    tracemalloc.start()
    EASE(l2=args.l2).fit(data)
    peak_ours = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    tracemalloc.start()
    reference(X, args.l2)
    peak_ref = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    r, o, o64 = min(t_ref), min(t_ours), min(t_ours64)
    print(f"reference numpy float64 gram+inv: {r:.2f} s (runs: {', '.join(f'{t:.2f}' for t in t_ref)})")
    print(f"recforge EASE float32:            {o:.2f} s (runs: {', '.join(f'{t:.2f}' for t in t_ours)})")
    print(f"recforge EASE float64:            {o64:.2f} s (runs: {', '.join(f'{t:.2f}' for t in t_ours64)})")
    print(f"ratio ours(float32)/reference: {o / r:.2f}x   (target <= 1.2x)")
    print(f"ratio ours(float64)/reference: {o64 / r:.2f}x")
    print(f"peak traced memory: ours {peak_ours / 1e6:.0f} MB, reference {peak_ref / 1e6:.0f} MB")
    print(f"max |B_ours - B_ref|: float32 {diff32:.2e}, float64 {diff64:.2e}")


if __name__ == "__main__":
    main()
