"""Zoo entries: name -> reader (+ official URL and checksum where downloadable)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recforge.data.interactions import Interactions
from recforge.data.readers import read_interactions
from recforge.errors import ConfigError, DataError


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    reader: Callable[..., Any]
    embedded: Path | None = None
    licence: str = ""

    def load(self, path: str | Path | None = None, files: list[str] | None = None, **options: Any) -> Any:
        root = Path(path) if path is not None else self.embedded
        if root is None:
            raise ConfigError(f"{self.name}: give path= (a local copy); download is not available")
        if not root.exists():
            raise DataError(f"{self.name}: path {root} does not exist")
        return self.reader(root, files=files, **options)


def _ml_latest(root: Path, files: list[str] | None = None, **_: Any) -> Interactions:
    if files:
        raise ConfigError("ml-latest-small has no official split files; use a split protocol")
    data = read_interactions(root / "ratings.csv", user="userId", item="movieId", rating="rating",
                             timestamp="timestamp", name="ml-latest-small")
    return data


ZOO: dict[str, Entry] = {
    "ml-latest-small": Entry(
        "ml-latest-small",
        "MovieLens latest-small (2018): 100,836 ratings, 610 users, 9,742 movies",
        _ml_latest,
        embedded=Path(__file__).parent / "embedded" / "ml-latest-small",
        licence="GroupLens MovieLens licence (non-commercial; redistribution under the same terms)",
    ),
}


def _read_many(root: Path, files: list[str], read_one: Callable[[Path], Any], name: str) -> Interactions:
    """Read several files of one dataset into one Interactions with per-row origin."""
    import numpy as np
    import polars as pl

    frames = []
    for idx, f in enumerate(files):
        p = root / f
        if not p.exists():
            raise DataError(f"{name}: file {p} not found (files: split names files inside --path)")
        frames.append(read_one(p).with_columns(pl.lit(idx, dtype=pl.Int8).alias("_origin")))
    df = pl.concat(frames, how="vertical_relaxed")
    origin = df.get_column("_origin").to_numpy()
    cols = df.columns
    data = Interactions.from_frame(
        df, user="user", item="item",
        rating="rating" if "rating" in cols else None,
        timestamp="timestamp" if "timestamp" in cols else None,
        duplicates="keep_all", name=name, source=str(root),
    )
    data.origin = np.asarray(origin, dtype=np.int8)
    data.origin_names = list(files)
    return data


def _ml100k_frame(p: Path) -> Any:
    from recforge.data.readers import read_table

    df, _ = read_table(p, sep="\t", has_header=False, columns=["user", "item", "rating", "timestamp"])
    return df


def _ml100k(root: Path, files: list[str] | None = None, **_: Any) -> Interactions:
    if files:
        return _read_many(root, files, _ml100k_frame, "ml-100k")
    return read_interactions(root / "u.data", sep="\t", has_header=False,
                             columns=["user", "item", "rating", "timestamp"],
                             rating="rating", timestamp="timestamp", name="ml-100k")


def _adjacency_frame(p: Path) -> Any:
    """LightGCN format: each line 'user item item ...' (0-based ids)."""
    import polars as pl

    raw = pl.read_csv(p, has_header=False, separator="\x1f", new_columns=["line"],
                      infer_schema=False, quote_char=None)
    parts = raw.get_column("line").str.strip_chars().str.split(" ")
    df = pl.DataFrame({"parts": parts}).with_row_index("lineno").with_columns(
        pl.col("parts").list.first().alias("user"),
        pl.col("parts").list.slice(1).alias("item"),
    ).explode("item").filter(pl.col("item").is_not_null() & (pl.col("item") != ""))
    try:
        return df.select(pl.col("user").cast(pl.Int64), pl.col("item").cast(pl.Int64))
    except pl.exceptions.InvalidOperationError as exc:
        raise DataError(f"{p}: ids must be integers ('user item item ...' per line)") from exc


def _gowalla(root: Path, files: list[str] | None = None, **_: Any) -> Interactions:
    return _read_many(root, files or ["train.txt"], _adjacency_frame, "gowalla")


ZOO["ml-100k"] = Entry(
    "ml-100k", "MovieLens 100K: 100,000 ratings, 943 users, 1,682 movies (1998)", _ml100k,
    licence="GroupLens: research use; no redistribution",
)
ZOO["gowalla"] = Entry(
    "gowalla", "Gowalla check-ins, LightGCN/NGCF split (train.txt/test.txt)", _gowalla,
    licence="no licence in source repositories; raw data SNAP loc-gowalla",
)


def _open_bandit(root: Path, files: list[str] | None = None, **options: Any) -> Any:
    from recforge.ope.open_bandit import read_open_bandit

    return read_open_bandit(root, files=files, **options)


ZOO["open-bandit"] = Entry(
    "open-bandit", "Open Bandit Dataset sample (ZOZOTOWN): logged bandit feedback, 80 items, "
    "3 positions; behavior_policy=random|bts", _open_bandit,
    embedded=Path(__file__).parent / "embedded" / "open-bandit",
    licence="CC BY 4.0 (ZOZO, Inc.; Saito et al. 2021), see embedded/open-bandit/README.md",
)
