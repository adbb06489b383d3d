"""``recforge data info`` and ``recforge data import``."""

from __future__ import annotations

from typing import Annotated

import typer

from recforge.commands._common import atomic_dir, cli_errors, load_data, print_json, quiet


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(help="Inspect and import datasets.", no_args_is_help=True)
    app.add_typer(data_app, name="data")

    @data_app.command("info")
    def info(
        data: Annotated[str, typer.Argument(help="Zoo name (e.g. ml-100k), imported dataset dir, or file.")],
        path: Annotated[str | None, typer.Option(help="Local directory with the dataset's official files.")] = None,
        files: Annotated[str | None, typer.Option(help="Zoo datasets: comma-separated files inside --path to read instead of the default (e.g. u1.base,u1.test).")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")] = False,
    ) -> None:
        """Users, items, interactions, density, time range, degree percentiles, rating histogram."""
        quiet(json_out)
        with cli_errors():
            if files:
                from recforge import datasets
                from recforge.errors import ConfigError

                if data.strip().lower() not in datasets.names():
                    raise ConfigError(f"--files needs a zoo dataset name, got {data!r}")
                ds = datasets.load(data, path=path, files=[f.strip() for f in files.split(",") if f.strip()])
            else:
                ds = load_data(data, path)
            summary = ds.summary()
            if json_out:
                print_json(summary)
                return
            _print_summary(summary)

    @data_app.command("import")
    def import_(
        file: Annotated[str, typer.Argument(help="CSV/TSV/Parquet interaction file.")],
        user: Annotated[str, typer.Option(help="User id column.")],
        item: Annotated[str, typer.Option(help="Item id column.")],
        out: Annotated[str, typer.Option(help="Output dataset directory (written atomically).")],
        rating: Annotated[str | None, typer.Option(help="Rating / weight column.")] = None,
        timestamp: Annotated[str | None, typer.Option(help="Timestamp column (epoch seconds or ISO-8601).")] = None,
        sep: Annotated[str | None, typer.Option(help="Field separator (guessed when omitted).")] = None,
        no_header: Annotated[bool, typer.Option("--no-header", help="The file has no header line; columns are column_1, column_2, ...")] = False,
        duplicates: Annotated[str, typer.Option(help="Repeated (user, item) pairs: error | keep_last | sum | keep_all.")] = "error",
        min_rating: Annotated[float | None, typer.Option(help="Keep only rating >= this (as positives).")] = None,
        k_core: Annotated[int | None, typer.Option("--k-core", help="Iterated k-core filter on users and items.")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON.")] = False,
    ) -> None:
        """Validate an interaction file and write a Parquet dataset directory with a manifest."""
        quiet(json_out)
        with cli_errors():
            from recforge.data import filter_rating, read_interactions
            from recforge.data import k_core as kcore

            ds = read_interactions(file, user=user, item=item, rating=rating, timestamp=timestamp,
                                   sep=sep, has_header=not no_header, duplicates=duplicates)  # type: ignore[arg-type]
            if min_rating is not None:
                ds = filter_rating(ds, min_rating)
            if k_core is not None:
                ds = kcore(ds, user_k=k_core, item_k=k_core)
            from recforge.data.store import write_dataset_dir

            with atomic_dir(out) as tmp:
                manifest = write_dataset_dir(ds, tmp, source=str(file))
            if json_out:
                print_json(manifest)
            else:
                s = manifest["summary"]
                typer.echo(f"wrote {out}: {s['n_users']:,} users, {s['n_items']:,} items, "
                           f"{s['n_interactions']:,} interactions")
                for step in manifest["preprocessing"][1:]:
                    typer.echo(f"  {step}")


def _print_summary(s: dict) -> None:  # type: ignore[type-arg]
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"dataset {s.get('name') or ''}", show_header=False)
    if "n_users" not in s:  # other containers (e.g. BanditLog): plain key/value rows
        for key, value in s.items():
            t.add_row(key.replace("_", " "), f"{value:,}" if isinstance(value, int) and
                      not isinstance(value, bool) else str(value))
        Console().print(t)
        return
    t.add_row("users", f"{s['n_users']:,}")
    t.add_row("items", f"{s['n_items']:,}")
    t.add_row("interactions", f"{s['n_interactions']:,}")
    t.add_row("density", f"{s['density']:.5f}")
    if "time_range" in s:
        import datetime as dt

        lo = dt.datetime.fromtimestamp(s["time_range"]["min"], dt.UTC).date()
        hi = dt.datetime.fromtimestamp(s["time_range"]["max"], dt.UTC).date()
        t.add_row("time range", f"{lo} .. {hi}")
    for kind in ("user", "item"):
        d = s[f"{kind}_degree"]
        t.add_row(f"{kind} degree", "  ".join(f"{k}={v:g}" for k, v in d.items()))
    if s.get("rating_histogram"):
        t.add_row("ratings", "  ".join(f"{k}:{v}" for k, v in s["rating_histogram"].items()))
    Console().print(t)
