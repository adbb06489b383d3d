"""Real components for the cluster tests: a PostgreSQL server and a local Ray cluster.

* ``postgres_server`` (session): ``initdb`` + ``pg_ctl`` from the distribution's packages, on
  127.0.0.1 and a free port, data in a temporary directory. PostgreSQL refuses to run as
  root, so as root the server runs as the ``postgres`` system user (``runuser``).
  ``pg_url`` gives each test a fresh database.
* ``ray_cluster`` (module): ``ray start --head`` plus ``ray start --address`` (1 CPU each,
  loopback only), with fast node-failure detection; ``add_node()`` / ``kill_node()`` for
  fault tests. Torn down by killing exactly the processes of this cluster (found by its
  temporary directory and ports) — never ``ray stop``, which would stop every Ray on the
  machine.

Both skip with the reason when the binaries (or Python packages) are missing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# fast node-failure detection for the test cluster (GCS reads RAY_<setting> at start)
RAY_TEST_ENV = {
    "RAY_health_check_initial_delay_ms": "0",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
    # loopback-only throw-away cluster: no token authentication, whatever ~/.ray holds (a
    # token left there by an earlier local ray.init() would turn it on for the head only)
    "RAY_AUTH_MODE": "disabled",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------- processes
def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def with_descendants(roots: set[int]) -> set[int]:
    """``roots`` and every process below them."""
    pids = _pids()
    parent = {p: _ppid(p) for p in pids}
    out = set(roots)
    grew = True
    while grew:
        grew = False
        for p, pp in parent.items():
            if p not in out and pp in out:
                out.add(p)
                grew = True
    return out


def _kill(pids: set[int]) -> None:
    for p in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGKILL)


# ---------------------------------------------------------------------------- PostgreSQL
def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


class PostgresServer:
    """A throw-away PostgreSQL server on 127.0.0.1 (trust auth, user ``rf``)."""

    def __init__(self) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found; apt-get install postgresql")
        pytest.importorskip("psycopg2", reason="psycopg2 missing: pip install 'recforge[ray]'")
        self.pg_ctl = pg_ctl
        self.prefix: list[str] = []
        self.dir = Path(tempfile.mkdtemp(prefix="rfpg-"))
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no 'postgres' user to run PostgreSQL as")
            runuser = shutil.which("runuser")
            if not runuser:
                pytest.skip("running as root and runuser is missing; cannot start PostgreSQL as 'postgres'")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self.prefix = [runuser, "-u", "postgres", "--"]
        self.port = free_port()
        data = self.dir / "data"
        self._run([initdb, "-D", str(data), "-U", "rf", "--auth=trust", "-E", "UTF8", "--no-sync"])
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run([pg_ctl, "-D", str(data), "-o", opts, "-l", str(self.dir / "server.log"), "-w", "-t", "60", "start"])
        self.data = data

    def _run(self, cmd: list[str]) -> None:
        proc = subprocess.run(self.prefix + cmd, capture_output=True, text=True, cwd=self.dir, timeout=120)
        if proc.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]} {tail}")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg2://rf@127.0.0.1:{self.port}/{db}"

    def create_db(self) -> str:
        import psycopg2

        name = f"rf_{uuid.uuid4().hex[:10]}"
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="rf", dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE {name}")
        finally:
            conn.close()
        return self.url(name)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run([self.pg_ctl, "-D", str(self.data), "-m", "immediate", "stop"])
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty PostgreSQL database for this test."""
    return postgres_server.create_db()


# ---------------------------------------------------------------------------- Ray
class LocalRayCluster:
    """A Ray cluster of separate node processes on this machine (loopback only)."""

    def __init__(self) -> None:
        pytest.importorskip("ray", reason="Ray missing: pip install 'recforge[ray]'")
        ray_bin = Path(sys.executable).with_name("ray")
        if not ray_bin.exists():
            found = shutil.which("ray")
            if not found:
                pytest.skip("the `ray` command is not installed: pip install 'recforge[ray]'")
            ray_bin = Path(found)
        self.ray_bin = str(ray_bin)
        self.temp = Path(tempfile.mkdtemp(prefix="rfray-"))  # short: Ray's socket paths must fit
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {**os.environ, **RAY_TEST_ENV}
        self.node_ports: dict[str, int] = {}  # name -> node manager port
        self._starting: dict[str, subprocess.Popen[bytes]] = {}

    def _popen(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        port = free_port()
        self.node_ports[name] = port
        cmd = [self.ray_bin, "start", *args, "--num-cpus=1", "--node-ip-address=127.0.0.1",
               f"--node-manager-port={port}", "--disable-usage-stats", "--include-log-monitor=false",
               f"--object-store-memory={200 * 2**20}"]
        log = open(self.temp / f"start-{name}.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.temp)
        self._starting[name] = proc
        return proc

    def _finish(self, name: str, timeout: float = 120.0) -> None:
        proc = self._starting.pop(name)
        rc = proc.wait(timeout=timeout)
        if rc != 0:
            out = (self.temp / f"start-{name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"ray start for node {name} failed ({rc}): {out}")

    def start(self, n_nodes: int = 2) -> None:
        """Start the head and ``n_nodes - 1`` more nodes (their start-up overlaps the head's)."""
        self._popen("head", ["--head", f"--port={self.port}", "--include-dashboard=false",
                             f"--temp-dir={self.temp}", "--ray-client-server-port", str(free_port())])
        deadline = time.time() + 60
        while time.time() < deadline:  # GCS up: the other nodes may start joining
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            time.sleep(0.2)
        for i in range(1, n_nodes):
            self._popen(f"node{i}", [f"--address={self.address}"])
        for name in list(self._starting):
            self._finish(name)

    def add_node(self, name: str, wait: bool = False) -> None:
        """Start another node joining the cluster (``wait``: until ``ray start`` returns)."""
        self._popen(name, [f"--address={self.address}"])
        if wait:
            self._finish(name)

    def node_pids(self, name: str) -> set[int]:
        """The raylet of node ``name`` and every process under it (its workers and agents)."""
        flag = f"--node_manager_port={self.node_ports[name]}"
        raylets = {p for p in _pids() if "raylet" in _cmdline(p) and flag in _cmdline(p)}
        return with_descendants(raylets)

    def kill_node(self, name: str) -> set[int]:
        """SIGKILL node ``name``'s raylet, workers and agents (a machine that died)."""
        pids = self.node_pids(name)
        _kill(pids)
        return pids

    def stop(self) -> None:
        for proc in self._starting.values():
            with contextlib.suppress(Exception):
                proc.kill()
        # everything of this cluster: processes naming its temp dir or GCS port, and below
        mine = {p for p in _pids() if p != os.getpid()
                and (str(self.temp) in _cmdline(p) or f"127.0.0.1:{self.port}" in _cmdline(p))}
        _kill(with_descendants(mine))
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[LocalRayCluster]:
    """A running two-node Ray cluster (head + ``node1``, 1 CPU each)."""
    cluster = LocalRayCluster()
    saved = {k: os.environ.get(k) for k in RAY_TEST_ENV}
    os.environ.update(RAY_TEST_ENV)  # the drivers (this process, subprocesses) speak the same way
    try:
        cluster.start(n_nodes=2)
        yield cluster
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        cluster.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
