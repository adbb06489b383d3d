"""Run search trials on a Ray cluster: a pool of long-lived actors, elastic and fault-tolerant.

Ray does the placement; this module only keeps a pool of workers busy and its bookkeeping
honest. The engine (``recforge.search.engine``) still chooses every trial with Optuna's
ask/tell and writes every result to the study; here we run :func:`run_trial` remotely.

* **Workers are reused.** Each worker is a Ray actor holding the search's
  :class:`~recforge.execution.trial.TrialData`, shipped once through the object store, and
  runs one trial after another: a trial costs one actor method call (milliseconds) instead
  of a fresh Ray task with its process start-up and data transfer (about a second here).
  Ray's ``ray.util.ActorPool`` is not used: it neither notices a dead actor nor resubmits the
  work that actor lost, and this pool must follow the cluster's nodes as they come and go.
* **Resources.** Each actor asks Ray for ``cpus_per_trial`` CPUs (and ``gpus_per_trial`` GPUs);
  the pool has one actor per slot the alive nodes offer (``max_workers`` caps it), so several
  trials are in flight and Ray sets each worker's ``OMP_NUM_THREADS``/``CUDA_VISIBLE_DEVICES``.
* **Elastic.** Between trials (every ``poll_s`` while waiting) the alive nodes are read again;
  when a node joins, new actors are started and get work.
* **Faults.** When a worker dies mid-trial (its node died, or its process was killed), the
  actor is dropped and the same trial is run again on another worker, up to ``max_retries``
  times; after that the trial comes back as failed with the reason, and the search goes on.
  Every attempt is kept in :attr:`RayExecutor.history`.
* **Storage.** Workers report intermediate values to the study's storage themselves
  (:func:`~recforge.execution.trial.optuna_reporter`), so it must be reachable from every
  node: see :mod:`recforge.execution.storage` (PostgreSQL; SQLite only on one node).

Model code never imports Ray: only this module does, and only when ``--executor ray`` is used.

Example:
    >>> ex = RayExecutor(address="10.0.0.5:6379", cpus_per_trial=2)    # doctest: +SKIP
    >>> rf.search(train, valid, executor=ex, storage="postgresql://rf:pw@db/rf")  # doctest: +SKIP
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from recforge.errors import ConfigError
from recforge.execution.storage import check_cluster_storage, storage_scheme
from recforge.execution.trial import Reporter, TrialData, TrialResult, TrialSpec

__all__ = ["RayExecutor", "TrialWorker"]


class TrialWorker:
    """The body of one pool actor: holds the search's data and runs trials one at a time.

    Wrapped with ``ray.remote`` by :class:`RayExecutor`; plain Python otherwise (testable
    without Ray).
    """

    def __init__(self, data: TrialData) -> None:
        self.data = data
        self.n_trials = 0

    def ready(self) -> tuple[str, str, int]:
        """``(node id, node address, pid)`` of the process this worker lives in."""
        import os

        import ray

        if not ray.is_initialized():  # a plain-Python call (tests): do not start a Ray
            return "local", "127.0.0.1", os.getpid()
        return ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address(), os.getpid()

    def run(self, spec: TrialSpec, retry_of: list[dict[str, Any]] | None = None) -> TrialResult:
        """Run one trial, reporting to the study's shared storage when pruning is on.

        ``retry_of`` lists the earlier attempts of this trial whose workers were lost; it is
        written to the trial's ``ray_retries`` user attribute, so the study itself shows
        which trials were run again and why.
        """
        from recforge.execution.trial import optuna_reporter, run_trial

        self.n_trials += 1
        if retry_of and spec.storage and spec.trial_id is not None:
            with contextlib.suppress(Exception):  # bookkeeping only: never fail the trial for it
                import optuna

                optuna.storages.get_storage(spec.storage).set_trial_user_attr(spec.trial_id, "ray_retries", retry_of)
        reporter: Reporter | None = None
        if spec.prune and spec.storage and spec.study_name and spec.trial_id is not None:
            try:
                reporter = optuna_reporter(spec.storage, spec.study_name, spec.trial_id, spec.pruner)
            except Exception as exc:  # storage unreachable from this node: say so, do not guess
                now = time.time()
                return TrialResult(number=spec.number, state="fail", started=now, ended=now,
                                   error=f"worker cannot open the study storage {spec.storage!r}: "
                                         f"{type(exc).__name__}: {exc}")
        return run_trial(spec, self.data, reporter)


@dataclasses.dataclass
class _Task:
    spec: TrialSpec
    future: cf.Future[TrialResult]
    attempts: int = 0
    nodes: list[str] = dataclasses.field(default_factory=list)
    lost: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Actor:
    handle: Any
    key: str
    state: str = "starting"  # starting | idle | busy
    node_id: str | None = None
    node_address: str | None = None
    pid: int | None = None
    n_trials: int = 0


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"the ray executor needs Ray: pip install 'recforge[ray]' ({exc})") from exc
    return ray


def _probe(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a ``HOST:PORT`` nothing listens on (``ray.init`` retries for minutes)."""
    if address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise ConfigError(f"Ray address {address!r}: the port must be a number; write HOST:PORT, e.g. 10.0.0.5:6379")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(
            f"cannot connect to the Ray cluster at {address!r}: nothing answers there ({exc}); start the "
            f"head node with `ray start --head --port={port}` or pass the address it printed"
        ) from exc


def _driver_addresses() -> set[str]:
    out = {"127.0.0.1"}
    with contextlib.suppress(OSError):
        out.update(socket.gethostbyname_ex(socket.gethostname())[2])
    with contextlib.suppress(Exception):
        import ray

        out.add(ray.util.get_node_ip_address())
    return out


class RayExecutor:
    """Trials on a Ray cluster (see the module docs).

    Args:
        address: the cluster to join: ``"HOST:PORT"`` of a running head node (``ray start
            --head``), ``"auto"`` (``RAY_ADDRESS`` or the cluster on this machine),
            ``"ray://HOST:10001"`` (Ray client); ``None`` starts a private Ray on this machine.
        max_workers: at most this many trials in flight; ``None`` = every slot of the cluster,
            growing when nodes join.
        cpus_per_trial: CPUs Ray reserves for each worker (and its BLAS/torch threads).
        gpus_per_trial: GPUs Ray reserves for each worker (0 = CPU only).
        max_retries: how many times a trial whose worker died is run again elsewhere.
        poll_s: how often to look for new nodes and lost workers while waiting.
        start_timeout_s: fail queued trials when no worker at all could start in this time.
        log: where status lines go (retries, pool changes); default ``recforge._progress.log``.

    Raises:
        ConfigError: bad options, Ray not installed, or no cluster at ``address``.
    """

    name = "ray"
    #: workers build their own reporter from the shared storage
    accepts_reporter = False

    def __init__(self, address: str | None = None, max_workers: int | None = None, *,
                 cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0, max_retries: int = 2,
                 poll_s: float = 1.0, start_timeout_s: float = 120.0,
                 log: Callable[[str], None] | None = None) -> None:
        if max_workers is not None and (isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1):
            raise ConfigError(f"ray executor: max_workers must be a positive integer or None, got {max_workers!r}")
        for label, value, low in (("cpus_per_trial", cpus_per_trial, 0.0), ("gpus_per_trial", gpus_per_trial, 0.0),
                                  ("poll_s", poll_s, 0.0), ("start_timeout_s", start_timeout_s, 0.0)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= low:
                raise ConfigError(f"ray executor: {label} must be a number >= {low}, got {value!r}")
        if cpus_per_trial <= 0 and gpus_per_trial <= 0:
            raise ConfigError("ray executor: a trial must ask for some CPUs or GPUs (cpus_per_trial > 0)")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ConfigError(f"ray executor: max_retries must be an integer >= 0, got {max_retries!r}")
        if log is None:
            from recforge._progress import log as default_log

            log = default_log
        self.address = address
        self.max_workers = max_workers
        self.cpus_per_trial = float(cpus_per_trial)
        self.gpus_per_trial = float(gpus_per_trial)
        self.max_retries = max_retries
        self.poll_s = float(poll_s)
        self.start_timeout_s = float(start_timeout_s)
        self.log = log
        #: one entry per attempt: trial, attempt, node, outcome (complete/pruned/fail/lost), error
        self.history: list[dict[str, Any]] = []
        #: seconds spent in start(): shipping the data and starting the first workers
        self.startup_seconds = 0.0
        self._ray = _ray()
        self._owns_ray = False
        self._connect()
        self._lock = threading.Lock()
        self._actors: dict[str, _Actor] = {}
        self._queue: deque[_Task] = deque()
        self._running: dict[Any, tuple[_Task, _Actor]] = {}
        self._starting: dict[Any, _Actor] = {}
        self._data_ref: Any = None
        self._remote_cls: Any = None
        self._storage_ok: dict[str | None, str | None] = {}
        self._pin: str | None = None  # node address the pool is limited to (SQLite storage)
        self._start_failures: list[str] = []
        self._last_poll = 0.0
        self._no_worker_since: float | None = None
        self._n_created = 0

    # ------------------------------------------------------------------ cluster
    def _connect(self) -> None:
        ray = self._ray
        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if self.address is None:
            kwargs["include_dashboard"] = False
        else:
            _probe(self.address)
        try:
            ray.init(address=self.address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
            raise ConfigError(
                f"cannot connect to the Ray cluster at {self.address!r}: {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}; start one with `ray start --head` "
                f"and pass its HOST:PORT (--address), or check that this machine can reach it"
            ) from exc
        self._owns_ray = True

    def nodes(self) -> list[dict[str, Any]]:
        """The alive nodes: ``{"node_id", "address", "CPU", "GPU"}`` each."""
        out = []
        for n in self._ray.nodes():
            if not n.get("Alive", n.get("alive", False)):
                continue
            res = n.get("Resources", {})
            out.append({"node_id": n.get("NodeID"), "address": n.get("NodeManagerAddress"),
                        "CPU": float(res.get("CPU", 0.0)), "GPU": float(res.get("GPU", 0.0))})
        return out

    def slots(self, nodes: list[dict[str, Any]] | None = None) -> int:
        """How many workers the alive nodes can hold at once (capped by ``max_workers``)."""
        total = 0
        for n in self.nodes() if nodes is None else nodes:
            if self._pin is not None and n["address"] != self._pin:
                continue
            fit = []
            if self.cpus_per_trial > 0:
                fit.append(int(n["CPU"] // self.cpus_per_trial + 1e-9))
            if self.gpus_per_trial > 0:
                fit.append(int(n["GPU"] // self.gpus_per_trial + 1e-9))
            total += min(fit)
        if self.max_workers is not None:
            total = min(total, self.max_workers)
        return total

    def check_storage(self, url: str | None) -> str | None:
        """Check ``url`` against the cluster (see :mod:`recforge.execution.storage`).

        Returns the URL the workers use. With SQLite (one node), the pool stays on that
        node's machine even if other nodes join later.
        """
        if url in self._storage_ok:
            return self._storage_ok[url]
        nodes = self.nodes()
        where = f"the Ray cluster at {self.address}" if self.address else "the Ray cluster"
        checked = check_cluster_storage(url, [str(n["address"]) for n in nodes], where=where,
                                        driver_addresses=_driver_addresses())
        if storage_scheme(url) == "sqlite" and nodes:
            self._pin = str(nodes[0]["address"])
        self._storage_ok[url] = checked
        return checked

    # ------------------------------------------------------------------ executor protocol
    @property
    def max_in_flight(self) -> int:
        """Trials the engine should keep in flight: the pool's size (at least one)."""
        if self._remote_cls is None:
            return max(1, self.slots())
        return max(1, len(self._actors))

    def start(self, data: TrialData) -> None:
        """Ship ``data`` to the object store once and start the worker pool."""
        ray = self._ray
        t = time.perf_counter()
        self._data_ref = ray.put(data)
        options: dict[str, Any] = {"num_cpus": self.cpus_per_trial, "max_restarts": 0, "max_task_retries": 0}
        if self.gpus_per_trial > 0:
            options["num_gpus"] = self.gpus_per_trial
        self._remote_options = dict(options)
        self._remote_cls = ray.remote(TrialWorker).options(**options)
        self._remote_base = ray.remote(TrialWorker)
        if self.slots() < 1:
            raise ConfigError(
                f"ray executor: no node of the cluster can hold a trial asking for {self.cpus_per_trial:g} CPU(s)"
                f" and {self.gpus_per_trial:g} GPU(s); nodes: {self.nodes()}; lower cpus_per_trial/gpus_per_trial"
            )
        self._grow()
        # wait for the workers, so start-up is not charged to the first trials; once one is
        # ready, give the others 10 s more (a slot another job holds must not block the search)
        deadline = time.perf_counter() + self.start_timeout_s
        while self._starting and time.perf_counter() < deadline:
            self._pump(0.5)
            ready = any(a.state != "starting" for a in self._actors.values())
            if ready:
                deadline = min(deadline, time.perf_counter() + 10.0)
            elif len(self._start_failures) >= 3:
                raise ConfigError(f"ray executor: workers cannot start on the cluster: {self._start_failures[-1]}")
        self.startup_seconds = time.perf_counter() - t
        n_ready = sum(a.state != "starting" for a in self._actors.values())
        self.log(f"ray: {n_ready} worker(s) ready on {len({a.node_id for a in self._actors.values() if a.node_id})}"
                 f" node(s) in {self.startup_seconds:.1f}s")

    def submit(self, spec: TrialSpec, reporter: Reporter | None = None) -> cf.Future[TrialResult]:
        """Queue ``spec`` for the next free worker; ``reporter`` is not used (see the docs)."""
        if self._remote_cls is None:
            raise ConfigError("RayExecutor.start(data) must be called before submit()")
        storage = self.check_storage(spec.storage)
        if storage != spec.storage:
            spec = dataclasses.replace(spec, storage=storage)
        fut: cf.Future[TrialResult] = cf.Future()
        fut.set_running_or_notify_cancel()
        with self._lock:
            self._queue.append(_Task(spec, fut))
        self._dispatch()
        return fut

    def wait(self, futures: list[cf.Future[TrialResult]], timeout: float | None = None) -> set[Any]:
        """Drive the pool until one of ``futures`` is done; return the done ones.

        Returns an empty set early when the pool grew (a node joined), so that the engine
        submits more trials at once.
        """
        end = None if timeout is None else time.perf_counter() + timeout
        size = len(self._actors)
        while True:
            done = {f for f in futures if f.done()}
            if done:
                return done
            if len(self._actors) > size and len(self._actors) > len(futures):
                return set()
            step = self.poll_s if end is None else max(0.0, min(self.poll_s, end - time.perf_counter()))
            self._pump(max(step, 0.01))
            if end is not None and time.perf_counter() >= end:
                return {f for f in futures if f.done()}

    def shutdown(self) -> None:
        """Stop the workers (and the Ray connection this executor opened)."""
        ray = self._ray
        with self._lock:
            tasks = [t for t, _ in self._running.values()] + list(self._queue)
            self._running.clear()
            self._queue.clear()
            self._starting.clear()
            actors = list(self._actors.values())
            self._actors.clear()
        for task in tasks:
            if not task.future.done():
                task.future.set_exception(RuntimeError("the ray executor was shut down before this trial finished"))
        for a in actors:
            with contextlib.suppress(Exception):
                ray.kill(a.handle, no_restart=True)
        self._data_ref = None
        self._remote_cls = None
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()
            self._owns_ray = False

    # ------------------------------------------------------------------ introspection
    def running(self) -> dict[int, dict[str, Any]]:
        """Trials now on a worker: ``{trial number: {"node_id", "address", "pid", "attempt"}}``."""
        with self._lock:
            return {t.spec.number: {"node_id": a.node_id, "address": a.node_address, "pid": a.pid,
                                    "attempt": t.attempts} for t, a in self._running.values()}

    def workers(self) -> list[dict[str, Any]]:
        """The pool: ``{"node_id", "address", "pid", "state", "n_trials"}`` per worker."""
        with self._lock:
            return [{"node_id": a.node_id, "address": a.node_address, "pid": a.pid, "state": a.state,
                     "n_trials": a.n_trials} for a in self._actors.values()]

    # ------------------------------------------------------------------ the pool
    def _grow(self) -> None:
        """Drop idle workers of dead nodes; start workers until the pool fills the alive slots."""
        self._last_poll = time.perf_counter()
        nodes = self.nodes()
        alive = {n["node_id"] for n in nodes}
        with self._lock:
            gone = [a for a in self._actors.values() if a.state == "idle" and a.node_id not in alive]
        for actor in gone:  # found between trials: no trial is charged a retry for it
            self.log(f"ray: node {str(actor.node_id)[:8]} is gone; dropping its idle worker")
            self._drop(actor)
        target = self.slots(nodes)
        with self._lock:
            missing = target - len(self._actors)
        if missing <= 0:
            return
        options: dict[str, Any] = {}
        if self._pin is not None:
            options["resources"] = {f"node:{self._pin}": 0.001}
        for _ in range(missing):
            # an options wrapper has no .options() of its own: merge onto the plain actor class
            handle = (self._remote_base.options(**{**self._remote_options, **options}).remote(self._data_ref)
                      if options else self._remote_cls.remote(self._data_ref))
            self._n_created += 1
            actor = _Actor(handle=handle, key=f"w{self._n_created}")
            with self._lock:
                self._actors[actor.key] = actor
                self._starting[handle.ready.remote()] = actor
        if self._n_created > missing:  # not the initial pool
            self.log(f"ray: cluster grew; starting {missing} more worker(s) ({target} in all)")

    def _drop(self, actor: _Actor) -> None:
        with self._lock:
            self._actors.pop(actor.key, None)
        with contextlib.suppress(Exception):
            self._ray.kill(actor.handle, no_restart=True)

    def _dispatch(self) -> None:
        """Hand queued trials to idle workers (a retry prefers a node it has not failed on)."""
        with self._lock:
            while self._queue:
                idle = [a for a in self._actors.values() if a.state == "idle"]
                if not idle:
                    break
                task = self._queue.popleft()
                fresh = [a for a in idle if a.node_id not in task.nodes]
                actor = (fresh or idle)[0]
                task.attempts += 1
                task.nodes.append(str(actor.node_id))
                actor.state = "busy"
                ref = actor.handle.run.remote(task.spec, task.lost or None)
                self._running[ref] = (task, actor)

    def _pump(self, timeout: float) -> None:
        """Wait up to ``timeout`` s for results or started workers, handle them, refill."""
        ray = self._ray
        refs = list(self._running) + list(self._starting)
        if refs:
            ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)  # everything done by now
            for ref in ready:
                if ref in self._starting:
                    self._started(ref)
                elif ref in self._running:
                    self._finished(ref)
        else:
            time.sleep(timeout)
        if time.perf_counter() - self._last_poll >= self.poll_s:
            self._grow()
        self._dispatch()
        self._check_stalled()

    def _started(self, ref: Any) -> None:
        ray = self._ray
        with self._lock:
            actor = self._starting.pop(ref)
        try:
            actor.node_id, actor.node_address, actor.pid = ray.get(ref)
            actor.state = "idle"
        except ray.exceptions.RayError as exc:
            msg = _short(exc)
            self._start_failures.append(msg)
            self.log(f"ray: a worker could not start: {msg}")
            self._drop(actor)

    def _finished(self, ref: Any) -> None:
        ray = self._ray
        with self._lock:
            task, actor = self._running.pop(ref)
        entry: dict[str, Any] = {"trial": task.spec.number, "attempt": task.attempts, "node_id": actor.node_id,
                                 "address": actor.node_address, "pid": actor.pid, "time": time.time()}
        try:
            result: TrialResult = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            # the trial code itself raised outside run_trial's own trap (e.g. unpicklable
            # result): not a lost worker, so no retry
            actor.state, actor.n_trials = "idle", actor.n_trials + 1
            now = time.time()
            result = TrialResult(number=task.spec.number, state="fail", error=f"ray worker error: {_short(exc)}",
                                 started=now, ended=now)
        except ray.exceptions.RayError as exc:  # the worker or its node died: retry elsewhere
            msg = _short(exc)
            self._drop(actor)
            task.lost.append({"attempt": task.attempts, "node_id": actor.node_id, "error": msg})
            entry.update(outcome="lost", error=msg)
            self.history.append(entry)
            if task.attempts <= self.max_retries:
                self.log(f"ray: trial {task.spec.number} lost its worker on node {str(actor.node_id)[:8]} "
                         f"({msg}); running it again (attempt {task.attempts + 1} of {self.max_retries + 1})")
                with self._lock:
                    self._queue.appendleft(task)
                return
            now = time.time()
            result = TrialResult(number=task.spec.number, state="fail", started=now, ended=now,
                                 error=f"worker lost {task.attempts} time(s) (max_retries={self.max_retries}): {msg}")
            self.log(f"ray: trial {task.spec.number} failed: {result.error}")
            task.future.set_result(result)
            return
        actor.state, actor.n_trials = "idle", actor.n_trials + 1
        entry.update(outcome=result.state, error=result.error)
        self.history.append(entry)
        task.future.set_result(result)

    def _check_stalled(self) -> None:
        """Fail queued trials when no worker could run them for ``start_timeout_s``."""
        if not self._queue or any(a.state != "starting" for a in self._actors.values()):
            self._no_worker_since = None
            return
        now = time.perf_counter()
        if self._no_worker_since is None:
            self._no_worker_since = now
            return
        if now - self._no_worker_since < self.start_timeout_s:
            return
        why = self._start_failures[-1] if self._start_failures else f"the cluster offers {self.slots()} slot(s)"
        with self._lock:
            tasks = list(self._queue)
            self._queue.clear()
        for task in tasks:
            t = time.time()
            task.future.set_result(TrialResult(
                number=task.spec.number, state="fail", started=t, ended=t,
                error=f"no Ray worker could run this trial for {self.start_timeout_s:.0f}s ({why})"))
        self._no_worker_since = None


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    key = next((ln for ln in lines if "died because" in ln or "Error" in ln), lines[0] if lines else "")
    return f"{type(exc).__name__}: {key}"[:300]
