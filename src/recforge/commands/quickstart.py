"""``recforge quickstart``: the main job on the embedded dataset."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from recforge.commands._common import cli_errors, print_json, quiet


def register(app: typer.Typer) -> None:
    @app.command("quickstart")
    def quickstart(
        out: Annotated[str, typer.Option("--out", help="Run directory (study, trials, report, best model).")] = "runs/quickstart",
        budget: Annotated[str, typer.Option("--budget", help="Search budget, e.g. 3m, 90s.")] = "3m",
        split: Annotated[str, typer.Option("--split", help="leave-last:1 (default) or temporal:0.8,0.1.")] = "leave-last:1",
        models: Annotated[str | None, typer.Option("--models", help="Comma-separated families (default: every registered one with a search space).")] = None,
        seed: Annotated[int, typer.Option("--seed")] = 0,
        json_out: Annotated[bool, typer.Option("--json", help="Print the summary as one JSON object.")] = False,
    ) -> None:
        """Search recommenders on the embedded MovieLens latest-small in a few minutes.

        Loads the embedded dataset, splits it (leave-last by default), searches the model
        families under the budget on the validation part, refits the best on train+validation,
        evaluates it once on test, saves it as an artifact, writes an HTML report, and prints
        the commands to serve it and to open the report.
        """
        quiet(json_out)
        with cli_errors():
            from pathlib import Path

            from recforge import _progress, datasets
            from recforge import split as splitmod
            from recforge.errors import ConfigError
            from recforge.report import build_report
            from recforge.report.collect import final_stats
            from recforge.search import search

            if not (split.startswith("leave-last") or split.startswith("temporal")):
                raise ConfigError(f"quickstart splits by time: use leave-last:1 or temporal:0.8,0.1, got {split!r}")
            run = Path(out)
            if run.exists() and any(run.iterdir()):
                raise ConfigError(f"{run} exists and is not empty; pass --out NEW_DIR or remove it")
            data = datasets.load("ml-latest-small")
            parts = splitmod.apply(data, split, seed=seed)
            _progress.log(f"ml-latest-small: {data}; split {split}: train {len(parts.train):,}, "
                          f"valid {len(parts.valid or []):,}, test {len(parts.test):,}")
            res = search(parts.train, parts.valid, parts.test, budget=budget, metric="ndcg@10",
                         models=models, seed=seed, out=run, progress=not json_out,
                         test_metrics=["recall@20", "hit@10"])
            if res.best_model is None:
                from recforge.errors import RecforgeError

                raise RecforgeError(
                    f"no trial finished within the budget of {budget} (see {run / 'trials.json'}); "
                    "give a larger --budget"
                )
            assert parts.valid is not None
            full_train = parts.train.concat(parts.valid)
            stats = final_stats(res.best_model, full_train, parts.test, exclude=full_train)
            (run / "final.json").write_text(json.dumps(stats))
            summary = json.loads((run / "summary.json").read_text())
            summary.update({"data": "ml-latest-small", "split": split, "seed": seed, "budget": budget,
                            "direction": "maximize", "dataset": data.summary()})
            (run / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
            report = build_report(run)
            artifact = run / "best-model"
            if json_out:
                print_json({"best": res.best.to_dict() if res.best else None,
                            "leaderboard": [r.to_dict() for r in res.leaderboard],
                            "test_metrics": res.test_metrics, "artifact": str(artifact),
                            "report": str(report), "n_trials": len(res.trials)})
                return
            from rich.console import Console
            from rich.table import Table

            console = Console()
            table = Table(title=f"ml-latest-small, {split}: best per family (validation ndcg@10)")
            for col in ("family", "ndcg@10", "p95 ms", "trial", "params"):
                table.add_column(col)
            for r in res.leaderboard:
                table.add_row(r.family or "-", f"{r.value:.4f}" if r.value is not None else "-",
                              f"{r.latency_ms:.2f}" if r.latency_ms is not None else "-", str(r.number),
                              ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                                        for k, v in r.params.items()))
            console.print(table)
            states = ", ".join(f"{v} {k}" for k, v in res.summary.get("states", {}).items())
            console.print(f"{len(res.trials)} trials ({states}) in {res.summary.get('search_seconds', 0):.0f}s")
            if res.test_metrics:
                console.print("test, once, best model refit on train+valid: "
                              + ", ".join(f"{k}={v:.4f}" for k, v in res.test_metrics.items()))
            console.print(f"\nserve it:        recforge serve {artifact}")
            console.print(f"open the report: {report.resolve().as_uri()}")
