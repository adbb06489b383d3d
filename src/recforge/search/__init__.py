"""AutoML search over recommender families: ``recforge.search(train, valid, ...)``.

See :func:`search`; the parts are ``space`` (declarative spaces), ``engine`` (Optuna
ask/tell loop, storage, resume, results), ``fidelity`` (pruners, data-fraction rungs) and
``portfolio`` (warm start).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from recforge.data.interactions import Interactions
from recforge.errors import ConfigError
from recforge.search.engine import SearchConfig, SearchResult, TrialRecord, parse_budget
from recforge.search.space import (
    DEFAULT_SPACES,
    Categorical,
    FamilySpace,
    Float,
    Int,
    space_from_dict,
)

__all__ = [
    "DEFAULT_SPACES",
    "Categorical",
    "FamilySpace",
    "Float",
    "Int",
    "SearchConfig",
    "SearchResult",
    "TrialRecord",
    "parse_budget",
    "search",
    "space_from_dict",
]


def search(
    train: Interactions,
    valid: Interactions | None,
    test: Interactions | None = None,
    *,
    budget: str | float = "10m",
    metric: str = "ndcg@10",
    models: list[str] | str | None = None,
    max_latency_ms: float | None = None,
    max_memory_mb: float | None = None,
    storage: str | None = None,
    resume: bool = False,
    seed: int = 0,
    executor: Any = "local",
    address: str | None = None,
    executor_options: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    multi_objective: bool = False,
    trial_timeout: str | float | None = None,
    max_trials: int | None = None,
    n_jobs: int | None = None,
    sampler: str = "tpe",
    pruner: str = "asha",
    warm_start: bool | str | Path = True,
    spaces: Mapping[str, FamilySpace] | Mapping[str, Any] | None = None,
    refit: bool = True,
    test_metrics: list[str] | None = None,
    progress: bool = True,
) -> SearchResult:
    """Search model families and their hyperparameters for the best validation metric.

    Args:
        train, valid: the split to search on (the metric is computed on ``valid``).
        test: when given, the winner is refitted on train+valid and evaluated on it once.
        budget: wall-clock budget (``"10m"``, ``"90s"``, seconds).
        metric: validation metric to maximise (``ndcg@10``, ``recall@20``, ``map@10``...).
        models: families to search (registered names); all registered ones with a space by
            default.
        max_latency_ms / max_memory_mb: constraints on p95 single-user latency and memory.
        storage: Optuna storage URL (``sqlite:///...``, ``postgresql://...``); default a
            SQLite file ``study.db`` in ``out``, or in memory without ``out``.
        resume: continue the search stored in ``storage``/``out`` (after a crash or kill).
        executor: ``"local"``, ``"ray"`` or an executor object (recforge.execution).
        address: with ``executor="ray"``: the cluster (``HOST:PORT`` of its head, ``"auto"``).
        executor_options: more options of the named executor, e.g. ``{"cpus_per_trial": 4,
            "gpus_per_trial": 1, "max_retries": 2}`` for ``"ray"`` (see RayExecutor).
        n_jobs: trials in flight at once; default 1 locally, and with ``executor="ray"`` every
            slot of the cluster (one per ``cpus_per_trial`` CPUs, growing when nodes join).
        out: run directory: ``study.db``, ``trials.json``, ``summary.json``, ``best-model/``.
        multi_objective: optimise (metric, latency, memory); ``pareto_front`` in the result.
        trial_timeout: per-trial limit (default a third of the budget).
        max_trials: stop after this many trials.
        sampler / pruner: ``tpe`` | ``tpe-plain`` | ``random``; ``asha`` | ``hyperband`` | ``none``.
        warm_start: ``True`` (shipped portfolio), ``False``, or a portfolio JSON path.
        spaces: custom search spaces (FamilySpace objects or their dict form).

    Returns:
        :class:`SearchResult` with ``best``, ``leaderboard``, ``best_model``, ``test_metrics``.

    Example:
        >>> import recforge as rf
        >>> train, valid, test = rf.split.random_holdout(rf.datasets.load("ml-latest-small"))  # doctest: +SKIP
        >>> res = rf.search(train, valid, test, budget="2m", models=["ease", "item-knn"])      # doctest: +SKIP
        >>> res.best.family, res.test_metrics["ndcg@10"]                                        # doctest: +SKIP
    """
    from recforge import _progress
    from recforge.search import engine
    from recforge.search.portfolio import load_portfolio

    if isinstance(models, str):
        models = [m for m in models.split(",") if m.strip()]
    if spaces is not None and any(not isinstance(v, FamilySpace) for v in spaces.values()):
        spaces = space_from_dict(spaces)
    config = SearchConfig(
        budget_s=parse_budget(budget), metric=metric,
        trial_timeout_s=None if trial_timeout is None else parse_budget(trial_timeout),
        seed=seed, sampler=sampler, pruner=pruner, warm_start=bool(warm_start),
        multi_objective=multi_objective, max_latency_ms=max_latency_ms, max_memory_mb=max_memory_mb,
        max_trials=max_trials, n_jobs=n_jobs or 1, refit=refit,
    )
    portfolio = load_portfolio("default" if warm_start is True else (warm_start or None)) if warm_start else []
    ex = executor
    if executor_options and not isinstance(executor, str):
        raise ConfigError("executor_options apply to a named executor ('local', 'ray'); "
                          "configure the executor object itself instead")
    if isinstance(executor, str):
        from recforge.execution import get_executor

        opts: dict[str, Any] = dict(executor_options or {})
        if n_jobs is not None or executor.strip().lower() != "ray":
            opts["max_workers"] = n_jobs or 1
        if address:
            opts["address"] = address
        ex = get_executor(executor, **opts)
    if callable(getattr(ex, "check_storage", None)):
        # a remote executor checks that its workers can reach the study (e.g. SQLite is
        # refused on a multi-node Ray cluster) before the study is created
        try:
            ex.check_storage(engine._storage_url(storage, Path(out) if out is not None else None))
        except Exception:
            ex.shutdown()
            raise
    if n_jobs is None and int(getattr(ex, "max_in_flight", 1)) > 1:
        import dataclasses

        config = dataclasses.replace(config, n_jobs=min(int(ex.max_in_flight), 1024))  # TPE: constant liar
    return engine.run(train, valid, test, config=config, spaces=spaces,  # type: ignore[arg-type]
                      models=models, storage=storage, out=out, resume=resume, executor=ex,
                      portfolio=portfolio, extra_metrics=test_metrics,
                      log=_progress.log if progress else None)


class _CallableModule(types.ModuleType):
    """``recforge.search`` is both this package and the function :func:`search`.

    Importing ``recforge.search.<anything>`` makes Python bind the *package* to
    ``recforge.search``, shadowing the lazily exported function; making the package callable
    keeps ``rf.search(train, valid, ...)`` working either way.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> SearchResult:
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
