"""Side features of zoo datasets, aligned to an :class:`Interactions` with
:meth:`Interactions.with_side_features`.

>>> data = rf.datasets.load("ml-100k", path=p)                      # doctest: +SKIP
>>> data = data.with_side_features(*movielens_100k_features(p))     # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recforge.errors import DataError

GENRES_100K = ["unknown", "action", "adventure", "animation", "children", "comedy", "crime",
               "documentary", "drama", "fantasy", "film_noir", "horror", "musical", "mystery",
               "romance", "sci_fi", "thriller", "war", "western"]


def movielens_100k_features(path: str | Path) -> tuple[Any, Any]:
    """User features (age, gender, occupation) and item features (genre flags, release year)
    of MovieLens 100K from ``u.user`` and ``u.item`` (Latin-1, ``|``-separated)."""
    import polars as pl

    root = Path(path)
    for f in ("u.user", "u.item"):
        if not (root / f).exists():
            raise DataError(f"ml-100k side features: {root / f} not found; give the ml-100k folder")
    users = pl.read_csv(root / "u.user", separator="|", has_header=False,
                        new_columns=["user", "age", "gender", "occupation", "zip"],
                        schema_overrides={"zip": pl.String})
    users = users.select("user", "age", "gender", "occupation")
    raw = (root / "u.item").read_bytes().decode("latin-1")
    rows = [line.split("|") for line in raw.splitlines() if line.strip()]
    bad = [i + 1 for i, r in enumerate(rows) if len(r) != 24]
    if bad:
        raise DataError(f"{root / 'u.item'}, line {bad[0]}: expected 24 '|'-separated fields")
    items: dict[str, Any] = {"item": [int(r[0]) for r in rows]}
    years = []
    for r in rows:
        date = r[2].strip()
        years.append(int(date[-4:]) if len(date) >= 4 and date[-4:].isdigit() else None)
    items["year"] = years
    for g, name in enumerate(GENRES_100K):
        items[f"genre_{name}"] = [r[5 + g] for r in rows]
    item_frame = pl.DataFrame(items).with_columns(
        # release decade as a category keeps rare years together
        (pl.col("year") // 5 * 5).cast(pl.String).fill_null("<missing>").alias("year")
    )
    return users, item_frame
