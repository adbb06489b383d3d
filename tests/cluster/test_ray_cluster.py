"""The search on a real two-node Ray cluster with PostgreSQL storage: faults and elasticity.

Everything here is real: ``ray start`` node processes on this machine (loopback only), a
PostgreSQL server from the distribution's packages, and the search engine with Optuna's RDB
storage. A node is "lost" by SIGKILLing its raylet, workers and agents mid-trial; a driver
is "lost" by SIGKILLing the search process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from recforge.errors import ConfigError
from recforge.search.space import FAMILY_PARAM

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _data import make_frame, make_split  # noqa: E402

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

MODELS = ["most-popular", "item-knn", "als", "ease"]


def _node_id(cluster: Any, name: str) -> str:
    import ray

    port = cluster.node_ports[name]
    for n in ray.nodes():
        if n.get("Alive") and int(n.get("NodeManagerPort", -1)) == port:
            return str(n["NodeID"])
    raise AssertionError(f"node {name} (port {port}) is not alive in {ray.nodes()}")


def _duplicates(trials: list[Any]) -> dict[int, int]:
    """``{trial: earlier trial}`` for trials the engine answered from an identical earlier one."""
    out = {}
    for t in trials:
        dup = t.user_attrs.get("rf", {}).get("duplicate_of")
        if dup is not None:
            out[t.number] = int(dup)
    return out


class _StopWhen:
    """Delegates to an executor; once ``done()`` holds it offers no more slots, so the engine
    submits nothing new, collects what is in flight and ends the search (keeps the test short)."""

    def __init__(self, inner: Any, done: Any) -> None:
        self.inner, self.done = inner, done
        self.accepts_reporter = inner.accepts_reporter

    @property
    def max_in_flight(self) -> int:
        return 0 if self.done() else int(self.inner.max_in_flight)

    def __getattr__(self, name: str) -> Any:  # start, submit, wait, shutdown, check_storage
        return getattr(self.inner, name)


def _study(url: str) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name="recforge", storage=url)


def test_search_survives_node_loss_and_uses_a_joining_node(ray_cluster: Any, pg_url: str, tmp_path: Path) -> None:
    import optuna

    import recforge as rf
    from recforge.execution.ray import RayExecutor

    train, valid, _ = make_split()
    # a SQLite file cannot be shared by two nodes: refused before the study is even created
    sqlite = tmp_path / "study.db"
    with pytest.raises(ConfigError, match=r"SQLite file on this machine, but the Ray cluster .* has 2 nodes"):
        rf.search(train, valid, budget="10s", storage=f"sqlite:///{sqlite}", executor="ray",
                  address=ray_cluster.address, progress=False)
    assert not sqlite.exists()
    logs: list[str] = []
    ex = RayExecutor(address=ray_cluster.address, poll_s=0.25, log=logs.append)
    assert len(ex.nodes()) == 2 and ex.slots() == 2
    lost_node = _node_id(ray_cluster, "node1")
    head_node = _node_id(ray_cluster, "head")
    seen: dict[str, Any] = {}

    def chaos() -> None:
        # a new machine joins while the search runs ...
        ray_cluster.add_node("node2")
        # ... and node1 dies in the middle of a trial
        deadline = time.time() + 60
        while time.time() < deadline and "killed" not in seen:
            on_node = [n for n, r in ex.running().items() if r["node_id"] == lost_node]
            if on_node:
                time.sleep(0.1)
                still = [n for n, r in ex.running().items() if r["node_id"] == lost_node]
                if still:
                    seen["during"] = set(still)
                    seen["killed"] = ray_cluster.kill_node("node1")
            time.sleep(0.01)
        ray_cluster._finish("node2")
        seen["joined"] = time.time()

    def joined_node_did_work() -> bool:
        return "joined" in seen and any(h["node_id"] not in (lost_node, head_node) and h["outcome"] != "lost"
                                        for h in ex.history)

    thread = threading.Thread(target=chaos, daemon=True)
    thread.start()
    res = rf.search(train, valid, budget="90s", models=MODELS, storage=pg_url,
                    executor=_StopWhen(ex, joined_node_did_work), refit=False, warm_start=False, seed=0,
                    progress=False)
    thread.join(timeout=120)
    assert seen.get("killed"), f"node1 never ran a trial to kill; log: {logs}"

    study = _study(pg_url)
    trials = study.get_trials(deepcopy=False)
    states = {t.number: t.state for t in trials}
    # nothing left running or lost: every trial the engine asked for has a final state ...
    assert set(states.values()) <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED,
                                    optuna.trial.TrialState.FAIL}, states
    # ... and is exactly what the executor ran, attempt by attempt (the engine records a
    # configuration it has already seen as a duplicate of the earlier trial, without running it)
    ran = {h["trial"] for h in ex.history}
    dups = _duplicates(trials)
    assert ran == set(states) - set(dups), [(t.number, t.state, t.params, t.user_attrs) for t in trials
                                            if t.number in (set(states) - set(dups)) ^ ran]
    assert set(dups.values()) <= ran
    assert len(res.trials) == len(trials)
    final = {}
    for h in ex.history:
        final[h["trial"]] = h
    to_state = {"complete": optuna.trial.TrialState.COMPLETE, "pruned": optuna.trial.TrialState.PRUNED,
                "fail": optuna.trial.TrialState.FAIL, "lost": optuna.trial.TrialState.FAIL}
    for number, h in final.items():
        assert states[number] == to_state[h["outcome"]], (number, h, states[number])

    # the trial(s) running on node1 when it died were lost there and run again elsewhere
    lost = [h for h in ex.history if h["outcome"] == "lost"]
    assert lost
    assert any(h["trial"] in seen["during"] for h in lost), (seen, lost)
    assert all(h["node_id"] == lost_node for h in lost)
    for h in lost:
        later = [g for g in ex.history if g["trial"] == h["trial"] and g["attempt"] > h["attempt"]]
        assert later and later[-1]["node_id"] != lost_node and later[-1]["outcome"] != "lost", (h, later)
    assert any("lost its worker" in m for m in logs)
    # ... and the study itself records it on the trial
    by_number = {t.number: t for t in trials}
    for number in {h["trial"] for h in lost}:
        noted = by_number[number].user_attrs.get("ray_retries")
        assert noted and all(n["node_id"] == lost_node for n in noted), (number, by_number[number].user_attrs)

    # the node that joined mid-search got work
    joined = {h["node_id"] for h in ex.history} - {lost_node, head_node}
    assert joined, f"no trial ran on the joining node; history: {ex.history}"
    assert any("cluster grew" in m for m in logs)
    assert res.best is not None and res.best.value is not None and res.best.value > 0


def test_killed_driver_resumes_from_postgresql(ray_cluster: Any, pg_url: str, tmp_path: Path) -> None:
    """``recforge search --executor ray`` killed with SIGKILL, then the same command with --resume."""
    import json

    import optuna
    from typer.testing import CliRunner

    from recforge.cli import app

    TS = optuna.trial.TrialState
    max_trials = 10
    log = tmp_path / "log.csv"
    make_frame().write_csv(log)
    args = ["search", "--data", str(log), "--split", "random:0.8,0.1,0.1", "--seed", "1", "--budget", "120s",
            "--models", ",".join(MODELS), "--storage", pg_url, "--executor", "ray",
            "--address", ray_cluster.address, "--n-jobs", "2", "--cpus-per-trial", "1", "--max-trials", str(max_trials),
            "--no-warm-start", "--out", str(tmp_path / "run"), "--json"]
    recforge = Path(sys.executable).with_name("recforge")
    out = open(tmp_path / "driver.out", "wb")  # noqa: SIM115 - closed below
    driver = subprocess.Popen([str(recforge), *args], env={**os.environ, "RECFORGE_QUIET": "1"},
                              stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            time.sleep(0.2)
            assert driver.poll() is None, (tmp_path / "driver.out").read_text()[-3000:]
            try:
                trials = _study(pg_url).get_trials(deepcopy=False)
            except Exception:  # study not created yet
                continue
            done = [t for t in trials if t.state.is_finished()]
            if len(done) >= 2 and any(t.state == TS.RUNNING and FAMILY_PARAM in t.params for t in trials):
                driver.send_signal(signal.SIGKILL)
                break
        else:
            raise AssertionError("the driver never had 2 finished trials and 1 running")
    finally:
        if driver.poll() is None:
            driver.kill()
        driver.wait()
        out.close()
    killed_at = _study(pg_url).get_trials(deepcopy=False)
    before = {t.number: (t.state, t.values) for t in killed_at if t.state.is_finished()}
    interrupted = {t.number: dict(t.params) for t in killed_at if t.state == TS.RUNNING}
    assert any(FAMILY_PARAM in p for p in interrupted.values())

    again = CliRunner().invoke(app, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    trials = _study(pg_url).get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}
    assert all(t.state.is_finished() for t in trials), [(t.number, t.state) for t in trials]
    # what finished before the kill is kept as it was (not run again)
    for number, (state, values) in before.items():
        assert (by_number[number].state, by_number[number].values) == (state, values)
    # what the kill interrupted is marked failed with the reason, and its configuration run
    # once more (a trial killed before its configuration was chosen has none to rerun)
    for number, params in interrupted.items():
        t = by_number[number]
        assert t.state == TS.FAIL and "interrupted" in (t.user_attrs.get("rf", {}).get("error") or "")
        retries = [r for r in trials if r.user_attrs.get("retry_of") == number]
        if FAMILY_PARAM in params:
            assert len(retries) == 1 and retries[0].state.is_finished(), (number, params, retries)
            assert params.items() <= retries[0].params.items()
        else:
            assert not retries
    assert len([t for t in trials if t.state.is_finished()]) >= max_trials
    assert summary["n_trials"] == len(trials) and summary["best"] is not None
    assert summary["test_metrics"] and summary["storage"] == pg_url
