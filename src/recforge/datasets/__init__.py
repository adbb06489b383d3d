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
    """Names of the zoo's datasets."""
    from recforge.datasets._zoo import ZOO

    return sorted(ZOO)


def info(name: str) -> dict[str, Any]:
    """Description, licence, official URLs and pinned checksums of a zoo dataset."""
    return _entry(name).info()


def register_reader(name: str, func: Any) -> None:
    """Install the reader of a zoo entry: ``func(root, *, files, **options)`` or ``"module:function"``.

    Used by the CTR and off-policy modules for ``frappe``, ``criteo`` and ``open-bandit``.
    """
    from recforge.datasets._zoo import register_reader as _register

    _register(name, func)


def cache_dir() -> Path:
    """Where downloads go: ``$RECFORGE_CACHE`` or ``~/.cache/recforge``."""
    from recforge.datasets._download import cache_dir as _cache_dir

    return _cache_dir()


def _entry(name: str) -> Any:
    from recforge.datasets._zoo import ZOO

    key = name.strip().lower()
    if key not in ZOO:
        raise ConfigError(f"unknown dataset {name!r}; valid names are: {', '.join(sorted(ZOO))}")
    return ZOO[key]


def load(name: str, path: str | Path | None = None, *, files: list[str] | None = None, **options: Any) -> Any:
    """Load a dataset of the zoo by name.

    Args:
        name: a zoo name (``recforge.datasets.names()``).
        path: a local directory holding the dataset's official files (no download).
        files: for datasets with official split files, the files to read (e.g.
            ``["u1.base", "u1.test"]``); rows remember their file for ``split.given``.
        **options: ``allow_unverified=True`` permits downloading a file without a pinned
            checksum; ``duplicates=`` sets the repeated-pair policy; others go to the reader.

    Without ``path`` the files are downloaded once into :func:`cache_dir`, verified against
    the pinned checksum (a mismatch raises ``DataError`` and leaves nothing in the cache).

    Example:
        >>> import recforge as rf
        >>> data = rf.datasets.load("ml-latest-small")
        >>> data.n_users
        610
    """
    return _entry(name).load(path=path, files=files, **options)
