"""The search engine: Optuna ask/tell over model families, multi-fidelity, resumable.

One loop, three roles kept apart (Optuna's ask/tell design):

* **choose** — ``study.ask()`` and :meth:`ResolvedSpace.suggest` pick a family and its
  conditional parameters (TPE, ``multivariate=True, group=True``, by default; warm-start
  configurations from the portfolio are enqueued first and come out of ``ask`` before TPE);
* **run** — an :class:`~recforge.execution.Executor` runs :func:`~recforge.execution.run_trial`
  here or elsewhere; intermediate values go back through a reporter to the study's pruner;
* **record** — ``study.tell`` with the metric (or metric, latency, memory in multi-objective
  mode) after one user-attribute write holding everything else the trial measured.

Every trial is persisted in the study's storage (SQLite under the run directory by default,
any Optuna RDB URL such as PostgreSQL accepted). On ``resume`` the trials a killed process
left ``RUNNING`` are marked failed (with the reason) and their configuration is enqueued once
more, so nothing completed is lost or run twice. Search overhead per trial — time spent in
ask, suggest, report/prune, tell and storage writes, i.e. everything but fitting, evaluating
and measuring — is measured and reported.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import math
import os
import re
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from recforge.config import Config, param
from recforge.data.interactions import Interactions
from recforge.errors import ConfigError, DataError
from recforge.search.space import FAMILY_PARAM, FamilySpace, ResolvedSpace, resolve

STUDY_NAME = "recforge"
ATTR = "rf"  # the one user attribute per trial


def parse_budget(budget: str | float | int) -> float:
    """``"10m"``, ``"90s"``, ``"1h30m"``, ``"2.5m"`` or a number of seconds -> seconds."""
    if isinstance(budget, bool):
        raise ConfigError(f"budget must be a duration like '10m' or seconds, got {budget!r}")
    if isinstance(budget, (int, float)):
        seconds = float(budget)
    else:
        text = str(budget).strip().lower()
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
        else:
            parts = re.findall(r"(\d+(?:\.\d+)?)\s*(h|m|min|s|sec)", text)
            if not parts or "".join(f"{a}{b}" for a, b in parts) != text.replace(" ", ""):
                raise ConfigError(f"invalid budget {budget!r}; write e.g. 30s, 10m, 1h30m")
            unit = {"h": 3600.0, "m": 60.0, "min": 60.0, "s": 1.0, "sec": 1.0}
            seconds = sum(float(a) * unit[b] for a, b in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"budget must be positive, got {budget!r}")
    return seconds


@dataclasses.dataclass(frozen=True)
class SearchConfig(Config):
    """Settings of one search (stored with the study; a resumed search must match them).

    Attributes:
        budget_s: wall-clock budget in seconds for the whole search (refit excluded).
        metric: validation metric to maximise (any ranking metric of recforge.evaluation).
        trial_timeout_s: per-trial limit (default: a third of the budget).
        seed: seed of the sampler and of the models.
        sampler: ``tpe`` (multivariate, grouped — recforge's default), ``tpe-plain``
            (Optuna's default TPE, independent per parameter) or ``random``.
        pruner: ``asha`` (successive halving per family), ``hyperband`` or ``none``.
        warm_start: enqueue the portfolio's configurations first.
        multi_objective: optimise (metric, p95 latency, memory) and return the Pareto front.
        max_latency_ms / max_memory_mb: constraints on p95 single-user latency and memory.
        max_trials: stop after this many trials in the study (all sessions together).
        n_jobs: trials in flight at once (local thread pool or Ray workers).
        refit: refit the winner on train+validation at the end.
        measure_latency: measure p95 latency of every completed trial.
    """

    budget_s: float = param(600.0, low=0.001, doc="wall-clock budget in seconds")
    metric: str = param("ndcg@10", doc="validation metric to maximise")
    trial_timeout_s: float | None = param(None, low=0.001, doc="per-trial time limit in seconds")
    seed: int = param(0, low=0, doc="random seed")
    sampler: str = param("tpe", choices=("tpe", "tpe-plain", "random"), doc="Optuna sampler")
    pruner: str = param("asha", choices=("asha", "hyperband", "none"), doc="Optuna pruner")
    warm_start: bool = param(True, doc="try the portfolio's configurations first")
    multi_objective: bool = param(False, doc="metric, latency and memory as objectives")
    max_latency_ms: float | None = param(None, low=0.0, doc="p95 single-user latency limit")
    max_memory_mb: float | None = param(None, low=0.0, doc="model memory limit")
    max_trials: int | None = param(None, low=1, doc="stop after this many trials")
    n_jobs: int = param(1, low=1, high=1024, doc="trials in flight")
    refit: bool = param(True, doc="refit the best on train+validation")
    measure_latency: bool = param(True, doc="measure p95 latency per trial")

    def validate(self) -> None:
        from recforge.evaluation import parse_metrics

        specs = parse_metrics(self.metric)
        if len(specs) != 1 or specs[0].name in ("coverage", "gini", "novelty", "arp"):
            raise ConfigError(
                f"search metric must be one accuracy metric such as ndcg@10, recall@20, map@10 or auc; got {self.metric!r}"
            )
        if self.max_latency_ms is not None and not self.measure_latency:
            raise ConfigError("max_latency_ms needs measure_latency=True")

    @property
    def timeout(self) -> float:
        return self.trial_timeout_s if self.trial_timeout_s is not None else max(self.budget_s / 3.0, 1.0)


@dataclasses.dataclass
class TrialRecord:
    """A trial as the leaderboard, the summary and the HTML report see it."""

    number: int
    family: str | None
    params: dict[str, Any]
    state: str  # complete | pruned | fail | running | waiting
    value: float | None
    values: list[float] | None
    error: str | None
    started: str | None
    ended: str | None
    duration_s: float | None
    latency_ms: float | None
    memory_mb: float | None
    epochs: int | None
    fit_s: float | None
    eval_s: float | None
    intermediate: list[list[float]]
    feasible: bool
    overhead_ms: float | None
    source: str | None  # portfolio | default | retry | sampler

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class SearchResult:
    """What :func:`recforge.search` returns.

    Attributes:
        best: the best feasible trial (by the validation metric).
        leaderboard: best feasible trial per family, best first.
        pareto_front: non-dominated feasible trials on (metric, latency, memory).
        trials: every trial of the study.
        best_model: the winner refitted on train+validation (``None`` with ``refit=False``).
        test_metrics: the winner's metrics on test, computed once (``None`` without test).
        summary: the JSON summary (also ``summary.json`` in the run directory).
        study: the Optuna study.
    """

    best: TrialRecord | None
    leaderboard: list[TrialRecord]
    pareto_front: list[TrialRecord]
    trials: list[TrialRecord]
    best_model: Any
    test_metrics: dict[str, float] | None
    summary: dict[str, Any]
    study: Any
    out: Path | None = None

    @property
    def best_params(self) -> dict[str, Any] | None:
        return None if self.best is None else dict(self.best.params)


# ------------------------------------------------------------------------------ helpers
def _sampler(cfg: SearchConfig, seed: int) -> Any:
    import optuna

    if cfg.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        # multivariate/group are marked experimental by Optuna; they are what
        # TPE needs for conditional spaces, so the warning carries no news for our users.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if cfg.sampler == "tpe-plain":
            return optuna.samplers.TPESampler(seed=seed)
        return optuna.samplers.TPESampler(
            seed=seed, multivariate=True, group=True, constant_liar=cfg.n_jobs > 1,
            n_startup_trials=10,
        )


def _constraint_values(attrs: Mapping[str, Any], max_latency_ms: float | None,
                       max_memory_mb: float | None) -> list[float]:
    out = []
    if max_latency_ms is not None:
        lat = attrs.get("latency_ms")
        out.append(0.0 if lat is None else float(lat) - max_latency_ms)
    if max_memory_mb is not None:
        mem = attrs.get("memory_mb")
        out.append(0.0 if mem is None else float(mem) - max_memory_mb)
    return out


def _storage_url(storage: str | None, out: Path | None) -> str | None:
    if storage is not None:
        if "://" not in storage:
            raise ConfigError(
                f"storage must be a database URL such as sqlite:///runs/study.db or "
                f"postgresql://user@host/db, got {storage!r}"
            )
        return storage
    if out is not None:
        return f"sqlite:///{(out / 'study.db').resolve()}"
    return None


def _open_storage(url: str | None, *, write_through: bool = False) -> Any:
    """The study's storage: in memory (``url`` None) or a database; with ``write_through``
    (every trial runs in this process) reads are served from memory, see
    :mod:`recforge.search.storage`."""
    import optuna

    if url is None:
        return optuna.storages.InMemoryStorage()
    if write_through:
        from recforge.search.storage import WriteThroughStorage

        return WriteThroughStorage(_open_storage(url))
    try:
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            kwargs = {"connect_args": {"timeout": 60}}
        storage = optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        if url.startswith("sqlite"):
            _sqlite_wal(storage)
        return storage
    except ImportError as exc:
        raise ConfigError(f"storage {url!r} needs a database driver ({exc}); for PostgreSQL: pip install 'recforge[ray]'") from exc
    except Exception as exc:  # sqlalchemy.exc.* — cannot reach/open the database
        raise ConfigError(f"cannot open study storage {url!r}: {type(exc).__name__}: {exc}") from exc


def _sqlite_wal(storage: Any) -> None:
    """Write-ahead log + ``synchronous=NORMAL`` on the study's SQLite file.

    A commit then appends to the WAL without an fsync: it survives the process being killed
    (SIGKILL, the case ``--resume`` is for) and costs a few ms instead of ~35 ms on this
    machine's disk; only a power cut may lose the last trials.
    """
    from sqlalchemy import event

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    event.listen(storage.engine, "connect", on_connect)
    storage.engine.dispose()  # connections opened before the listener get replaced


@contextlib.contextmanager
def _run_lock(out: Path | None) -> Any:
    """A pid file in the run directory: two live searches must not share one study."""
    if out is None:
        yield
        return
    lock = out / ".search.lock"
    if lock.exists():
        try:
            pid = int(lock.read_text().strip() or 0)
        except ValueError:
            pid = 0
        if pid and pid != os.getpid() and _alive(pid):
            raise ConfigError(f"{out}: a search is still running there (pid {pid}); wait for it or stop it first")
    lock.write_text(str(os.getpid()))
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _fmt(v: float | None, nd: int = 4) -> str:
    return "-" if v is None else f"{v:.{nd}f}"


# ------------------------------------------------------------------------------ engine
class SearchEngine:
    """One search over ``space`` (see :func:`recforge.search.search` for the public entry)."""

    def __init__(self, train: Interactions, valid: Interactions, *, config: SearchConfig,
                 space: ResolvedSpace, storage_url: str | None, out: Path | None,
                 executor: Any, resume: bool, portfolio: list[dict[str, Any]] | None,
                 log: Callable[[str], None]) -> None:
        self.train, self.valid = train, valid
        self.cfg = config
        self.space = space
        self.storage_url = storage_url
        self.out = out
        self.executor = executor
        self.resume = resume
        self.portfolio = portfolio or []
        self.log = log
        self.overhead_ms: dict[int, float] = {}  # wall time outside fit/evaluate/measure
        self.overhead_cpu_ms: dict[int, float] = {}  # CPU time of the same (load-independent)
        self.best_value: float | None = None
        self._finished: dict[str, Any] = {}  # config key -> TrialResult of this session
        self._rung_costs: dict[str, list[tuple[float, float]]] = {}  # family -> (rung s, full s)
        self._data_rungs_off: set[str] = set()
        self.best_label = ""

    # -------------------------------------------------------------- study lifecycle
    def _settings_attr(self) -> dict[str, Any]:
        keep = ("metric", "sampler", "pruner", "multi_objective", "max_latency_ms", "max_memory_mb")
        return {"config": {k: getattr(self.cfg, k) for k in keep}, "families": self.space.names,
                "data": {"train_rows": self.train.n_interactions, "valid_rows": self.valid.n_interactions,
                         "n_users": self.train.n_users, "n_items": self.train.n_items}}

    def open_study(self) -> Any:
        import optuna

        from recforge.search.fidelity import build_pruner

        # in-process trials (the local executor): this process is the study's only writer
        storage = _open_storage(self.storage_url,
                                write_through=bool(getattr(self.executor, "accepts_reporter", False)))
        names = [s.study_name for s in optuna.study.get_all_study_summaries(storage)] if self.storage_url else []
        exists = STUDY_NAME in names
        n_before = 0
        if exists:
            probe = optuna.load_study(study_name=STUDY_NAME, storage=storage)
            n_before = len(probe.get_trials(deepcopy=False))
        seed = self.cfg.seed + n_before  # a resumed sampler must not replay the same draws
        pruner = build_pruner(self.cfg.pruner if not self.cfg.multi_objective else "none")
        sampler = _sampler(self.cfg, seed)
        if self.resume:
            if not exists:
                raise ConfigError(
                    f"nothing to resume: no study {STUDY_NAME!r} in {self.storage_url or 'memory'}; run without --resume first"
                )
            study = optuna.load_study(study_name=STUDY_NAME, storage=storage, sampler=sampler, pruner=pruner)
            self._check_same_search(study)
            self._recover(study)
            return study
        if exists:
            raise ConfigError(
                f"{self.storage_url}: a search already exists there; pass --resume to continue it "
                "or choose another --out/--storage"
            )
        directions: list[Any] = ["maximize", "minimize", "minimize"] if self.cfg.multi_objective else ["maximize"]
        study = optuna.create_study(study_name=STUDY_NAME, storage=storage, sampler=sampler,
                                    pruner=pruner, directions=directions)
        study.set_user_attr("settings", self._settings_attr())
        self._enqueue_warm_start(study)
        return study

    def _check_same_search(self, study: Any) -> None:
        stored = study.user_attrs.get("settings", {})
        now = self._settings_attr()
        for key in ("config", "families", "data"):
            if stored.get(key) != json.loads(json.dumps(now[key])):
                raise ConfigError(
                    f"--resume: the stored search has {key} {stored.get(key)!r} but this run has "
                    f"{now[key]!r}; resume with the same data, split, metric, models and constraints"
                )

    def _recover(self, study: Any) -> None:
        """Trials left RUNNING by a killed process: mark failed, enqueue their config once."""
        from optuna.trial import TrialState

        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            attrs = dict(t.user_attrs.get(ATTR, {}))
            attrs["error"] = "interrupted: the search process died during this trial; marked failed on resume"
            study._storage.set_trial_user_attr(t._trial_id, ATTR, attrs)
            study.tell(t.number, state=TrialState.FAIL)
            if t.user_attrs.get("retry_of") is None and FAMILY_PARAM in t.params:
                study.enqueue_trial(dict(t.params), user_attrs={"retry_of": t.number, "source": "retry"},
                                    skip_if_exists=False)
            self.log(f"search: trial {t.number} was interrupted; marked failed and queued again")

    def _enqueue_warm_start(self, study: Any) -> None:
        if not self.cfg.warm_start:
            return
        seen: set[str] = set()
        n = 0
        # Round-robin over families in portfolio order (each family's best entry first): a
        # slow family at the head of the portfolio must not hold up the cheap ones.
        count: dict[str, int] = {}
        keyed = []
        for i, entry in enumerate(self.portfolio):
            fam_i = str(entry.get("family"))
            keyed.append((count.get(fam_i, 0), i, entry))
            count[fam_i] = count.get(fam_i, 0) + 1
        for _, _, entry in sorted(keyed, key=lambda x: (x[0], x[1])):
            fam = entry.get("family")
            if fam not in self.space.families:
                continue
            sp = self.space.families[fam]
            params = sp.to_optuna_params({**sp.defaults(), **entry.get("params", {})})
            key = json.dumps(params, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            study.enqueue_trial(params, user_attrs={"source": "portfolio"})
            n += 1
        for fam, sp in self.space.families.items():
            if not any(e.get("family") == fam for e in self.portfolio):
                params = sp.to_optuna_params(sp.defaults())
                key = json.dumps(params, sort_keys=True)
                if key not in seen:
                    seen.add(key)
                    study.enqueue_trial(params, user_attrs={"source": "default"})
                    n += 1
        if n:
            self.log(f"search: warm start with {n} configuration(s) from the portfolio and family defaults")

    # -------------------------------------------------------------- the loop
    def used_seconds(self, study: Any) -> float:
        total = 0.0
        for t in study.get_trials(deepcopy=False):
            if t.datetime_start is not None and t.datetime_complete is not None:
                total += (t.datetime_complete - t.datetime_start).total_seconds()
        return total

    def run(self, study: Any) -> None:
        import optuna
        from optuna.trial import TrialState

        from recforge.execution.trial import TrialData, TrialSpec

        cfg = self.cfg
        remaining = cfg.budget_s - (self.used_seconds(study) if self.resume else 0.0)
        t0 = time.perf_counter()
        deadline = t0 + max(remaining, 0.0)
        self.executor.start(TrialData(self.train, self.valid, seed=cfg.seed))
        n_done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)))
        self._init_best(study)
        in_flight: dict[Any, tuple[Any, tuple[float, float]]] = {}
        mo = cfg.multi_objective
        prune = cfg.pruner != "none" and not mo
        try:
            while True:
                while (len(in_flight) < self.executor.max_in_flight and time.perf_counter() < deadline
                       and (cfg.max_trials is None or n_done + len(in_flight) < cfg.max_trials)):
                    t_pre, c_pre = time.perf_counter(), time.thread_time()
                    trial = study.ask()
                    fam, params = self.space.suggest(trial)
                    persist = getattr(study._storage, "persist_trial", None)
                    if persist is not None:  # on disk, with its parameters, before it runs
                        persist(trial._trial_id)
                    key = json.dumps(trial.params, sort_keys=True, default=str)
                    prev = self._finished.get(key)
                    if prev is not None:
                        # The same configuration again (TPE re-proposes e.g. a family with no
                        # hyperparameters): record the earlier outcome instead of refitting.
                        now = time.time()
                        dup = dataclasses.replace(
                            prev, number=trial.number, started=now, ended=now, intermediate=[],
                            fit_seconds=0.0, eval_seconds=0.0, latency_seconds=0.0,
                            report_seconds=0.0, report_cpu_seconds=0.0, duplicate_of=prev.number)
                        done_fut: Any = concurrent.futures.Future()
                        done_fut.set_result(dup)
                        in_flight[done_fut] = (trial, (time.perf_counter() - t_pre, time.thread_time() - c_pre))
                        continue
                    fidelity = self.space.families[fam].fidelity
                    if fidelity == "data" and fam in self._data_rungs_off:
                        fidelity = "none"
                    left = deadline - time.perf_counter()
                    spec = TrialSpec(
                        number=trial.number, family=fam, params=params, metric=cfg.metric,
                        fidelity=fidelity, timeout_s=min(cfg.timeout, max(left, 0.001)),
                        seed=cfg.seed, prune=prune and fidelity != "none",
                        measure_latency=cfg.measure_latency,
                        storage=self.storage_url, study_name=STUDY_NAME,
                        trial_id=trial._trial_id, pruner=cfg.pruner,
                    )
                    reporter = _reporter(trial) if spec.prune and getattr(self.executor, "accepts_reporter", False) else None
                    pre = (time.perf_counter() - t_pre, time.thread_time() - c_pre)
                    fut = self.executor.submit(spec, reporter)
                    in_flight[fut] = (trial, pre)
                if not in_flight:
                    break
                for fut in self.executor.wait(list(in_flight)):
                    trial, pre = in_flight.pop(fut)
                    result = fut.result()
                    t_post, c_post = time.perf_counter(), time.thread_time()
                    self._tell(study, trial, result, mo)
                    if result.state in ("complete", "fail") and result.duplicate_of is None:
                        self._finished[json.dumps(trial.params, sort_keys=True, default=str)] = result
                    post = (time.perf_counter() - t_post, time.thread_time() - c_post)
                    self.overhead_ms[trial.number] = (pre[0] + post[0] + result.report_seconds) * 1000.0
                    self.overhead_cpu_ms[trial.number] = (pre[1] + post[1] + result.report_cpu_seconds) * 1000.0
                    n_done += 1
                    self._check_rung_cost(str(trial.params.get(FAMILY_PARAM)), result)
                    self._progress(trial.number, str(trial.params.get(FAMILY_PARAM)), result, deadline)
        except KeyboardInterrupt:
            for trial, _ in in_flight.values():
                with contextlib.suppress(Exception):
                    trial.set_user_attr(ATTR, {"error": "interrupted by the user"})
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        finally:
            self.executor.shutdown()

    def _tell(self, study: Any, trial: Any, result: Any, mo: bool) -> None:
        from optuna.trial import TrialState

        attrs = {
            "family": trial.params.get(FAMILY_PARAM),
            "latency_ms": result.latency_ms, "memory_mb": result.memory_mb,
            "fit_s": round(result.fit_seconds, 4), "eval_s": round(result.eval_seconds, 4),
            "epochs": result.epochs, "error": result.error, "note": result.note,
            "started": result.started, "ended": result.ended,
        }
        if result.duplicate_of is not None:
            attrs["duplicate_of"] = result.duplicate_of
        # every epoch's value (only the pruners' rung steps go through trial.report)
        attrs["intermediate"] = [list(p) for p in result.intermediate]
        trial.set_user_attr(ATTR, attrs)
        if result.state in ("complete", "pruned"):
            # Optuna's constraint API: values <= 0 are feasible; TPE models feasibility.
            names = [n for n, lim in (("latency_ms", self.cfg.max_latency_ms), ("memory_mb", self.cfg.max_memory_mb))
                     if lim is not None]
            vals = _constraint_values(attrs, self.cfg.max_latency_ms, self.cfg.max_memory_mb)
            for name, v in zip(names, vals, strict=True):
                trial.set_constraint(name, v)
        if result.state == "complete":
            if mo:
                study.tell(trial, [result.value, result.latency_ms if result.latency_ms is not None else 0.0,
                                   result.memory_mb if result.memory_mb is not None else 0.0])
            else:
                study.tell(trial, result.value)
        elif result.state == "pruned" and not mo:
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, state=TrialState.FAIL)

    def _check_rung_cost(self, family: str, result: Any) -> None:
        """Turn a family's data-fraction rung off when it does not pay for itself.

        With reduction factor 3, one in three trials is promoted at the rung, so three trials
        cost ``3 r + F`` with the rung and ``3 F`` without: the rung saves time only while a
        rung costs less than two thirds of a full fit (``r < 2F/3``). Item-item models whose
        cost grows with the catalogue rather than with the users can miss that.
        """
        if result.state != "complete" or result.rung_seconds <= 0 or family in self._data_rungs_off:
            return
        full = result.work_seconds - result.rung_seconds - result.latency_seconds
        costs = self._rung_costs.setdefault(family, [])
        costs.append((result.rung_seconds, max(full, 1e-9)))
        r = sum(c[0] for c in costs) / len(costs)
        f = sum(c[1] for c in costs) / len(costs)
        if r > 2.0 * f / 3.0:
            self._data_rungs_off.add(family)
            self.log(f"search: {family}: a quarter-of-the-users rung takes {r:.1f}s against {f:.1f}s "
                     "for a full fit; data-fraction rungs turned off for this family")

    def _init_best(self, study: Any) -> None:
        for rec in self.records(study):
            self._update_best(rec.number, rec.family, rec.value, rec.state, rec.feasible)

    def _update_best(self, number: int, family: str | None, value: float | None, state: str, feasible: bool) -> None:
        if state == "complete" and feasible and value is not None and (self.best_value is None or value > self.best_value):
            self.best_value = value
            self.best_label = f"{family} #{number}"

    def _progress(self, number: int, family: str, result: Any, deadline: float) -> None:
        attrs = {"latency_ms": result.latency_ms, "memory_mb": result.memory_mb}
        feasible = all(c <= 0 for c in _constraint_values(attrs, self.cfg.max_latency_ms, self.cfg.max_memory_mb))
        self._update_best(number, family, result.value, result.state, feasible)
        left = max(0.0, deadline - time.perf_counter())
        what = result.state if result.state != "fail" else f"fail ({(result.error or '')[:60]})"
        extra = ""
        if result.latency_ms is not None:
            extra = f", p95 {result.latency_ms:.2f} ms, {_fmt(result.memory_mb, 1)} MB" + ("" if feasible else " INFEASIBLE")
        self.log(
            f"trial {number:>3} {family:<12} {what:<8} {self.cfg.metric}={_fmt(result.value)}"
            f" ({result.work_seconds:.1f}s{extra}) | best {_fmt(self.best_value)} ({self.best_label}) | {left:.0f}s left"
        )

    # -------------------------------------------------------------- reading the study
    def records(self, study: Any) -> list[TrialRecord]:
        out = []
        for t in study.get_trials(deepcopy=False):
            out.append(self._record(t))
        return out

    def _record(self, t: Any) -> TrialRecord:
        attrs = t.user_attrs.get(ATTR, {})
        fam = t.params.get(FAMILY_PARAM)
        params: dict[str, Any] = {}
        if fam in self.space.families:
            _, params = self.space.params_of(t.params)
        elif fam is not None:
            prefix = f"{fam}."
            params = {k[len(prefix):]: v for k, v in t.params.items() if k.startswith(prefix)}
        state = t.state.name.lower()
        values = list(t.values) if t.values is not None else None
        value = values[0] if values else None
        inter = attrs.get("intermediate") or [[int(s), float(v)] for s, v in sorted(t.intermediate_values.items())]
        feasible = all(c <= 0 for c in _constraint_values(attrs, self.cfg.max_latency_ms, self.cfg.max_memory_mb))
        started = t.datetime_start.isoformat() if t.datetime_start else None
        ended = t.datetime_complete.isoformat() if t.datetime_complete else None
        dur = (t.datetime_complete - t.datetime_start).total_seconds() if t.datetime_start and t.datetime_complete else None
        return TrialRecord(
            number=t.number, family=None if fam is None else str(fam), params=params, state=state,
            value=value, values=values if self.cfg.multi_objective else None,
            error=attrs.get("error"), started=started, ended=ended, duration_s=dur,
            latency_ms=attrs.get("latency_ms"), memory_mb=attrs.get("memory_mb"),
            epochs=attrs.get("epochs"), fit_s=attrs.get("fit_s"), eval_s=attrs.get("eval_s"),
            intermediate=inter, feasible=feasible, overhead_ms=self.overhead_ms.get(t.number),
            source=("duplicate" if attrs.get("duplicate_of") is not None else t.user_attrs.get("source", "sampler")),
        )


def _reporter(trial: Any) -> Callable[[int, float], bool]:
    def report(step: int, value: float) -> bool:
        trial.report(value, step)
        return bool(trial.should_prune())

    return report


def pareto_front(records: list[TrialRecord]) -> list[TrialRecord]:
    """Feasible complete trials not dominated on (metric max, latency min, memory min)."""
    pts = [r for r in records if r.state == "complete" and r.feasible and r.value is not None]

    def key(r: TrialRecord) -> tuple[float, float, float]:
        return (-(r.value or 0.0), r.latency_ms if r.latency_ms is not None else math.inf,
                r.memory_mb if r.memory_mb is not None else math.inf)

    front = []
    for r in pts:
        kr = key(r)
        dominated = False
        for o in pts:
            ko = key(o)
            if o is not r and all(a <= b for a, b in zip(ko, kr, strict=True)) and ko != kr:
                dominated = True
                break
        if not dominated:
            front.append(r)
    return sorted(front, key=lambda r: -(r.value or 0.0))


def leaderboard(records: list[TrialRecord]) -> list[TrialRecord]:
    """Best feasible complete trial per family, best first."""
    best: dict[str, TrialRecord] = {}
    for r in records:
        if r.state != "complete" or not r.feasible or r.value is None or r.family is None:
            continue
        if r.family not in best or r.value > (best[r.family].value or -math.inf):
            best[r.family] = r
    return sorted(best.values(), key=lambda r: -(r.value or 0.0))


def refit_best(best: TrialRecord, space: FamilySpace | None, train: Interactions, valid: Interactions,
               seed: int) -> Any:
    """The winner's configuration fitted on train + validation (as many epochs as its trial ran)."""
    from recforge.execution.trial import _build

    params = dict(best.params)
    if space is not None and space.fidelity == "epochs" and space.epochs_field and best.epochs:
        params[space.epochs_field] = int(best.epochs)
    model = _build(best.family or "", params, seed)
    if valid.history is not None:
        model.fit(train)  # user-holdout: validation users are not training users
    else:
        model.fit(train.concat(valid, name=f"{train.name or 'data'}:train+valid"))
    return model


def finalize(engine: SearchEngine, study: Any, *, test: Interactions | None, seconds: float,
             extra_metrics: list[str] | None = None, save_artifact: bool = True) -> SearchResult:
    """Leaderboard, Pareto front, refit + test once, artifact, summary and trials files."""
    from recforge.evaluation import evaluate

    cfg = engine.cfg
    records = engine.records(study)
    board = leaderboard(records)
    front = pareto_front(records)
    best = board[0] if board else None
    best_model = None
    test_metrics: dict[str, float] | None = None
    refit_info: dict[str, Any] = {}
    artifact_dir = None
    if best is not None and cfg.refit:
        t = time.perf_counter()
        best_model = refit_best(best, engine.space.families.get(best.family or ""), engine.train, engine.valid, cfg.seed)
        refit_info["refit_seconds"] = round(time.perf_counter() - t, 3)
        if test is not None:
            metrics = list(dict.fromkeys([cfg.metric, *(extra_metrics or [])]))
            exclude = engine.train if engine.valid.history is not None else engine.train.concat(engine.valid)
            res = evaluate(best_model, test, train=None if test.history is not None else exclude, metrics=metrics)
            test_metrics = dict(res.metrics)
        if engine.out is not None and save_artifact:
            from recforge.artifacts import save

            try:
                artifact_dir = save(best_model, engine.out / "best-model", metadata={
                    "search_trial": best.number, "valid_metric": {cfg.metric: best.value},
                    "test_metrics": test_metrics, "refit_on": "train+valid",
                })
            except NotImplementedError as exc:
                refit_info["artifact_error"] = str(exc)
    def stats(vals: list[float]) -> dict[str, float] | None:
        if not vals:
            return None
        vals = sorted(vals)
        return {"mean": round(sum(vals) / len(vals), 3), "median": round(vals[len(vals) // 2], 3),
                "p95": round(vals[min(len(vals) - 1, int(0.95 * len(vals)))], 3),
                "max": round(vals[-1], 3), "n": len(vals)}

    counts: dict[str, int] = {}
    for r in records:
        counts[r.state] = counts.get(r.state, 0) + 1
    summary: dict[str, Any] = {
        "metric": cfg.metric,
        "budget_s": cfg.budget_s,
        "search_seconds": round(seconds, 3),
        "n_trials": len(records),
        "states": counts,
        "families": engine.space.names,
        "skipped_families": engine.space.skipped,
        "constraints": {"max_latency_ms": cfg.max_latency_ms, "max_memory_mb": cfg.max_memory_mb},
        "best": None if best is None else best.to_dict(),
        "leaderboard": [r.to_dict() for r in board],
        "pareto_front": [r.to_dict() for r in front] if cfg.multi_objective else None,
        "test_metrics": test_metrics,
        "refit": refit_info,
        "artifact": None if artifact_dir is None else str(artifact_dir),
        "overhead_ms": stats(list(engine.overhead_ms.values())),
        "overhead_cpu_ms": stats(list(engine.overhead_cpu_ms.values())),
        "storage": engine.storage_url,
        "settings": cfg.to_dict(),
        "space": engine.space.to_dict(),
        "anytime": anytime_curve(records),
    }
    if engine.out is not None:
        _write_atomic(engine.out / "trials.json", json.dumps([r.to_dict() for r in records], indent=1, default=str))
        _write_atomic(engine.out / "summary.json", json.dumps(summary, indent=2, default=str))
    return SearchResult(best=best, leaderboard=board, pareto_front=front, trials=records,
                        best_model=best_model, test_metrics=test_metrics, summary=summary,
                        study=study, out=engine.out)


def anytime_curve(records: list[TrialRecord]) -> list[list[float]]:
    """``[[seconds since the first trial started, best feasible value so far], ...]``."""
    from datetime import datetime

    done = [r for r in records if r.ended and r.started]
    if not done:
        return []
    t0 = min(datetime.fromisoformat(r.started) for r in done if r.started)
    best = -math.inf
    out = []
    for r in sorted(done, key=lambda r: r.ended or ""):
        if r.state == "complete" and r.feasible and r.value is not None and r.value > best:
            best = r.value
            out.append([round((datetime.fromisoformat(r.ended or "") - t0).total_seconds(), 3), best])
    return out


def check_inputs(train: Interactions, valid: Interactions | None, test: Interactions | None) -> None:
    if not isinstance(train, Interactions):
        raise DataError(f"search: train must be an Interactions object, got {type(train).__name__}")
    if valid is None:
        raise DataError("search needs a validation part to choose on; use a split with one (e.g. random:0.8,0.1,0.1)")
    if not isinstance(valid, Interactions):
        raise DataError(f"search: valid must be an Interactions object, got {type(valid).__name__}")
    for label, part in (("valid", valid), ("test", test)):
        if part is not None and (part.n_users != train.n_users or part.n_items != train.n_items):
            raise DataError(f"search: {label} must come from the same dataset/split as train (same vocabularies)")
    if valid.n_interactions == 0:
        raise DataError("search: the validation part is empty; nothing to choose on")


def run(train: Interactions, valid: Interactions | None, test: Interactions | None = None, *,
        config: SearchConfig, spaces: Mapping[str, FamilySpace] | None = None,
        models: list[str] | None = None, storage: str | None = None, out: str | Path | None = None,
        resume: bool = False, executor: Any = None, portfolio: list[dict[str, Any]] | None = None,
        extra_metrics: list[str] | None = None, log: Callable[[str], None] | None = None) -> SearchResult:
    """Run (or resume) a search and finalise it; see :func:`recforge.search.search`."""
    import optuna

    from recforge.execution import get_executor

    check_inputs(train, valid, test)
    assert valid is not None
    logf = log or (lambda _m: None)
    space = resolve(spaces, models, log=logf)
    out_path = Path(out) if out is not None else None
    if out_path is not None:
        out_path.mkdir(parents=True, exist_ok=True)
    url = _storage_url(storage, out_path)
    if resume and url is None:
        raise ConfigError("resume needs persistent storage: give out= (a run directory) or storage=")
    ex = executor if executor is not None and not isinstance(executor, str) else get_executor(
        executor or "local", max_workers=config.n_jobs)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _run_lock(out_path):
        engine = SearchEngine(train, valid, config=config, space=space, storage_url=url, out=out_path,
                              executor=ex, resume=resume, portfolio=portfolio, log=logf)
        study = engine.open_study()
        t = time.perf_counter()
        engine.run(study)
        seconds = time.perf_counter() - t
        return finalize(engine, study, test=test, seconds=seconds, extra_metrics=extra_metrics)
