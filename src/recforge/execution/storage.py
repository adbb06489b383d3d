"""Which study storage a search may use when its trials run on other machines.

Every trial of a search is written to one Optuna study. With the local executor any storage
works. On a Ray cluster the workers report intermediate values (for pruning) straight to
that study, so it must be reachable from every node:

* ``postgresql://user:password@host:5432/db`` (or ``postgresql+psycopg2://...``, or another
  server database such as MySQL) — accepted;
* ``sqlite:///path/study.db`` — a file on the driver's machine: accepted on a one-node
  cluster (the path is made absolute, since Ray workers do not share the driver's working
  directory), refused with :class:`~recforge.errors.ConfigError` on a cluster of more than
  one node;
* no storage (in memory) — the driver still records every result, but workers cannot
  report to the pruner, and nothing survives the driver: accepted, without pruning.

A server database on a loopback host (``localhost``, ``127.x``) is refused when a node of the
cluster is on another machine than the driver: that node's workers would look for the
database on themselves.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from urllib.parse import urlsplit

from recforge.errors import ConfigError

#: URL schemes (before any ``+driver``) of server databases that Optuna's RDB storage takes.
SERVER_SCHEMES = ("postgresql", "postgres", "mysql", "mariadb")

_POSTGRES_HINT = (
    "use a PostgreSQL database that every node can reach, e.g. "
    "--storage postgresql://USER:PASSWORD@DB_HOST:5432/DBNAME (pip install 'recforge[ray]' on every node)"
)


def storage_scheme(url: str | None) -> str:
    """``"memory"`` for ``None``, else the URL's scheme without its driver (``"postgresql"``)."""
    if url is None:
        return "memory"
    if "://" not in url:
        raise ConfigError(
            f"storage must be a database URL such as postgresql://user@host/db or sqlite:///study.db, got {url!r}"
        )
    scheme = url.split("://", 1)[0].lower()
    return scheme.split("+", 1)[0]


def absolute_sqlite_url(url: str) -> str:
    """``sqlite:///relative.db`` -> ``sqlite:////abs/path/relative.db`` (others unchanged).

    SQLAlchemy reads ``sqlite:///x.db`` relative to the *process's* working directory, and a
    Ray worker's working directory is not the driver's.
    """
    if storage_scheme(url) != "sqlite":
        return url
    prefix, _, path = url.partition(":///")
    if not path or path.startswith("/") or path == ":memory:" or path.startswith("file:"):
        return url
    return f"{prefix}:///{os.path.abspath(path)}"


def _is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_cluster_storage(url: str | None, node_addresses: Iterable[str], *, where: str = "the Ray cluster",
                          driver_addresses: Iterable[str] = ()) -> str | None:
    """Check that ``url`` suits a search whose workers run on ``node_addresses``.

    Args:
        url: the study's storage URL (``None`` = in memory on the driver).
        node_addresses: the IP address of every alive node of the cluster.
        where: how to name the cluster in messages (e.g. its address).
        driver_addresses: this machine's own addresses: nodes there reach a loopback
            database host as well as the driver does.

    Returns:
        The URL the workers should use (a relative SQLite path made absolute).

    Raises:
        ConfigError: SQLite on a cluster of more than one node, a loopback database host with
            nodes on other machines, or a URL scheme that is not a database.

    Example:
        >>> check_cluster_storage("postgresql://rf@db.internal/rf", ["10.0.0.1", "10.0.0.2"])
        'postgresql://rf@db.internal/rf'
    """
    nodes = list(node_addresses)
    scheme = storage_scheme(url)
    if url is None:
        return None
    if scheme == "sqlite":
        if len(nodes) > 1:
            raise ConfigError(
                f"storage {url!r} is a SQLite file on this machine, but {where} has {len(nodes)} nodes "
                f"whose workers cannot share it; {_POSTGRES_HINT}"
            )
        return absolute_sqlite_url(url)
    if scheme not in SERVER_SCHEMES:
        raise ConfigError(
            f"storage {url!r}: scheme {scheme!r} is not a database Optuna can share between nodes; "
            f"valid: postgresql://, mysql://, or sqlite:/// on a one-node cluster"
        )
    host = urlsplit(url).hostname or ""
    local = set(driver_addresses)
    remote = sorted({a for a in nodes if not _is_loopback(a) and a not in local})
    if (host == "" or _is_loopback(host)) and remote:
        raise ConfigError(
            f"storage {url!r} names the database host {host or '(local socket)'!r}, which each node "
            f"resolves to itself, but {where} has nodes at {', '.join(remote)}; give the database "
            f"server's network address instead"
        )
    return url
