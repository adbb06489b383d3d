"""Helpers shared by CLI commands: error handling, data loading, JSON output, atomic output."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Turn recforge's deliberate errors into one stderr line and exit status 2."""
    from recforge.errors import RecforgeError

    try:
        yield
    except RecforgeError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        typer.echo(f"error: {msg}", err=True)
        raise typer.Exit(2) from None
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def quiet(json_out: bool) -> None:
    from recforge import _progress

    _progress.set_quiet(json_out)


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def load_data(data: str, path: str | None, split: str | None = None, **options: Any) -> Any:
    """DATA is a zoo name, an imported dataset directory, or an interaction file."""
    from recforge import datasets
    from recforge.data.readers import read_interactions
    from recforge.errors import ConfigError, DataError

    files = None
    if split and split.strip().lower().startswith("files:"):
        from recforge.split import parse_split

        _, kw = parse_split(split)
        files = [f for f in (kw.get("train"), kw.get("valid"), kw.get("test")) if f]
    p = Path(data)
    if p.is_dir() and (p / "manifest.json").exists():
        from recforge.data.store import read_dataset_dir

        if files:
            raise ConfigError("files: splits need a zoo name or raw files, not an imported dataset")
        return read_dataset_dir(p)
    if data.strip().lower() in datasets.names():
        return datasets.load(data, path=path, files=files, **options)
    if p.exists():
        if files:
            raise ConfigError("files: splits need a zoo name with --path DIR")
        import polars as pl

        from recforge.data.readers import read_table

        df, _ = read_table(p)
        cols = {c.lower(): c for c in df.columns}

        def pick(*names: str) -> str | None:
            for n in names:
                if n in cols:
                    return cols[n]
            return None

        user = pick("user", "user_id", "userid", "uid")
        item = pick("item", "item_id", "itemid", "iid", "movieid")
        if user is None or item is None:
            raise DataError(
                f"{p}: cannot find user/item columns among {df.columns}; "
                "run 'recforge data import FILE --user COL --item COL --out DIR' first"
            )
        del pl
        return read_interactions(p, user=user, item=item, rating=pick("rating", "weight"),
                                 timestamp=pick("timestamp", "time", "ts"), duplicates="keep_last")
    raise ConfigError(
        f"DATA {data!r} is neither a dataset name ({', '.join(datasets.names())}) nor an existing file"
    )


@contextlib.contextmanager
def atomic_dir(out: str | Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary directory next to ``out``; move it into place only on success."""
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():
        if not overwrite:
            shutil.rmtree(tmp, ignore_errors=True)
            raise FileExistsError(f"{target} exists")
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)
