"""``recforge search``: AutoML over model families under a wall-clock budget."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from recforge.commands._common import cli_errors, print_json, quiet


def _summary_for_json(res: Any) -> dict[str, Any]:
    s = dict(res.summary)
    s.pop("space", None)
    s.pop("anytime", None)
    return {"out": None if res.out is None else str(res.out), **s}


def register(app: typer.Typer) -> None:
    @app.command("search")
    def search(
        data: Annotated[str, typer.Option("--data", help="Zoo name (ml-100k, ...), imported dataset dir, or file.")],
        split: Annotated[str, typer.Option("--split", help="random:0.8,0.1,0.1 | leave-last:1 | temporal:0.8,0.1 | user-holdout:0.1,0.1 | files:TRAIN,VALID,TEST")],
        path: Annotated[str | None, typer.Option("--path", help="Local directory with the dataset's official files.")] = None,
        budget: Annotated[str, typer.Option("--budget", help="Wall-clock budget, e.g. 90s, 10m, 1h.")] = "10m",
        metric: Annotated[str, typer.Option("--metric", help="Validation metric to maximise, e.g. ndcg@10, recall@20.")] = "ndcg@10",
        models: Annotated[str | None, typer.Option("--models", help="Comma-separated families (default: every registered one with a space).")] = None,
        max_latency_ms: Annotated[float | None, typer.Option("--max-latency-ms", help="Constraint: p95 single-user recommendation latency (ms).")] = None,
        max_memory_mb: Annotated[float | None, typer.Option("--max-memory-mb", help="Constraint: model memory (MB of learned arrays).")] = None,
        multi_objective: Annotated[bool, typer.Option("--multi-objective", help="Optimise metric, latency and memory; report the Pareto front.")] = False,
        storage: Annotated[str | None, typer.Option("--storage", help="Study storage URL (default: sqlite in --out).")] = None,
        resume: Annotated[bool, typer.Option("--resume", help="Continue the search stored in --out/--storage.")] = False,
        executor: Annotated[str, typer.Option("--executor", help="local | ray")] = "local",
        address: Annotated[str | None, typer.Option("--address", help="Ray cluster address (with --executor ray).")] = None,
        cpus_per_trial: Annotated[float | None, typer.Option("--cpus-per-trial", help="CPUs Ray reserves per trial (with --executor ray; default 1).")] = None,
        gpus_per_trial: Annotated[float | None, typer.Option("--gpus-per-trial", help="GPUs Ray reserves per trial (with --executor ray; default 0).")] = None,
        n_jobs: Annotated[int | None, typer.Option("--n-jobs", help="Trials in flight at once (default: 1 locally; every slot of the cluster with --executor ray).")] = None,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the split, sampler and models.")] = 0,
        trial_timeout: Annotated[str | None, typer.Option("--trial-timeout", help="Per-trial limit (default: budget/3).")] = None,
        max_trials: Annotated[int | None, typer.Option("--max-trials", help="Stop after this many trials.")] = None,
        sampler: Annotated[str, typer.Option("--sampler", help="tpe | tpe-plain | random")] = "tpe",
        pruner: Annotated[str, typer.Option("--pruner", help="asha | hyperband | none")] = "asha",
        no_warm_start: Annotated[bool, typer.Option("--no-warm-start", help="Do not try the portfolio first.")] = False,
        out: Annotated[str, typer.Option("--out", help="Run directory (study.db, trials.json, summary.json, best-model/).")] = "runs/search",
        json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    ) -> None:
        """Search model families and hyperparameters on the validation part; refit the best on
        train+validation, evaluate it once on test, and save it as an artifact."""
        quiet(json_out)
        with cli_errors():
            from recforge import split as splitmod
            from recforge.commands._common import load_data
            from recforge.errors import ConfigError
            from recforge.search import search as run_search

            if executor not in ("local", "ray"):
                raise ConfigError(f"--executor must be local or ray, got {executor!r}")
            ds = load_data(data, path, split)
            parts = splitmod.apply(ds, split, seed=seed)
            if parts.valid is None:
                raise ConfigError(f"split {split!r} has no validation part; search chooses on validation "
                                  "(use e.g. random:0.8,0.1,0.1 or files:TRAIN,VALID,TEST)")
            res = run_search(
                parts.train, parts.valid, parts.test, budget=budget, metric=metric,
                models=models, max_latency_ms=max_latency_ms, max_memory_mb=max_memory_mb,
                storage=storage, resume=resume, seed=seed, executor=executor, address=address,
                executor_options={k: v for k, v in (("cpus_per_trial", cpus_per_trial),
                                                    ("gpus_per_trial", gpus_per_trial)) if v is not None},
                out=out, multi_objective=multi_objective, trial_timeout=trial_timeout,
                max_trials=max_trials, n_jobs=n_jobs, sampler=sampler, pruner=pruner,
                warm_start=not no_warm_start, progress=not json_out,
            )
            if json_out:
                print_json(_summary_for_json(res))
                return
            from rich.console import Console
            from rich.table import Table

            console = Console()
            table = Table(title=f"leaderboard (validation {metric}, best per family)")
            for col in ("family", metric, "p95 ms", "MB", "trial", "params"):
                table.add_column(col)
            for r in res.leaderboard:
                table.add_row(r.family or "-", f"{r.value:.4f}" if r.value is not None else "-",
                              f"{r.latency_ms:.2f}" if r.latency_ms is not None else "-",
                              f"{r.memory_mb:.1f}" if r.memory_mb is not None else "-", str(r.number),
                              ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.params.items()))
            console.print(table)
            s = res.summary
            console.print(f"trials: {s['n_trials']} {s['states']}; search {s['search_seconds']:.1f}s; "
                          f"overhead per trial: {s['overhead_ms']['median'] if s['overhead_ms'] else '-'} ms (median)")
            if res.test_metrics is not None:
                console.print("test (once, refit on train+valid): " +
                              ", ".join(f"{k}={v:.4f}" for k, v in res.test_metrics.items()))
            console.print(f"run directory: {res.out}")
