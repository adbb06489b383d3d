"""Run trials on this machine: inline (one at a time) or in a thread pool (several in flight)."""

from __future__ import annotations

import concurrent.futures as cf
from typing import Any

from recforge.errors import ConfigError
from recforge.execution.trial import Reporter, TrialData, TrialResult, TrialSpec, run_trial


class LocalExecutor:
    """Trials in this process.

    With ``max_workers=1`` (the default) a trial runs inline when it is submitted and the
    returned future is already done: no thread hand-off, the lowest overhead, and latency
    measurements that no other trial disturbs. With ``max_workers > 1`` trials run in a
    thread pool (numpy/BLAS, implicit and torch release the GIL in their kernels); the
    engine then keeps that many trials in flight and TPE uses the constant-liar strategy.

    Example:
        >>> ex = LocalExecutor()
        >>> ex.start(TrialData(train, valid))                        # doctest: +SKIP
        >>> fut = ex.submit(TrialSpec(0, "ease", {"l2": 200.0}))     # doctest: +SKIP
        >>> fut.result().value                                       # doctest: +SKIP
    """

    name = "local"
    #: the engine may pass a reporter bound to an in-process Optuna trial
    accepts_reporter = True

    def __init__(self, max_workers: int = 1) -> None:
        if not isinstance(max_workers, int) or max_workers < 1:
            raise ConfigError(f"LocalExecutor max_workers must be a positive integer, got {max_workers!r}")
        self.max_in_flight = max_workers
        self._data: TrialData | None = None
        self._pool: cf.ThreadPoolExecutor | None = None

    def start(self, data: TrialData) -> None:
        """Hold the data every trial of this search uses."""
        self._data = data
        if self.max_in_flight > 1 and self._pool is None:
            self._pool = cf.ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="recforge-trial")

    def submit(self, spec: TrialSpec, reporter: Reporter | None = None) -> cf.Future[TrialResult]:
        """Run ``spec`` (inline, or on the pool) and return a future of its result."""
        if self._data is None:
            raise ConfigError("LocalExecutor.start(data) must be called before submit()")
        if self._pool is not None:
            return self._pool.submit(run_trial, spec, self._data, reporter)
        fut: cf.Future[TrialResult] = cf.Future()
        try:
            fut.set_result(run_trial(spec, self._data, reporter))
        except BaseException as exc:  # run_trial traps model errors; this is e.g. KeyboardInterrupt
            fut.set_exception(exc)
            raise
        return fut

    def wait(self, futures: list[cf.Future[TrialResult]], timeout: float | None = None) -> set[Any]:
        """Block until at least one of ``futures`` is done; return the done ones."""
        done, _ = cf.wait(futures, timeout=timeout, return_when=cf.FIRST_COMPLETED)
        return done

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._data = None
