"""Fast checks of the Ray side that need no cluster: storage rules, options, the worker body."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from recforge.errors import ConfigError
from recforge.execution.storage import absolute_sqlite_url, check_cluster_storage, storage_scheme

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _data import make_split  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_postgresql_accepted_on_many_nodes() -> None:
    url = "postgresql+psycopg2://rf:pw@db.internal:5432/rf"
    assert storage_scheme(url) == "postgresql"
    assert check_cluster_storage(url, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) == url


def test_sqlite_refused_on_more_than_one_node_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"SQLite file.*has 2 nodes.*postgresql://"):
        check_cluster_storage("sqlite:////runs/study.db", ["10.0.0.1", "10.0.0.2"], where="the Ray cluster at h:6379")


def test_sqlite_on_one_node_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert check_cluster_storage("sqlite:///runs/s.db", ["10.0.0.1"]) == f"sqlite:///{tmp_path}/runs/s.db"
    assert absolute_sqlite_url("sqlite:////abs/s.db") == "sqlite:////abs/s.db"
    assert absolute_sqlite_url("postgresql://h/db") == "postgresql://h/db"
    assert check_cluster_storage(None, ["10.0.0.1", "10.0.0.2"]) is None


def test_loopback_database_refused_when_nodes_are_elsewhere() -> None:
    url = "postgresql://rf@127.0.0.1:5432/rf"
    with pytest.raises(ConfigError, match="10.0.0.7"):
        check_cluster_storage(url, ["127.0.0.1", "10.0.0.7"])
    # the same machine under its own address is fine
    assert check_cluster_storage(url, ["127.0.0.1", "10.0.0.7"], driver_addresses=["10.0.0.7"]) == url
    assert check_cluster_storage("postgresql://rf@localhost/rf", ["127.0.0.1"]) == "postgresql://rf@localhost/rf"


@pytest.mark.parametrize("url", ["redis://h:6379/0", "study.db"])
def test_non_database_urls_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=url.split(":")[0]):
        check_cluster_storage(url, ["10.0.0.1"])


@pytest.mark.parametrize("kwargs", [{"max_workers": 0}, {"cpus_per_trial": -1.0}, {"max_retries": -1},
                                    {"gpus_per_trial": "one"}, {"cpus_per_trial": 0.0}])
def test_bad_options_are_config_errors(kwargs: dict[str, object]) -> None:
    from recforge.execution.ray import RayExecutor

    with pytest.raises(ConfigError, match="ray executor"):
        RayExecutor(address="127.0.0.1:1", **kwargs)  # type: ignore[arg-type]


def test_unreachable_cluster_fails_fast_on_the_cli() -> None:
    pytest.importorskip("ray")
    from typer.testing import CliRunner

    from recforge.cli import app

    port = _free_port()
    res = CliRunner().invoke(app, ["search", "--data", "ml-latest-small", "--split", "random:0.8,0.1,0.1",
                                   "--budget", "10s", "--executor", "ray", "--address", f"127.0.0.1:{port}",
                                   "--json"])
    assert res.exit_code == 2
    assert f"cannot connect to the Ray cluster at '127.0.0.1:{port}'" in res.stderr
    assert "ray start --head" in res.stderr and "Traceback" not in res.output


def test_worker_reports_to_the_shared_study(tmp_path: Path) -> None:
    """The actor body, run in-process: what it reports is what lands in the study's storage."""
    import optuna

    from recforge.execution.ray import TrialWorker
    from recforge.execution.trial import TrialData, TrialSpec

    train, valid, _ = make_split(n_users=120, n_items=60, per_user=10)
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    trial = study.ask()
    spec = TrialSpec(number=trial.number, family="als", params={"factors": 8, "iterations": 3}, fidelity="epochs",
                     measure_latency=False, storage=url, study_name="s", trial_id=trial._trial_id, pruner="none")
    worker = TrialWorker(TrialData(train, valid))
    res = worker.run(spec)
    assert res.state == "complete", res.error
    stored = optuna.load_study(study_name="s", storage=url).trials[0].intermediate_values
    assert [s for s, _ in res.intermediate] == [1, 2, 3]
    from recforge.search.fidelity import is_rung_step

    expected = {s: v for s, v in res.intermediate if is_rung_step(s)}  # only rung steps reach the pruner
    assert expected and stored == expected
    assert worker.ready()[2] == os.getpid()


def test_worker_says_when_it_cannot_reach_the_storage(tmp_path: Path) -> None:
    pytest.importorskip("psycopg2")
    from recforge.execution.ray import TrialWorker
    from recforge.execution.trial import TrialData, TrialSpec

    train, valid, _ = make_split(n_users=60, n_items=30, per_user=8)
    url = f"postgresql+psycopg2://rf@127.0.0.1:{_free_port()}/rf"
    spec = TrialSpec(number=0, family="als", params={"iterations": 2}, fidelity="epochs",
                     storage=url, study_name="s", trial_id=1)
    res = TrialWorker(TrialData(train, valid)).run(spec)
    assert res.state == "fail" and "cannot open the study storage" in (res.error or "") and url in (res.error or "")


def test_ray_options_on_the_local_executor_are_refused() -> None:
    from typer.testing import CliRunner

    from recforge.cli import app

    res = CliRunner().invoke(app, ["search", "--data", "ml-latest-small", "--split", "random:0.8,0.1,0.1",
                                   "--budget", "10s", "--cpus-per-trial", "2", "--json"])
    assert res.exit_code == 2 and "cpus_per_trial" in res.stderr and "Traceback" not in res.output
