"""``recforge fit`` / ``recforge evaluate`` on a feature-log file with a field spec."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from recforge.cli import app

pytest.importorskip("torch")

SPEC = "label=click;cat=user,ad;num=price:log;group=user"
PARAMS = ["--param", "epochs=2", "--param", "batch_size=128", "--param", "dim=4", "--param", "threads=1"]


@pytest.fixture(scope="module")
def clicks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = np.random.default_rng(0)
    n = 1200
    user, ad = r.integers(0, 40, n), r.integers(0, 25, n)
    wu, wa = r.normal(size=40), r.normal(size=25)
    click = (r.random(n) < 1 / (1 + np.exp(-(wu[user] + wa[ad])))).astype(int)
    p = tmp_path_factory.mktemp("ctr") / "clicks.csv"
    pl.DataFrame({"click": click, "user": user, "ad": ad, "price": r.exponential(2.0, n)}).write_csv(p)
    return p


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def test_fit_then_evaluate_artifact_equals_in_process_result(clicks: Path, tmp_path: Path) -> None:
    from recforge.data.ctr_readers import read_feature_table
    from recforge.models.ctr import FM

    out = tmp_path / "fm"
    r = run("fit", "--data", str(clicks), "--fields", SPEC, "--split", "random:0.8,0.1,0.1",
            "--model", "fm", *PARAMS, "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["model"] == "fm"
    r = run("evaluate", "--data", str(clicks), "--fields", SPEC, "--split", "random:0.8,0.1,0.1",
            "--artifact", str(out), "--metrics", "auc,logloss,gauc", "--json")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)["metrics"]
    # the same protocol in-process
    train, valid, test = read_feature_table(clicks, SPEC).random_split((0.8, 0.1, 0.1), seed=0)
    m = FM(epochs=2, batch_size=128, dim=4, threads=1, seed=0).fit(train, valid)
    ref = m.evaluate(test, ["auc", "logloss", "gauc"])
    assert got == pytest.approx(ref, rel=1e-6)


def test_cli_errors_are_one_line_exit_2(clicks: Path) -> None:
    r = run("evaluate", "--data", str(clicks), "--split", "random:0.8,0.1,0.1", "--model", "deepfm")
    assert r.exit_code == 2 and "--fields" in r.output
    r = run("evaluate", "--data", str(clicks), "--fields", SPEC, "--split", "random:0.8,0.1,0.1",
            "--model", "fm", "--metrics", "ndcg@10")
    assert r.exit_code == 2 and "not CTR metrics" in r.output
    r = run("evaluate", "--data", str(clicks), "--fields", "label=click;cat=nope", "--split",
            "random:0.8,0.1,0.1", "--model", "fm")
    assert r.exit_code == 2 and "'nope'" in r.output
