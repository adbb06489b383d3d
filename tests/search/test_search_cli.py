"""``recforge search`` end to end on a small CSV, and the executor seam."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from recforge.cli import app


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    r = np.random.default_rng(0)
    users, items = [], []
    for u in range(120):
        chosen = r.choice(50, size=10, replace=False, p=np.linspace(2, 0.1, 50) / np.linspace(2, 0.1, 50).sum())
        users.extend([u] * 10)
        items.extend(chosen.tolist())
    path = tmp_path / "log.csv"
    pl.DataFrame({"user": users, "item": items}).write_csv(path)
    return path


def test_cli_search_json_and_run_directory(csv_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = CliRunner().invoke(app, [
        "search", "--data", str(csv_file), "--split", "random:0.6,0.2,0.2", "--budget", "60s",
        "--models", "most-popular,item-knn", "--max-trials", "4", "--out", str(out), "--json",
    ])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["n_trials"] == 4
    assert doc["best"]["family"] in ("most-popular", "item-knn")
    assert set(doc["test_metrics"]) == {"ndcg@10"}
    assert {r["family"] for r in doc["leaderboard"]} <= {"most-popular", "item-knn"}
    for name in ("study.db", "summary.json", "trials.json", "best-model/manifest.json"):
        assert (out / name).exists(), name
    # the same run directory again without --resume is refused; with --resume it continues
    again = CliRunner().invoke(app, ["search", "--data", str(csv_file), "--split", "random:0.6,0.2,0.2",
                                     "--budget", "60s", "--models", "most-popular,item-knn",
                                     "--out", str(out), "--json"])
    assert again.exit_code == 2 and "--resume" in again.output
    resumed = CliRunner().invoke(app, ["search", "--data", str(csv_file), "--split", "random:0.6,0.2,0.2",
                                       "--budget", "60s", "--models", "most-popular,item-knn",
                                       "--max-trials", "6", "--out", str(out), "--resume", "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["n_trials"] == 6


@pytest.mark.parametrize("args, msg", [
    (["--budget", "soon"], "invalid budget"),
    (["--metric", "ndcg"], "cut-off"),
    (["--models", "nope"], "unknown model family"),
    (["--executor", "slurm"], "--executor"),
    (["--resume"], "nothing to resume"),
    (["--storage", "not-a-url"], "database URL"),
])
def test_cli_search_errors_are_one_line_exit_2(csv_file: Path, tmp_path: Path, args, msg) -> None:
    res = CliRunner().invoke(app, ["search", "--data", str(csv_file), "--split", "random:0.6,0.2,0.2",
                                   "--out", str(tmp_path / "r"), *args])
    assert res.exit_code == 2
    assert msg in res.output and "Traceback" not in res.output


def test_run_trial_is_importable_picklable_and_traps_errors(tmp_path: Path) -> None:
    import importlib

    from recforge.data import Interactions
    from recforge.execution import LocalExecutor, TrialData, TrialSpec, get_executor, run_trial

    fn = importlib.import_module("recforge.execution.trial").run_trial
    assert fn is run_trial and pickle.loads(pickle.dumps(run_trial)) is run_trial
    spec = TrialSpec(number=3, family="ease", params={"l2": 10.0})
    assert pickle.loads(pickle.dumps(spec)) == spec
    r = np.random.default_rng(1)
    u = r.integers(0, 30, 400)
    i = r.integers(0, 20, 400)
    data = Interactions.from_frame(pl.DataFrame({"u": u, "i": i}), user="u", item="i", duplicates="keep_last")
    from recforge.split import random_holdout

    parts = random_holdout(data, (0.6, 0.4, 0.0), seed=0)
    td = TrialData(parts.train, parts.valid)
    ok = run_trial(spec, td)
    assert ok.state == "complete" and 0.0 <= ok.value <= 1.0 and ok.memory_mb > 0
    bad = run_trial(TrialSpec(number=4, family="ease", params={"l2": -1.0}), td)
    assert bad.state == "fail" and "l2" in bad.error
    # several in flight on a thread pool give the same results as inline
    ex = get_executor("local", max_workers=2)
    assert isinstance(ex, LocalExecutor) and ex.max_in_flight == 2
    ex.start(td)
    futs = [ex.submit(TrialSpec(number=k, family="ease", params={"l2": float(10 ** k)}, measure_latency=False))
            for k in range(3)]
    values = [f.result().value for f in futs]
    ex.shutdown()
    inline = [run_trial(TrialSpec(number=k, family="ease", params={"l2": float(10 ** k)}, measure_latency=False), td).value
              for k in range(3)]
    assert values == pytest.approx(inline)
