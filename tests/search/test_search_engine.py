"""The search engine on tiny synthetic data with models whose answers are known."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from search_models import write_portfolio

import recforge as rf
from recforge.errors import ConfigError, DataError
from recforge.search import Categorical, FamilySpace, Float
from recforge.search.engine import pareto_front, parse_budget

ORACLE = FamilySpace("oracle", {"quality": Float(0.0, 1.0), "score_sleep": Float(0.0, 0.05, default=0.0),
                                "fail": Categorical((False, True), default=False)},
                     fixed={"epochs": 9}, fidelity="epochs", epochs_field="epochs")
CLOSED = FamilySpace("closed-oracle", {"quality": Float(0.0, 1.0)}, fidelity="data")
SPACES = {"oracle": ORACLE, "closed-oracle": CLOSED}


def _run(split, tmp_path, entries, **kw):
    pf = write_portfolio(tmp_path / "portfolio.json", entries)
    opts = dict(budget="60s", models=[e for e in {x["family"] for x in entries}], spaces=SPACES,
                warm_start=pf, max_trials=len(entries), progress=False, measure=None)
    opts.pop("measure")
    opts.update(kw)
    return rf.search(split.train, split.valid, split.test, **opts)


def test_parse_budget() -> None:
    assert parse_budget("10m") == 600
    assert parse_budget("1h30m") == 5400
    assert parse_budget("90s") == 90
    assert parse_budget("2.5") == 2.5
    for bad in ("ten minutes", "-5", "0", "5x"):
        with pytest.raises(ConfigError):
            parse_budget(bad)


def test_asha_prunes_weak_iterative_trials_after_one_epoch(split_data, oracles, tmp_path) -> None:
    # Successive halving, reduction factor 3, asynchronous: at a rung a trial goes on only
    # if it is in the top third of the values seen there (the best, while fewer than 3).
    entries = [{"family": "oracle", "params": {"quality": q}} for q in (0.9, 0.1, 0.2, 0.95)]
    res = _run(split_data, tmp_path, entries, out=tmp_path / "run")
    states = [t.state for t in res.trials]
    assert states == ["complete", "pruned", "pruned", "complete"]
    assert res.trials[1].intermediate == [[1, 0.1]]
    assert res.trials[2].intermediate == [[1, 0.2]]
    assert [s for s, _ in res.trials[0].intermediate] == list(range(1, 10))
    assert res.best.number == 3 and res.best.params["quality"] == 0.95
    assert res.trials[3].epochs == 9


def test_data_fraction_rung_fits_a_quarter_of_the_users_first(split_data, oracles, tmp_path) -> None:
    # the fit costs 0.4 s x the share of users: the rung is worth it and stays on
    space = {"closed-oracle": FamilySpace("closed-oracle", {"quality": Float(0.0, 1.0)},
                                          fixed={"fit_sleep": 0.4, "scale_with_users": True},
                                          fidelity="data")}
    entries = [{"family": "closed-oracle", "params": {"quality": q}} for q in (0.9, 0.05, 0.95)]
    res = _run(split_data, tmp_path, entries, spaces=space)
    assert [t.state for t in res.trials] == ["complete", "pruned", "complete"]
    n_valid_users = int(((split_data.train.user_counts() > 0)[split_data.valid.active_users()]).sum())
    quarter = round(n_valid_users * 0.25)
    fits = [(q, n) for name, q, n in oracles.FIT_LOG if name == "closed-oracle"]
    full = len(split_data.train.active_users())
    # trial 0: quarter then full; trial 1: quarter only (pruned); trial 2: quarter then full;
    # then the refit of the winner on train+valid
    assert [n for _, n in fits[:5]] == [quarter, full, quarter, quarter, full]
    assert [q for q, _ in fits[:5]] == [0.9, 0.9, 0.05, 0.95, 0.95]


def test_failing_configuration_is_recorded_and_search_goes_on(split_data, oracles, tmp_path) -> None:
    entries = [{"family": "oracle", "params": {"quality": 0.5, "fail": True}},
               {"family": "oracle", "params": {"quality": 0.6}}]
    res = _run(split_data, tmp_path, entries, pruner="none", out=tmp_path / "run")
    assert [t.state for t in res.trials] == ["fail", "complete"]
    assert "broken on purpose" in res.trials[0].error
    saved = json.loads((tmp_path / "run" / "trials.json").read_text())
    assert saved[0]["state"] == "fail" and "broken on purpose" in saved[0]["error"]
    assert res.best.number == 1


def test_latency_constraint_excludes_slow_models(split_data, oracles, tmp_path) -> None:
    entries = [{"family": "oracle", "params": {"quality": 0.95, "score_sleep": 0.02}},
               {"family": "oracle", "params": {"quality": 0.5, "score_sleep": 0.0}}]
    res = _run(split_data, tmp_path, entries, pruner="none", max_latency_ms=10.0)
    slow, fast = res.trials
    assert slow.latency_ms >= 20.0 and not slow.feasible
    assert fast.latency_ms < 10.0 and fast.feasible
    assert slow.value > fast.value  # better but infeasible
    assert res.best.number == fast.number
    assert [r.number for r in res.leaderboard] == [fast.number]


def test_multi_objective_returns_the_pareto_front(split_data, oracles, tmp_path) -> None:
    qs = [(0.9, 0.03), (0.5, 0.0), (0.3, 0.02), (0.95, 0.045), (0.2, 0.0)]
    entries = [{"family": "oracle", "params": {"quality": q, "score_sleep": s}} for q, s in qs]
    res = _run(split_data, tmp_path, entries, multi_objective=True)
    assert all(t.state == "complete" for t in res.trials)
    pts = [(t.number, t.value, t.latency_ms, t.memory_mb) for t in res.trials]
    expected = set()
    for n, v, lat, mem in pts:  # brute force: nobody at least as good on all and better on one
        if not any(v2 >= v and l2 <= lat and m2 <= mem and (v2, l2, m2) != (v, lat, mem)
                   for _, v2, l2, m2 in pts):
            expected.add(n)
    assert {t.number for t in res.pareto_front} == expected
    assert 2 not in expected  # slower and worse than trial 1
    assert res.summary["pareto_front"] is not None


def test_leaderboard_refit_artifact_and_test_touched_once(split_data, tmp_path, monkeypatch) -> None:
    import recforge.evaluation as ev

    calls = []
    real = ev.evaluate

    def spy(model, data, **kw):
        calls.append(data is split_data.test)
        return real(model, data, **kw)

    monkeypatch.setattr(ev, "evaluate", spy)
    res = rf.search(split_data.train, split_data.valid, split_data.test, budget="60s",
                    models=["most-popular", "item-knn", "ease"], max_trials=6, out=tmp_path / "run",
                    progress=False, seed=1)
    assert sum(calls) == 1  # test evaluated exactly once, at the end
    by_family: dict[str, float] = {}
    for t in res.trials:
        if t.state == "complete":
            by_family[t.family] = max(by_family.get(t.family, -1.0), t.value)
    assert {r.family: r.value for r in res.leaderboard} == by_family
    assert res.best.value == max(by_family.values())
    # the saved artifact is the refitted winner
    model = rf.load(tmp_path / "run" / "best-model")
    users = split_data.test.active_users()[:5]
    a = model.recommend_codes(users, 5)[0]
    b = res.best_model.recommend_codes(users, 5)[0]
    np.testing.assert_array_equal(a, b)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["best"]["number"] == res.best.number
    assert math.isclose(summary["test_metrics"]["ndcg@10"], res.test_metrics["ndcg@10"])
    assert summary["overhead_ms"]["n"] == len(res.trials)
    trials = json.loads((tmp_path / "run" / "trials.json").read_text())
    assert {"family", "params", "value", "state", "started", "ended", "latency_ms", "memory_mb",
            "intermediate"} <= set(trials[0])


def test_bad_inputs(split_data, tmp_path) -> None:
    with pytest.raises(ConfigError, match="unknown model family"):
        rf.search(split_data.train, split_data.valid, models=["nope"], budget="5s", progress=False)
    with pytest.raises(ConfigError, match="metric"):
        rf.search(split_data.train, split_data.valid, metric="coverage@10", budget="5s", progress=False)
    with pytest.raises(DataError, match="validation"):
        rf.search(split_data.train, None, budget="5s", progress=False)
    with pytest.raises(ConfigError, match="nothing to resume"):
        rf.search(split_data.train, split_data.valid, budget="5s", out=tmp_path / "r", resume=True,
                  progress=False)
    rf.search(split_data.train, split_data.valid, budget="5s", models=["most-popular"], max_trials=1,
              out=tmp_path / "r2", progress=False, refit=False)
    with pytest.raises(ConfigError, match="already exists"):
        rf.search(split_data.train, split_data.valid, budget="5s", models=["most-popular"],
                  out=tmp_path / "r2", progress=False)


def test_pareto_front_helper_on_hand_made_records() -> None:
    from recforge.search.engine import TrialRecord

    def rec(n, v, lat, mem, state="complete", feasible=True):
        return TrialRecord(n, "x", {}, state, v, None, None, None, None, None, lat, mem, None, None,
                           None, [], feasible, None, None)

    recs = [rec(0, 0.5, 1.0, 1.0), rec(1, 0.4, 2.0, 1.0), rec(2, 0.6, 3.0, 1.0),
            rec(3, 0.9, 0.5, 0.5, feasible=False), rec(4, 0.7, 9.0, 0.1), rec(5, 0.1, 0.1, 0.1, state="pruned")]
    assert [r.number for r in pareto_front(recs)] == [4, 2, 0]


def test_iterative_trial_out_of_time_is_evaluated_as_trained(split_data, oracles, tmp_path) -> None:
    entries = [{"family": "oracle", "params": {"quality": 0.8}}]
    space = {"oracle": FamilySpace("oracle", {"quality": Float(0.0, 1.0)},
                                   fixed={"epochs": 9, "fit_sleep": 0.25}, fidelity="epochs",
                                   epochs_field="epochs")}
    res = _run(split_data, tmp_path, entries, spaces=space, trial_timeout=1.2, pruner="none")
    (t,) = res.trials
    assert t.state == "complete" and t.value is not None
    assert 1 <= t.epochs < 9
    assert res.best_model.config.epochs == t.epochs  # refit for as many epochs as it trained


def test_portfolio_is_tried_first_round_robin_over_families(split_data, oracles, tmp_path) -> None:
    entries = [{"family": "oracle", "params": {"quality": 0.9}},
               {"family": "oracle", "params": {"quality": 0.8}},
               {"family": "closed-oracle", "params": {"quality": 0.7}}]
    res = _run(split_data, tmp_path, entries, pruner="none")
    assert [(t.family, t.params["quality"], t.source) for t in res.trials] == [
        ("oracle", 0.9, "portfolio"), ("closed-oracle", 0.7, "portfolio"), ("oracle", 0.8, "portfolio")]


def test_data_rung_is_turned_off_when_it_costs_as_much_as_a_full_fit(split_data, oracles, tmp_path) -> None:
    # The fit sleeps 0.3 s whatever the number of users: the quarter-users rung saves nothing.
    space = {"closed-oracle": FamilySpace("closed-oracle", {"quality": Float(0.0, 1.0)},
                                          fixed={"fit_sleep": 0.3}, fidelity="data")}
    entries = [{"family": "closed-oracle", "params": {"quality": q}} for q in (0.9, 0.1, 0.95)]
    res = _run(split_data, tmp_path, entries, spaces=space, refit=False)
    assert [t.state for t in res.trials] == ["complete", "complete", "complete"]
    full = len(split_data.train.active_users())
    sizes = [n for name, _, n in oracles.FIT_LOG if name == "closed-oracle"]
    assert sizes[1:] == [full, full, full] and sizes[0] < full
