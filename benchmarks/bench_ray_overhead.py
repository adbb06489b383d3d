"""Trials per minute of one fixed small search: local executor vs Ray (1 and 2 workers).

The same search (random sampler, fixed seed, so every executor runs the same configurations
in the same order; no pruning; no warm start; no refit) is run with

* ``local``        — :class:`~recforge.execution.LocalExecutor`, trials inline (and again with
  BLAS/OpenMP limited to 1 thread, as Ray does for a 1-CPU worker);
* ``ray-tasks``    — a plain Ray task per trial (the data shipped once with ``ray.put``, but no
  worker that keeps it): what reuse saves;
* ``ray x1``/``x2`` — :class:`~recforge.execution.ray.RayExecutor`, a pool of 1 or 2 reused
  actors on a private Ray instance on this machine.

Per-trial overhead = the time the driver waits for a trial (submit -> result in hand) minus
the time the worker spent inside ``run_trial`` (its own start/end stamps): scheduling,
transfer and result hand-back. Ray's start-up (``ray.init`` + starting the pool) is printed
apart. The machine is shared with other jobs: compare the rows of one run, not runs.

Run:  python benchmarks/bench_ray_overhead.py [--trials 24] [--users 1000] [--items 500]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import statistics
import time
from typing import Any

import numpy as np


def make_data(n_users: int, n_items: int, per_user: int, seed: int = 0) -> Any:
    import polars as pl

    import recforge as rf

    r = np.random.default_rng(seed)
    groups = r.integers(0, 8, n_items)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.6
    users, items = [], []
    for u in range(n_users):
        w = pop * np.where(groups == u % 8, 6.0, 1.0)
        users.extend([u] * per_user)
        items.extend(r.choice(n_items, size=per_user, replace=False, p=w / w.sum()).tolist())
    frame = pl.DataFrame({"user": users, "item": items})
    data = rf.Interactions.from_frame(frame, user="user", item="item", name="bench-synthetic")
    return rf.split.random_holdout(data, seed=seed)


class Timed:
    """Wraps an executor; records, per trial, driver wait time and worker run time."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.accepts_reporter = inner.accepts_reporter
        self.rows: list[tuple[float, float]] = []  # (driver seconds, worker seconds)
        self._sent: dict[Any, float] = {}

    @property
    def max_in_flight(self) -> int:
        return int(self.inner.max_in_flight)

    def start(self, data: Any) -> None:
        self.inner.start(data)

    def submit(self, spec: Any, reporter: Any = None) -> Any:
        t = time.perf_counter()
        fut = self.inner.submit(spec, reporter)
        self._sent[fut] = t
        return fut

    def wait(self, futures: list[Any], timeout: float | None = None) -> set[Any]:
        done = self.inner.wait(futures, timeout)
        now = time.perf_counter()
        for f in done:
            if f in self._sent:
                res = f.result()
                self.rows.append((now - self._sent.pop(f), res.ended - res.started))
        return done

    def shutdown(self) -> None:
        self.inner.shutdown()


class RayTaskExecutor:
    """One plain Ray task per trial, data by reference (``ray.put`` once), no reused worker."""

    accepts_reporter = False

    def __init__(self, max_workers: int) -> None:
        import ray

        self.ray = ray
        self.max_in_flight = max_workers
        self._remote = ray.remote(num_cpus=1)(_run_trial_task)
        self._refs: dict[Any, Any] = {}

    def start(self, data: Any) -> None:
        self._data = self.ray.put(data)

    def submit(self, spec: Any, reporter: Any = None) -> cf.Future[Any]:
        fut: cf.Future[Any] = cf.Future()
        self._refs[self._remote.remote(spec, self._data)] = fut
        return fut

    def wait(self, futures: list[Any], timeout: float | None = None) -> set[Any]:
        ready, _ = self.ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        for ref in ready:
            self._refs.pop(ref).set_result(self.ray.get(ref))
        return {f for f in futures if f.done()}

    def shutdown(self) -> None:
        self._refs.clear()


def _run_trial_task(spec: Any, data: Any) -> Any:
    from recforge.execution.trial import run_trial

    return run_trial(spec, data, None)


def run_search(train: Any, valid: Any, executor: Any, trials: int, models: list[str]) -> tuple[float, Any]:
    import recforge as rf

    t = time.perf_counter()
    res = rf.search(train, valid, budget="1h", models=models, max_trials=trials, executor=executor,
                    sampler="random", pruner="none", warm_start=False, refit=False, seed=0,
                    progress=False, n_jobs=executor.max_in_flight)
    return time.perf_counter() - t, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--per-user", type=int, default=30)
    ap.add_argument("--models", default="item-knn,ease,rp3beta")
    args = ap.parse_args()
    os.environ.setdefault("RECFORGE_QUIET", "1")
    models = args.models.split(",")
    train, valid, _ = make_data(args.users, args.items, args.per_user)
    print(f"data: {train.n_users} users x {train.n_items} items, {train.n_interactions} train rows; "
          f"{args.trials} trials of {models}; load average before: {os.getloadavg()[0]:.1f}")

    from recforge.execution import LocalExecutor

    results: list[tuple[str, int, float, Any, Timed]] = []
    # warm-up (imports, BLAS) so that the local row is not charged for first-time costs
    run_search(train, valid, LocalExecutor(), 3, models)
    ex = Timed(LocalExecutor())
    wall, res = run_search(train, valid, ex, args.trials, models)
    results.append(("local", 1, wall, res, ex))
    # Ray gives a 1-CPU worker OMP_NUM_THREADS=1: the same limit here, for a like-for-like row
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        ex = Timed(LocalExecutor())
        wall, res = run_search(train, valid, ex, args.trials, models)
    results.append(("local 1-thr", 1, wall, res, ex))

    import ray

    from recforge.execution.ray import RayExecutor

    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray_init = time.perf_counter() - t
    startups = {}
    for label, k in (("ray x1", 1), ("ray x2", 2)):
        inner = RayExecutor(max_workers=k, log=lambda _m: None)
        ex = Timed(inner)
        wall, res = run_search(train, valid, ex, args.trials, models)
        startups[label] = inner.startup_seconds
        results.append((label, k, wall, res, ex))
    ex = Timed(RayTaskExecutor(1))
    wall, res = run_search(train, valid, ex, args.trials, models)
    results.append(("ray-tasks x1", 1, wall, res, ex))
    ray.shutdown()

    base = results[0][2] / max(1, len(results[0][3].trials))
    print(f"ray.init: {ray_init:.2f}s; pool start-up: "
          + ", ".join(f"{k} {v:.2f}s" for k, v in startups.items()) + " (both outside the timings below)")
    print(f"{'executor':<13} {'workers':>7} {'trials':>6} {'wall s':>7} {'trials/min':>10} "
          f"{'work s/trial':>12} {'overhead ms/trial (mean, median)':>34} {'speed-up':>8}")
    for label, k, wall, res, ex in results:
        n = len(res.trials)
        work = statistics.fmean(w for _, w in ex.rows) if ex.rows else float("nan")
        over = [(d - w) * 1000.0 for d, w in ex.rows]
        per_trial = wall / max(1, n)
        print(f"{label:<13} {k:>7} {n:>6} {wall:>7.2f} {60.0 * n / wall:>10.1f} {work:>12.3f} "
              f"{statistics.fmean(over):>22.1f}, {statistics.median(over):>9.1f} {base / per_trial:>7.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.1f}; best value per run: "
          + ", ".join(f"{lab} {r.best.value:.4f}" for lab, _, _, r, _ in results if r.best is not None))


if __name__ == "__main__":
    main()
