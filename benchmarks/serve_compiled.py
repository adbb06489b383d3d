"""Inference backends for serving, timed in one run: is ``torch.compile`` worth it here?

For each model, top-10 with seen items excluded, for batches of 1 and 32 users (the same
seeded batches for every backend), median milliseconds per batch:

- Mult-VAE on ml-latest-small: the model's own path (``recommend_codes``: torch sparse mm,
  numpy mask + top-k) vs :class:`recforge.serve.compiled.MultVAEScorer` eager vs compiled;
- EASE on ml-latest-small: the model's own path (scipy sparse @ dense B) vs
  :class:`~recforge.serve.compiled.ItemItemScorer` (``embedding_bag`` over B's rows) eager
  vs compiled;
- ALS (64 factors) on gowalla: the model's numpy path vs FAISS ``IndexFlatIP`` (the service's
  default) vs :class:`~recforge.serve.compiled.TorchScorer` eager vs compiled.

Before timing, every backend's lists are compared with the model's own (share of identical
items; near-ties can swap places). The cold ``torch.compile`` time is reported separately.

Timed with the service's default of one compute thread (``--threads``).

Run:  python benchmarks/serve_compiled.py [--reps 30] [--quick] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GOWALLA = Path(os.environ.get("RECFORGE_SHARED_DATASETS", REPO.parent / "shared" / "datasets")) / "lightgcn-gowalla"


def timed(fn: Any, batches: list[np.ndarray]) -> float:
    fn(batches[0])  # warm
    times = []
    for b in batches:
        t0 = time.perf_counter()
        fn(b)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([np.intersect1d(x, y).size / x.size for x, y in zip(a, b, strict=True)]))


def run(name: str, model: Any, backends: dict[str, Any], reps: int, k: int = 10) -> None:
    rng = np.random.default_rng(0)
    n_users = model.train_.n_users
    ref_users = rng.choice(n_users, size=min(256, n_users), replace=False)
    ref, _ = model.recommend_codes(ref_users, k)
    for bname, fn in backends.items():
        got, _ = fn(ref_users)
        print(f"  {bname:<22} top-{k} agreement with the model: {agreement(ref, got):.4f}", flush=True)
    for bs in (1, 32):
        batches = [rng.choice(n_users, size=bs, replace=False) for _ in range(reps)]
        base = None
        line = []
        for bname, fn in backends.items():
            ms = timed(lambda b, fn=fn: fn(b), batches)
            base = ms if base is None else base
            line.append(f"{bname} {ms:.2f} ms (x{base / ms:.2f})")
        print(f"  {name} batch {bs:>2}: " + " | ".join(line), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="fewer epochs/iterations")
    ap.add_argument("--models", default="mult-vae,ease,als")
    ap.add_argument("--threads", type=int, default=1, help="compute threads, as 'recforge serve --threads'")
    args = ap.parse_args()

    import torch

    from recforge.serve.app import set_compute_threads

    set_compute_threads(args.threads)

    import recforge as rf
    from recforge import registry
    from recforge.serve import index as faiss_index
    from recforge.serve.compiled import make_scorer

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; load average "
          f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}", flush=True)
    if "mult-vae" in args.models:
        data = rf.datasets.load("ml-latest-small")
        model = registry.create("mult-vae", {"epochs": 3 if args.quick else 10, "seed": 0}).fit(data)
        eager = make_scorer(model)
        t0 = time.perf_counter()
        comp = make_scorer(model, compile=True)
        comp.topk(np.arange(3), 10)
        comp.topk(np.arange(32), 10)
        print(f"\n== mult-vae on ml-latest-small ({data.n_items} items): cold torch.compile "
              f"{time.perf_counter() - t0:.1f} s (two batch shapes)", flush=True)
        run("mult-vae", model, {"model path": lambda u: model.recommend_codes(u, 10),
                                "torch eager": lambda u: eager.topk(u, 10),
                                "torch.compile": lambda u: comp.topk(u, 10)}, args.reps)
    if "ease" in args.models:
        data = rf.datasets.load("ml-latest-small")
        model = registry.create("ease", {"l2": 500.0}).fit(data)
        eager = make_scorer(model)
        t0 = time.perf_counter()
        comp = make_scorer(model, compile=True)
        comp.topk(np.arange(3), 10)
        comp.topk(np.arange(32), 10)
        print(f"\n== ease on ml-latest-small ({data.n_items} items): cold torch.compile "
              f"{time.perf_counter() - t0:.1f} s (two batch shapes)", flush=True)
        run("ease", model, {"model path (scipy)": lambda u: model.recommend_codes(u, 10),
                            "torch eager": lambda u: eager.topk(u, 10),
                            "torch.compile": lambda u: comp.topk(u, 10)}, args.reps)
    if "als" in args.models:
        data = rf.datasets.load("gowalla", path=str(GOWALLA))
        model = registry.create("als", {"factors": 64, "iterations": 3 if args.quick else 10, "seed": 0}).fit(data)
        flat = faiss_index.build(model.item_factors_, kind="flat")
        eager = make_scorer(model)
        t0 = time.perf_counter()
        comp = make_scorer(model, compile=True)
        comp.topk(np.arange(3), 10)
        comp.topk(np.arange(32), 10)
        print(f"\n== als on gowalla ({data.n_items} items, 64 factors): cold torch.compile "
              f"{time.perf_counter() - t0:.1f} s (two batch shapes)", flush=True)
        seen = model._seen_
        run("als", model, {"model path (numpy)": lambda u: model.recommend_codes(u, 10),
                           "faiss flat": lambda u: flat.topk_excluding(model.user_factors_[u], 10, seen, u),
                           "torch eager": lambda u: eager.topk(u, 10),
                           "torch.compile": lambda u: comp.topk(u, 10)}, args.reps)


if __name__ == "__main__":
    main()
