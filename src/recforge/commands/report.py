"""``recforge report RUN_DIR``."""

from __future__ import annotations

from typing import Annotated

import typer

from recforge.commands._common import cli_errors


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(
        run_dir: Annotated[str, typer.Argument(help="Run directory written by 'recforge search' or 'recforge quickstart'.")],
        out: Annotated[str | None, typer.Option("--out", help="HTML file to write (default RUN_DIR/report.html).")] = None,
    ) -> None:
        """Write one self-contained HTML report (plots work offline)."""
        with cli_errors():
            from recforge.report import build_report

            path = build_report(run_dir, out)
            typer.echo(f"wrote {path}")
