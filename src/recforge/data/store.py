"""Imported dataset directories: validated interactions as Parquet plus a JSON manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from recforge.data.interactions import Interactions
from recforge.errors import DataError

FORMAT = "recforge-dataset"
VERSION = 1


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_dataset_dir(data: Interactions, out: Path, *, source: str | None = None) -> dict[str, Any]:
    """Write ``interactions.parquet`` and ``manifest.json`` into an (empty) directory."""
    frame = data.to_frame()
    pq = out / "interactions.parquet"
    frame.write_parquet(pq)
    manifest = {
        "format": FORMAT,
        "format_version": VERSION,
        "name": data.name,
        "source": source,
        "columns": frame.columns,
        "summary": data.summary(),
        "preprocessing": data.report.steps,
        "files": {pq.name: sha256_file(pq)},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    return manifest


def read_dataset_dir(path: Path) -> Interactions:
    """Read a directory written by :func:`write_dataset_dir` (checksums verified)."""
    import polars as pl

    mpath = path / "manifest.json"
    try:
        manifest = json.loads(mpath.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{mpath}: not a readable dataset manifest ({exc})") from exc
    if manifest.get("format") != FORMAT:
        raise DataError(f"{mpath}: not a recforge dataset (format={manifest.get('format')!r})")
    for name, digest in manifest.get("files", {}).items():
        f = path / name
        if not f.exists() or sha256_file(f) != digest:
            raise DataError(f"{f}: missing or checksum mismatch; re-run 'recforge data import'")
    frame = pl.read_parquet(path / "interactions.parquet")
    cols = manifest["columns"]
    return Interactions.from_frame(
        frame, user="user", item="item",
        rating="rating" if "rating" in cols else None,
        timestamp="timestamp" if "timestamp" in cols else None,
        duplicates="keep_all", name=manifest.get("name"), source=str(path / "interactions.parquet"),
    )
