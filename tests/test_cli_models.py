"""``recforge fit`` / ``recforge evaluate`` end to end through Typer's CliRunner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from recforge import split
from recforge.cli import app
from recforge.data.readers import read_interactions
from recforge.evaluation import evaluate
from recforge.models.knn import ItemKNN
from tests.conftest import synthetic_frame

SPLIT = "random:0.8,0.1,0.1"


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory) -> str:  # type: ignore[no-untyped-def]
    p = tmp_path_factory.mktemp("cli") / "log.csv"
    synthetic_frame(n_users=50, n_items=30, per_user=8, seed=2).write_csv(p)
    return str(p)


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def expected(csv_path: str, seed: int = 0) -> dict[str, float]:
    """The same protocol computed in-process: fit on train, exclude train+valid on test."""
    data = read_interactions(csv_path, user="user", item="item", rating="rating",
                             timestamp="timestamp", duplicates="keep_last")
    parts = split.apply(data, SPLIT, seed=seed)
    model = ItemKNN(neighbours=5, shrink=1.0).fit(parts.train)
    return dict(evaluate(model, parts.test, train=parts.train.concat(parts.valid),
                         metrics=["ndcg@5", "recall@10"]))


def test_evaluate_json_matches_library(csv_path: str) -> None:
    r = run("evaluate", "--data", csv_path, "--split", SPLIT, "--model", "item-knn",
            "--param", "neighbours=5", "--param", "shrink=1", "--metrics", "ndcg@5,recall@10", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)  # stdout holds exactly one JSON object
    assert out["model"] == "item-knn" and out["config"]["neighbours"] == 5
    assert out["protocol"] == "full-ranking" and out["n_users"] > 0
    assert out["metrics"] == pytest.approx(expected(csv_path), abs=1e-12)


def test_fit_then_evaluate_artifact(csv_path: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    art = tmp_path / "model"
    r = run("fit", "--data", csv_path, "--split", SPLIT, "--model", "item-knn",
            "--param", "neighbours=5", "--param", "shrink=1", "--out", str(art), "--json")
    assert r.exit_code == 0, r.output
    fit_out = json.loads(r.stdout)
    assert fit_out["config"] == ItemKNN(neighbours=5, shrink=1.0).config.to_dict()
    assert fit_out["config"]["neighbours"] == 5 and fit_out["config"]["shrink"] == 1.0
    assert (art / "manifest.json").is_file()
    r = run("evaluate", "--data", csv_path, "--split", SPLIT, "--artifact", str(art),
            "--metrics", "ndcg@5,recall@10", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["fit_seconds"] is None
    assert out["metrics"] == pytest.approx(expected(csv_path), abs=1e-12)


def test_sampled_flag_labels_output(csv_path: str) -> None:
    r = run("evaluate", "--data", csv_path, "--split", SPLIT, "--model", "most-popular",
            "--metrics", "recall@5", "--sampled", "10", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert list(out["metrics"]) == ["recall@5[sampled-10]"] and out["protocol"] == "sampled-10"


def test_table_output(csv_path: str) -> None:
    r = run("evaluate", "--data", csv_path, "--split", SPLIT, "--model", "ease",
            "--param", "l2=10", "--metrics", "ndcg@5")
    assert r.exit_code == 0, r.output
    assert "ndcg@5" in r.stdout and "full-ranking" in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["--model", "ease", "--param", "l2=abc"], "l2"),
    (["--model", "ease", "--param", "l2"], "KEY=VALUE"),
    (["--model", "ease", "--param", "no_such=1"], "no_such"),
    (["--model", "ease", "--param", "l2=-1"], "l2"),
    (["--model", "no-such-model"], "valid names"),
    (["--model", "ease", "--metrics", "ndgc@10"], "unknown metric"),
    (["--model", "ease", "--metrics", "recall"], "cut-off"),
    (["--model", "ease", "--artifact", "x"], "exactly one"),
])
def test_errors_exit_2_with_one_line(csv_path: str, args: list[str], needle: str) -> None:
    r = run("evaluate", "--data", csv_path, "--split", SPLIT, *args, "--json")
    assert r.exit_code == 2, r.output
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], r.stderr


def test_failed_fit_leaves_no_output(csv_path: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    art = tmp_path / "never"
    r = run("fit", "--data", csv_path, "--split", SPLIT, "--model", "ease",
            "--param", "max_memory_gb=0.0000001", "--out", str(art))
    assert r.exit_code == 2
    assert "needs about" in r.stderr
    assert not art.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".never")]
