"""ALS through recforge vs raw ``implicit`` on the same MovieLens-1M-shaped data.

Both run ``implicit.cpu.als.AlternatingLeastSquares`` with the same parameters and BLAS pinned
to one thread; recforge's time includes building the CSR matrix from an Interactions object
(what a user calls). Prints times and the ratio (target: <= 1.1x).

    python benchmarks/bench_als.py [--factors 64] [--iterations 15] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _synth import ml1m_shaped  # noqa: E402

from recforge.data import Interactions  # noqa: E402
from recforge.models.mf import ALS  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--factors", type=int, default=64)
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    data = Interactions.from_frame(ml1m_shaped(), user="user", item="item", name="synthetic-ml1m")
    print(f"data: {data.n_users} users x {data.n_items} items, {data.n_interactions:,} interactions")
    t_raw, t_ours = [], []
    for _ in range(args.repeat):  # interleaved so both see the same machine load
        X = data.to_csr("binary").astype(np.float32)
        t0 = time.perf_counter()
        with threadpool_limits(1, "blas"):
            raw = AlternatingLeastSquares(factors=args.factors, iterations=args.iterations,
                                          random_state=0)
            raw.fit(X, show_progress=False)
        t_raw.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ours = ALS(factors=args.factors, iterations=args.iterations, seed=0).fit(data)
        t_ours.append(time.perf_counter() - t0)
    same = np.allclose(ours.item_factors_, raw.item_factors, rtol=1e-4, atol=1e-5)
    r, o = min(t_raw), min(t_ours)
    print(f"raw implicit ALS:   {r:.2f} s (runs: {', '.join(f'{t:.2f}' for t in t_raw)})")
    print(f"recforge ALS:       {o:.2f} s (runs: {', '.join(f'{t:.2f}' for t in t_ours)})")
    print(f"ratio recforge/implicit: {o / r:.2f}x   (target <= 1.1x); same factors: {same}")


if __name__ == "__main__":
    main()
