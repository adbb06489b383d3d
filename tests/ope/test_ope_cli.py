"""``recforge ope``: zoo and file logs, table and --json output, bad input exits 2."""

from __future__ import annotations

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from recforge.cli import app
from recforge.ope import synthetic_bandit

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["ope", *args])


@pytest.fixture(scope="module")
def sim_csv(tmp_path_factory):
    sim = synthetic_bandit(n_rounds=600, n_actions=4, len_list=2, n_users=20, seed=1)
    log = sim.log
    df = pl.DataFrame({"user": log.user, "item_id": log.action_ids[log.action],
                       "position": log.position + 1, "click": log.reward,
                       "propensity_score": log.pscore, "x0": log.context[:, 0],
                       "x1": log.context[:, 1]})
    path = tmp_path_factory.mktemp("ope") / "log.csv"
    df.write_csv(path)
    return path, sim


def test_json_on_open_bandit_matches_library(tmp_path) -> None:
    res = run("--logs", "open-bandit", "--policy", "bts,n_sim=20000", "--estimators",
              "ipw,snipw", "--n-bootstrap", "50", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["n_rounds"], out["n_actions"], out["len_list"]) == (10000, 80, 3)
    assert out["logged_policy_value"] == pytest.approx(0.0038)
    import recforge as rf
    from recforge.metrics import ope
    from recforge.ope import bernoulli_ts, zozotown_prior

    log = rf.datasets.load("open-bandit")
    pi = bernoulli_ts(log.n_rounds, *zozotown_prior("all"), 3, n_sim=20000, seed=12345)
    ref = ope.ipw(log.reward, log.action, log.pscore, pi, log.position)
    assert out["estimates"]["ipw"]["value"] == pytest.approx(ref, abs=1e-12)
    e = out["estimates"]["ipw"]
    assert e["lower"] <= e["value"] <= e["upper"]


def test_table_on_file_logs_with_model_based_estimators(sim_csv) -> None:
    path, _ = sim_csv
    res = run("--logs", str(path), "--policy", "uniform", "--estimators", "ipw,dm,dr,sndr",
              "--context", "x0,x1", "--n-bootstrap", "50", "--n-folds", "2")
    assert res.exit_code == 0, res.output
    for name in ("ipw", "dm", "dr", "sndr", "95% interval"):
        assert name in res.stdout


def test_artifact_policy(sim_csv, tmp_path) -> None:
    from recforge.artifacts import save
    from recforge.data import Interactions
    from recforge.models.baselines import MostPopular

    path, sim = sim_csv
    log = sim.log
    clicked = log.reward == 1
    data = Interactions.from_frame(
        pl.DataFrame({"user": log.user[clicked], "item": log.action_ids[log.action[clicked]]}),
        user="user", item="item", duplicates="keep_all")
    model = MostPopular().fit(data)
    save(model, tmp_path / "m")
    res = run("--logs", str(path), "--policy", f"artifact:{tmp_path / 'm'}", "--estimators",
              "ipw", "--n-bootstrap", "20", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    # reference: the deterministic policy computed in the library
    from recforge.metrics import ope
    from recforge.ope import from_recommender

    dist, _ = from_recommender(model, log.user, log.action_ids, log.len_list)
    ref = ope.ipw(log.reward, log.action, log.pscore, dist, log.position)
    assert out["estimates"]["ipw"]["value"] == pytest.approx(ref, abs=1e-12)
    assert out["policy_info"]["mode"] == "deterministic"


@pytest.mark.parametrize("args, match", [
    (["--policy", "greedy"], "unknown policy"),
    (["--policy", "uniform", "--estimators", "ipw,magic"], "unknown estimator 'magic'"),
    (["--policy", "uniform", "--n-bootstrap", "0"], "n-bootstrap"),
])
def test_bad_options_exit_2(sim_csv, args, match) -> None:
    path, _ = sim_csv
    res = run("--logs", str(path), *args)
    assert res.exit_code == 2
    assert match in res.stderr
    assert res.stdout == ""


def test_bad_log_file_exit_2_names_line(tmp_path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("item_id,click,propensity_score\n1,0,0.5\n2,1,0\n")
    res = run("--logs", str(bad), "--policy", "uniform", "--estimators", "ipw")
    assert res.exit_code == 2
    assert "line 3, column 'propensity_score'" in res.stderr
    res = run("--logs", str(tmp_path / "missing.csv"), "--policy", "uniform")
    assert res.exit_code == 2 and "neither" in res.stderr
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("item_id,click\n1,0\n")
    res = run("--logs", str(nocol), "--policy", "uniform")
    assert res.exit_code == 2 and "--pscore" in res.stderr


def test_artifact_policy_needs_users(tmp_path) -> None:
    f = tmp_path / "nouser.csv"
    f.write_text("item_id,click,propensity_score\n1,0,0.5\n2,1,0.5\n")
    res = run("--logs", str(f), "--policy", f"artifact:{tmp_path}", "--estimators", "ipw")
    assert res.exit_code == 2 and "--user" in res.stderr


def test_data_info_on_bandit_logs() -> None:
    res = runner.invoke(app, ["data", "info", "open-bandit"])
    assert res.exit_code == 0, res.output
    assert "n rounds" in res.stdout and "10,000" in res.stdout
    res = runner.invoke(app, ["data", "info", "open-bandit", "--json"])
    out = json.loads(res.stdout)
    assert out["n_actions"] == 80 and out["mean_reward"] == pytest.approx(0.0038)


@pytest.mark.realdata
def test_path_reads_other_campaigns(shared_datasets) -> None:
    res = run("--logs", "open-bandit", "--path", str(shared_datasets / "open-bandit-sample"),
              "--campaign", "men", "--behavior-policy", "bts", "--policy", "logged",
              "--estimators", "ipw", "--n-bootstrap", "20", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["logs"], out["n_actions"]) == ("open-bandit/bts/men", 34)
    res = run("--logs", "open-bandit", "--campaign", "men", "--policy", "uniform")
    assert res.exit_code == 2 and "embedded sample has campaign 'all' only" in res.stderr
