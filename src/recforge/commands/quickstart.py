"""``recforge quickstart``: the main job on the embedded dataset."""

from __future__ import annotations

from typing import Annotated

import typer

from recforge.commands._common import cli_errors, print_json, quiet


def register(app: typer.Typer) -> None:
    @app.command("quickstart")
    def quickstart(
        out: Annotated[str, typer.Option("--out", help="Run directory.")] = "runs/quickstart",
        budget: Annotated[str, typer.Option("--budget", help="Search budget, e.g. 3m, 90s.")] = "3m",
        seed: Annotated[int, typer.Option("--seed")] = 0,
        json_out: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Load the embedded MovieLens latest-small, split by leave-last, fit and evaluate
        the available models, and save the best as an artifact."""
        quiet(json_out)
        with cli_errors():
            from pathlib import Path

            from recforge import _progress, datasets, registry, split
            from recforge.artifacts import save
            from recforge.evaluation import evaluate

            data = datasets.load("ml-latest-small")
            parts = split.leave_last_out(data, n=1, seed=seed)
            rows = []
            best = None
            for name in [n for n in ("most-popular", "item-knn", "ease", "als") if n in registry.names()]:
                m = registry.create(name)
                _progress.log(f"fitting {name} ...")
                m.fit(parts.train, parts.valid)
                res = evaluate(m, parts.valid, metrics=["ndcg@10", "recall@20"])
                rows.append({"model": name, **res.metrics, "fit_seconds": m.fit_seconds_})
                if best is None or res["ndcg@10"] > best[1]:
                    best = (m, res["ndcg@10"])
            assert best is not None
            model = best[0]
            test_res = evaluate(model, parts.test, train=parts.train.concat(parts.valid),
                                metrics=["ndcg@10", "recall@20"])
            art = Path(out) / "best"
            save(model, art, metadata={"data": "ml-latest-small", "split": "leave-last:1"})
            summary = {"leaderboard": rows, "best": model.name, "test": test_res.metrics, "artifact": str(art)}
            if json_out:
                print_json(summary)
                return
            from rich.console import Console
            from rich.table import Table

            t = Table(title="ml-latest-small, leave-last:1 (validation)")
            for c in ("model", "ndcg@10", "recall@20", "fit s"):
                t.add_column(c)
            for r in rows:
                t.add_row(r["model"], f"{r['ndcg@10']:.4f}", f"{r['recall@20']:.4f}", f"{r['fit_seconds']:.2f}")
            Console().print(t)
            typer.echo(f"best: {model.name}; test ndcg@10={test_res['ndcg@10']:.4f}; saved to {art}")
            typer.echo(f"serve it: recforge serve {art}")
