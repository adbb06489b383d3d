"""Dataset zoo: ``load(name, path=None)``.

``ml-latest-small`` (MovieLens, GroupLens; redistributed under its licence, see
``embedded/ml-latest-small/README.txt``) is embedded in the package. Other datasets are read
from a local copy (``path=``) or downloaded, checksum-verified, into the cache directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from recforge.errors import ConfigError

EMBEDDED = Path(__file__).parent / "embedded"


def names() -> list[str]:
    from recforge.datasets._zoo import ZOO

    return sorted(ZOO)


def load(name: str, path: str | Path | None = None, *, files: list[str] | None = None, **options: Any) -> Any:
    """Load a dataset of the zoo by name.

    Args:
        name: a zoo name (``recforge.datasets.names()``).
        path: a local directory holding the dataset's official files (no download).
        files: for datasets with official split files, the files to read (e.g.
            ``["u1.base", "u1.test"]``); rows remember their file for ``split.given``.

    Example:
        >>> import recforge as rf
        >>> data = rf.datasets.load("ml-latest-small")
        >>> data.n_users
        610
    """
    from recforge.datasets._zoo import ZOO

    key = name.strip().lower()
    if key not in ZOO:
        raise ConfigError(f"unknown dataset {name!r}; valid names are: {', '.join(sorted(ZOO))}")
    return ZOO[key].load(path=path, files=files, **options)
