"""What one search trial is, and the function that runs it anywhere.

:func:`run_trial` is the only code that fits a model during a search. It is a plain module
level function of picklable arguments, so an executor can call it in this thread, in a thread
pool, or on another machine (``recforge.execution.trial:run_trial``) with the same result.
It knows nothing about Optuna: it reports intermediate values through a ``reporter``
callable (``reporter(step, value) -> True to stop``) that the engine builds from an Optuna
trial, or that a remote worker builds with :func:`optuna_reporter` from the study's shared
storage.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from recforge.data.interactions import Interactions

#: ``reporter(step, value)`` records an intermediate value and returns True to stop the trial.
Reporter = Callable[[int, float], bool]
State = Literal["complete", "pruned", "fail"]

#: Validation users used for per-epoch values (a fixed seeded subset on big data).
INTERMEDIATE_USERS = 2000


@dataclass(frozen=True)
class TrialSpec:
    """Everything needed to run one configuration (picklable, JSON-friendly).

    Attributes:
        number: the Optuna trial number.
        family: registered model name.
        params: the model config (field -> value).
        metric: validation metric (``"ndcg@10"``...), higher is better.
        fidelity: ``"epochs"``, ``"data"`` or ``"none"``.
        timeout_s: wall-clock limit; an iterative fit is stopped at the first epoch past it
            and evaluated as it is (``note`` says so), a closed-form one is failed when it
            returns late.
        seed: seed given to models whose config has a ``seed`` field.
        prune: whether to report intermediate values (multi-fidelity on).
        measure_latency: measure p95 single-user recommendation latency.
        storage / study_name / trial_id / pruner: where a remote worker finds the study to
            report to (:func:`optuna_reporter`); unused in-process.
    """

    number: int
    family: str
    params: dict[str, Any]
    metric: str = "ndcg@10"
    fidelity: str = "none"
    timeout_s: float = 600.0
    seed: int = 0
    prune: bool = True
    measure_latency: bool = True
    latency_users: int = 50
    storage: str | None = None
    study_name: str | None = None
    trial_id: int | None = None
    pruner: str = "asha"


@dataclass
class TrialResult:
    """What came out of :func:`run_trial` (JSON-friendly via :meth:`to_dict`)."""

    number: int
    state: State
    value: float | None = None
    error: str | None = None
    intermediate: list[tuple[int, float]] = field(default_factory=list)
    fit_seconds: float = 0.0
    eval_seconds: float = 0.0
    latency_seconds: float = 0.0  # time spent measuring latency
    report_seconds: float = 0.0  # time spent inside the reporter (search overhead)
    report_cpu_seconds: float = 0.0  # CPU time of this thread inside the reporter
    latency_ms: float | None = None  # p95, one user per call
    memory_mb: float | None = None
    epochs: int | None = None
    started: float = 0.0
    ended: float = 0.0
    duplicate_of: int | None = None  # set by the engine when it reuses an identical trial
    note: str | None = None  # e.g. an iterative fit stopped early by its time limit
    rung_seconds: float = 0.0  # fit + evaluation time spent on low data-fraction rungs

    @property
    def work_seconds(self) -> float:
        """Time spent fitting, evaluating and measuring (not search overhead)."""
        return self.fit_seconds + self.eval_seconds + self.latency_seconds

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["intermediate"] = [list(p) for p in self.intermediate]
        return out


class TrialData:
    """The data a trial needs, plus cached user subsamples for low-fidelity rungs."""

    def __init__(self, train: Interactions, valid: Interactions, *, seed: int = 0) -> None:
        self.train = train
        self.valid = valid
        self.seed = seed
        self.valid_users = valid.active_users()
        if valid.history is None:
            self.valid_users = self.valid_users[train.user_counts()[self.valid_users] > 0]
        self._rungs: dict[float, tuple[Interactions, np.ndarray]] = {}
        self._inter_users: np.ndarray | None = None

    def rung(self, fraction: float) -> tuple[Interactions, np.ndarray]:
        """Training rows and validation users of a seeded ``fraction`` of the users."""
        got = self._rungs.get(fraction)
        if got is None:
            from recforge.search.fidelity import subsample_users

            users = subsample_users(self.valid_users, fraction, self.seed)
            keep = np.zeros(self.train.n_users, dtype=bool)
            keep[users] = True
            got = (self.train.subset(keep[self.train.user]), users)
            self._rungs[fraction] = got
        return got

    def intermediate_users(self) -> np.ndarray:
        if self._inter_users is None:
            if self.valid_users.size > INTERMEDIATE_USERS:
                from recforge.search.fidelity import subsample_users

                self._inter_users = subsample_users(self.valid_users, INTERMEDIATE_USERS / self.valid_users.size, self.seed)
            else:
                self._inter_users = self.valid_users
        return self._inter_users


#: Config fields through which models pick the metric they report per epoch.
METRIC_FIELDS = ("eval_metric", "valid_metric")


def _build(family: str, params: dict[str, Any], seed: int, metric: str | None = None) -> Any:
    from recforge import registry

    cls = registry.get(family)
    cfg = dict(params)
    fields = cls.config_class.field_names()
    if "seed" in fields and "seed" not in cfg:
        cfg["seed"] = seed
    if metric is not None:  # the model's own per-epoch metric = the search metric (no re-evaluation)
        for name in METRIC_FIELDS:
            if name in fields and name not in cfg:
                cfg[name] = metric
    return cls(**cfg)


def _evaluate(model: Any, data: TrialData, metric: str, users: np.ndarray | None = None) -> float:
    from recforge.evaluation import evaluate

    res = evaluate(model, data.valid, metrics=[metric], users=users)
    return float(next(iter(res.metrics.values())))


def model_memory_mb(model: Any) -> float | None:
    """Bytes of the model's learned arrays (``get_state``; else ``*_`` numpy/torch attributes)."""
    try:
        state = model.get_state()
        return sum(int(np.asarray(v).nbytes) for v in state.values()) / 2**20
    except NotImplementedError:
        pass
    total = 0
    for name, v in vars(model).items():
        if not name.endswith("_") or name in ("train_", "_seen_"):
            continue
        if isinstance(v, np.ndarray):
            total += v.nbytes
        elif hasattr(v, "data") and hasattr(v, "indices") and hasattr(v, "indptr"):
            total += v.data.nbytes + v.indices.nbytes + v.indptr.nbytes
        elif hasattr(v, "element_size") and hasattr(v, "nelement"):
            total += int(v.element_size() * v.nelement())
        elif hasattr(v, "parameters"):
            total += sum(int(p.element_size() * p.nelement()) for p in v.parameters())
    return total / 2**20 if total else None


def measure_latency_ms(model: Any, users: np.ndarray, k: int = 10, n: int = 50, seed: int = 0) -> float:
    """p95 wall time (ms) of ``recommend_codes`` for one user at a time, after a warm-up."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(users, size=min(n, users.size), replace=users.size < n)
    for u in pick[:3]:
        model.recommend_codes(np.array([u]), k)
    times = []
    for u in pick:
        t = time.perf_counter()
        model.recommend_codes(np.array([u]), k)
        times.append(time.perf_counter() - t)
    return float(np.percentile(times, 95) * 1000.0)


def _metric_k(metric: str) -> int:
    _, _, k = metric.partition("@")
    return int(k) if k.isdigit() else 10


def run_trial(spec: TrialSpec, data: TrialData, reporter: Reporter | None = None) -> TrialResult:
    """Fit and evaluate one configuration; never raises for a bad configuration.

    An exception inside the model becomes ``state="fail"`` with the error text, so the search
    goes on. With ``reporter`` and ``spec.prune``, intermediate values are reported: per
    epoch for ``fidelity="epochs"``, per data rung for ``fidelity="data"``; a ``True`` answer
    stops the trial as ``"pruned"``.
    """
    from recforge.models.base import TAG_ITERATIVE, EpochReport
    from recforge.search.fidelity import DATA_RUNGS, is_rung_step

    res = TrialResult(number=spec.number, state="complete", started=time.time())
    t_start = time.perf_counter()
    deadline = t_start + spec.timeout_s
    use_reporter = reporter if spec.prune else None

    def report(step: int, value: float) -> bool:
        res.intermediate.append((int(step), float(value)))
        if use_reporter is None or not is_rung_step(int(step)):
            return False
        t, c = time.perf_counter(), time.thread_time()
        try:
            return bool(use_reporter(int(step), float(value)))
        finally:
            res.report_seconds += time.perf_counter() - t
            res.report_cpu_seconds += time.thread_time() - c

    try:
        model = _build(spec.family, spec.params, spec.seed, spec.metric)
        # ---- data-fraction rungs (closed-form families)
        if spec.fidelity == "data" and use_reporter is not None and data.valid.history is None:
            for step, fraction in DATA_RUNGS:
                t_rung = time.perf_counter()
                sub_train, users = data.rung(fraction)
                t = time.perf_counter()
                model.fit(sub_train)
                res.fit_seconds += time.perf_counter() - t
                t = time.perf_counter()
                value = _evaluate(model, data, spec.metric, users)
                res.eval_seconds += time.perf_counter() - t
                res.rung_seconds += time.perf_counter() - t_rung
                if report(step, value):
                    res.state = "pruned"
                    res.value = value
                    return _finish(res)
                if time.perf_counter() > deadline:
                    res.state, res.error = "fail", f"timeout: over {spec.timeout_s:.1f}s at data rung {step}"
                    return _finish(res)
        # ---- full fit (iterative families report per epoch)
        epochs = 0
        eval_in_fit = 0.0
        stop_reason: list[str] = []
        inter_ok = [True]

        def callback(rep: EpochReport) -> bool:
            nonlocal epochs, eval_in_fit
            epochs = rep.epoch
            if time.perf_counter() > deadline:
                stop_reason.append(f"timeout: over {spec.timeout_s:.1f}s at epoch {rep.epoch}")
                return True
            if use_reporter is None or spec.fidelity != "epochs":
                return False
            if rep.metric is not None and rep.metric_name == spec.metric:
                value = float(rep.metric)
            elif not is_rung_step(rep.epoch):
                return False  # no decision at this epoch: do not pay for an evaluation
            elif inter_ok[0]:
                t = time.perf_counter()
                try:
                    value = _evaluate(model, data, spec.metric, data.intermediate_users())
                except Exception:  # model not scorable mid-fit: no pruning for this trial
                    inter_ok[0] = False
                    return False
                finally:
                    eval_in_fit += time.perf_counter() - t
            else:
                return False
            if report(rep.epoch, value):
                stop_reason.append("pruned")
                return True
            return False

        iterative = TAG_ITERATIVE in getattr(model, "tags", ())
        rs0 = res.report_seconds
        t = time.perf_counter()
        if iterative:
            model.fit(data.train, data.valid, callback=callback)
        else:
            model.fit(data.train)
        res.fit_seconds += time.perf_counter() - t - eval_in_fit - (res.report_seconds - rs0)
        res.eval_seconds += eval_in_fit
        res.epochs = epochs if iterative else None
        if stop_reason and stop_reason[0] == "pruned":
            res.state = "pruned"
            res.value = res.intermediate[-1][1] if res.intermediate else None
            return _finish(res)
        if stop_reason:
            # Out of time between epochs: the model trained so far is a valid (cheaper)
            # model; it is evaluated like any other and refitted for as many epochs.
            res.note = f"stopped early ({stop_reason[0]})"
        t = time.perf_counter()
        value = _evaluate(model, data, spec.metric)
        res.eval_seconds += time.perf_counter() - t
        if not math.isfinite(value):
            res.state, res.error = "fail", f"validation {spec.metric} is {value}"
            return _finish(res)
        if time.perf_counter() > deadline and not stop_reason:
            res.state, res.error = "fail", f"timeout: the fit took over {spec.timeout_s:.1f}s"
            return _finish(res)
        res.value = value
        res.memory_mb = model_memory_mb(model)
        if spec.measure_latency:
            t = time.perf_counter()
            res.latency_ms = measure_latency_ms(model, data.valid_users, _metric_k(spec.metric),
                                                spec.latency_users, spec.seed)
            res.latency_seconds = time.perf_counter() - t
    except Exception as exc:  # a failing configuration is recorded and the search goes on
        res.state = "fail"
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" ({tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
        res.error = f"{type(exc).__name__}: {exc}{where}"
    return _finish(res)


def _finish(res: TrialResult) -> TrialResult:
    res.ended = time.time()
    return res


def optuna_reporter(storage: str, study_name: str, trial_id: int, pruner: str = "asha") -> Reporter:
    """A reporter for a worker that is not the engine's process (e.g. a Ray task).

    It loads the study from the shared storage (PostgreSQL, or SQLite on one machine) with the
    same pruner the engine uses, and reports/prunes through a real :class:`optuna.Trial`.
    """
    import optuna

    from recforge.search.fidelity import build_pruner

    study = optuna.load_study(study_name=study_name, storage=storage, pruner=build_pruner(pruner))
    trial = optuna.Trial(study, trial_id)

    def report(step: int, value: float) -> bool:
        trial.report(value, step)
        return bool(trial.should_prune())

    return report
