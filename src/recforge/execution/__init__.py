"""Where search trials run: the executor seam between the engine and the machines.

The engine (``recforge.search.engine``) decides *what* to try with Optuna's ask/tell; an
executor decides *where* it runs. Models never import an executor, and the engine never
imports Ray: it only talks to this interface.

The interface (a structural protocol, :class:`Executor`)::

    executor.max_in_flight            # how many trials the engine keeps running at once
    executor.accepts_reporter         # True if submit() may get an in-process reporter
    executor.start(data)              # once per search: a TrialData (train, valid, caches)
    fut = executor.submit(spec, reporter=None)   # a TrialSpec -> concurrent.futures.Future
    done = executor.wait(futures, timeout=None)  # block until >= 1 is done; return those
    executor.shutdown()

* ``spec`` is a :class:`TrialSpec`: a small frozen dataclass of plain values (family, config
  params, metric, fidelity, timeout, seed, and where the study lives: ``storage`` URL,
  ``study_name``, ``trial_id``, ``pruner``). It pickles and serialises to JSON.
* The work is always :func:`run_trial` (``recforge.execution.trial:run_trial``), a module
  level function: ``run_trial(spec, data, reporter) -> TrialResult``. A remote executor
  imports it by that path on the worker and calls it with the same arguments; it never
  raises for a failing configuration (the error is in ``TrialResult.error``).
* ``reporter(step, value) -> bool`` carries intermediate values to the pruner. In-process,
  the engine passes one bound to the live Optuna trial. A remote executor passes
  ``reporter=None`` from the engine and builds one on the worker with
  :func:`optuna_reporter` ``(spec.storage, spec.study_name, spec.trial_id, spec.pruner)``,
  which reports to the same study through its shared storage (PostgreSQL across machines),
  so pruning works the same everywhere. With in-memory storage (``storage=None``) only local
  execution can prune.
* ``data`` is shipped once per search (``start``), not per trial: a Ray executor puts it in
  the object store and passes the reference to its tasks.
* The engine writes every result to the study itself (``study.tell``); executors never touch
  the study except through the reporter.

:class:`LocalExecutor` (``local.py``) runs trials inline or in a thread pool;
``get_executor("ray", address=...)`` loads ``recforge.execution.ray`` (written against this
interface) lazily, so ``import recforge`` never imports Ray.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Protocol, runtime_checkable

from recforge.errors import ConfigError
from recforge.execution.local import LocalExecutor
from recforge.execution.trial import (
    Reporter,
    TrialData,
    TrialResult,
    TrialSpec,
    optuna_reporter,
    run_trial,
)

__all__ = [
    "Executor",
    "LocalExecutor",
    "Reporter",
    "TrialData",
    "TrialResult",
    "TrialSpec",
    "get_executor",
    "optuna_reporter",
    "run_trial",
]


@runtime_checkable
class Executor(Protocol):
    """What the search engine needs from a place that runs trials (see the module docs)."""

    max_in_flight: int
    accepts_reporter: bool

    def start(self, data: TrialData) -> None: ...

    def submit(self, spec: TrialSpec, reporter: Reporter | None = None) -> Future[TrialResult]: ...

    def wait(self, futures: list[Future[TrialResult]], timeout: float | None = None) -> set[Any]: ...

    def shutdown(self) -> None: ...


def get_executor(name: str = "local", **options: Any) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``), built with ``options``.

    ``local`` takes ``max_workers``; ``ray`` takes what ``recforge.execution.ray`` defines
    (e.g. ``address``, ``max_workers``).
    """
    key = name.strip().lower()
    if key == "local":
        opts = {k: v for k, v in options.items() if k == "max_workers"}
        unknown = sorted(set(options) - {"max_workers", "address"})
        if unknown:
            raise ConfigError(f"local executor: unknown option(s) {unknown}; valid: max_workers")
        if options.get("address"):
            raise ConfigError("--address is for --executor ray; the local executor runs here")
        return LocalExecutor(**opts)
    if key == "ray":
        import importlib

        try:
            mod = importlib.import_module("recforge.execution.ray")
        except ModuleNotFoundError as exc:
            if exc.name == "recforge.execution.ray":
                raise ConfigError("the ray executor is not available in this installation yet") from exc
            raise ConfigError(f"the ray executor needs Ray: pip install 'recforge[ray]' ({exc})") from exc
        try:
            return mod.RayExecutor(**options)  # type: ignore[no-any-return]
        except TypeError as exc:  # an option RayExecutor does not take
            raise ConfigError(f"ray executor: {exc}; see recforge.execution.ray.RayExecutor for its options") from exc
    raise ConfigError(f"unknown executor {name!r}; valid: local, ray")
