"""Training throughput of each neural model, eager vs ``torch.compile``, from one run.

Data: ml-latest-small (100,836 interactions, 610 users, 9,724 items). Each model trains
``--epochs`` epochs eagerly and again with ``compile=True`` (same seed). Throughput is
training interactions per second over epochs 2.. (the first epoch carries compilation and
warm-up); the compile cost is the first compiled call minus a typical later call, and
"break-even" is how many epochs the compiled model needs to win that cost back.

    python benchmarks/bench_neural_throughput.py --epochs 3
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import recforge as rf
from recforge import registry

MODELS: dict[str, dict[str, Any]] = {
    "mult-vae": {},
    "lightgcn": {"batch_size": 2048},
    "sasrec": {"batch_size": 128, "max_len": 50},
    "two-tower": {"batch_size": 1024},
}


def steady_rate(info: dict[str, Any], n_interactions: int) -> tuple[float, float]:
    """(interactions/s over epochs 2.., seconds of epoch 1)."""
    times = [h["elapsed"] for h in info["history"]]
    first = times[0]
    if len(times) < 2:
        return n_interactions / first, first
    return n_interactions * (len(times) - 1) / (times[-1] - times[0]), first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args()
    data = rf.datasets.load("ml-latest-small")
    n = data.n_interactions
    print(f"ml-latest-small: {n:,} interactions; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs; epochs {args.epochs}")
    print(f"{'model':10} {'eager it/s':>11} {'compiled it/s':>14} {'speed-up':>9} "
          f"{'compile s':>10} {'break-even epochs':>18} threads")
    for name in args.models.split(","):
        params = {**MODELS[name], "epochs": args.epochs, "patience": 0}
        eager = registry.create(name, params).fit(data)
        e_rate, _ = steady_rate(eager.fit_info_, n)
        try:
            t0 = time.perf_counter()
            comp = registry.create(name, {**params, "compile": True}).fit(data)
            _ = time.perf_counter() - t0
            c_rate, _ = steady_rate(comp.fit_info_, n)
            c_s = comp.fit_info_["compile_seconds"] or 0.0
            saved = n / e_rate - n / c_rate  # seconds saved per epoch
            even = f"{c_s / saved:.1f}" if saved > 0 else "never"
            print(f"{name:10} {e_rate:11,.0f} {c_rate:14,.0f} {c_rate / e_rate:8.2f}x "
                  f"{c_s:10.1f} {even:>18} {eager.fit_info_['threads']}", flush=True)
        except Exception as exc:  # report, do not hide: compile support varies by op
            msg = str(exc).splitlines()[0][:100]
            print(f"{name:10} {e_rate:11,.0f} {'compile failed':>14}: {type(exc).__name__}: {msg}",
                  flush=True)


if __name__ == "__main__":
    main()
