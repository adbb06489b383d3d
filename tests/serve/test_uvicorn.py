"""``recforge serve`` as a real uvicorn process on 127.0.0.1 (random free port), and its CLI errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

pytest.importorskip("uvicorn")

import recforge as rf  # noqa: E402
from recforge import registry  # noqa: E402
from recforge.data import Interactions  # noqa: E402


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    r = np.random.default_rng(7)
    df = pl.DataFrame({"user": r.integers(0, 40, 400), "item": r.integers(0, 30, 400)})
    data = Interactions.from_frame(df, user="user", item="item", duplicates="keep_last")
    model = registry.create("als", {"factors": 8, "iterations": 3}).fit(data)
    return rf.save(model, tmp_path_factory.mktemp("u") / "als"), model


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_real_uvicorn_on_loopback(artifact) -> None:
    import httpx

    path, model = artifact
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "recforge.cli", "serve", str(path), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not start within 60 s"
            time.sleep(0.2)
        with httpx.Client(base_url=base, timeout=5) as c:
            user = int(model.train_.user_ids[3])
            body = c.get(f"/recommend/{user}", params={"k": 5}).json()
            assert body["items"] == model.recommend([user], k=5).items[0].tolist()
            assert c.get("/recommend/0", params={"k": 0}).status_code == 422
            assert c.post("/recommend", json={"users": [user, "ghost"], "k": 3}).status_code == 200
            assert c.get("/metadata").json()["retrieval"] == "torch"
            assert 'status="200"' in c.get("/metrics").text
        if Path("/proc/net/tcp").exists():  # the listening socket is bound to 127.0.0.1 only
            listening = [line.split()[1] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                         if line.split()[3] == "0A" and line.split()[1].endswith(f":{port:04X}")]
            assert listening == ["0100007F:" + f"{port:04X}"], listening
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:  # pragma: no cover - only when shutdown hangs
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""


def test_cli_rejects_corrupted_artifact(artifact, tmp_path: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    from recforge.cli import app

    bad = tmp_path / "bad"
    shutil.copytree(artifact[0], bad)
    (bad / "state.safetensors").write_bytes(b"")
    res = CliRunner().invoke(app, ["serve", str(bad)])
    assert res.exit_code == 2
    assert "SHA-256 mismatch" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["serve", str(artifact[0]), "--retrieval", "bogus"])
    assert res.exit_code == 2 and "--retrieval" in res.output
