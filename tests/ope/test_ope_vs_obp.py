"""recforge's OPE equals Open Bandit Pipeline (obp 0.5.7) on the same inputs.

The reference numbers in ``data/obp_reference.json`` were produced by obp itself, with
``benchmarks/ope_vs_obp.py`` run in a separate venv (obp pins numpy 1.23 / scikit-learn 1.1
and cannot live in the project's environment). Inputs are either stored in the JSON
(synthetic) or rebuilt here deterministically (the embedded Open Bandit sample, obp's
Bernoulli-TS replica, a legacy-``RandomState`` reward table).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recforge.metrics import ope

REF = json.loads((Path(__file__).parent / "data" / "obp_reference.json").read_text())
TOL = 1e-9


def _check(rows, inputs, *, with_ci: set[str] | None = None) -> None:
    for row in rows:
        vals = ope.round_values(row["estimator"], param=row["param"], **inputs)
        assert abs(vals.mean() - row["value"]) <= TOL, row
        if with_ci is None or row["estimator"] in with_ci:
            bmean, lo, hi = ope.bootstrap_ci(vals, alpha=0.05, n_bootstrap=REF["n_bootstrap"],
                                             seed=REF["seed"])
            assert abs(bmean - row["bootstrap_mean"]) <= TOL, row
            assert abs(lo - row["lower"]) <= TOL, row
            assert abs(hi - row["upper"]) <= TOL, row


def test_synthetic_estimates_and_intervals_equal_obp() -> None:
    syn = REF["synthetic"]
    inp = {k: np.asarray(v) for k, v in syn["inputs"].items()}
    _check(syn["estimates"], inp)


@pytest.fixture(scope="module")
def obd():
    import recforge as rf
    from recforge.ope import bernoulli_ts_probs, zozotown_prior

    log = rf.datasets.load("open-bandit", behavior_policy="random", campaign="all")
    probs = bernoulli_ts_probs(*zozotown_prior("all"), len_list=3, n_sim=100_000, seed=12345)
    return log, probs


def _fingerprint(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(x.shape[0], -1)
    w = np.arange(1, x.shape[0] + 1, dtype=np.float64)
    return np.r_[x.sum(axis=0), w @ x]


def test_open_bandit_reader_matches_obp_preprocessing(obd) -> None:
    log, _ = obd
    o = REF["obd"]
    assert (log.n_rounds, log.n_actions, log.len_list, log.dim_context) == (
        o["n_rounds"], o["n_actions"], o["len_list"], o["dim_context"])
    for name, arr in [("action", log.action[:, None]), ("position", log.position[:, None]),
                      ("reward", log.reward[:, None]), ("pscore", log.pscore[:, None]),
                      ("context", log.context)]:
        np.testing.assert_allclose(_fingerprint(arr), o["fingerprints"][name], rtol=1e-12,
                                   err_msg=name)
    np.testing.assert_allclose(log.action_context, o["action_context"], rtol=0, atol=1e-12)


def test_bernoulli_ts_replica_equals_obp(obd) -> None:
    _, probs = obd
    np.testing.assert_array_equal(probs, np.asarray(REF["obd"]["bts_action_dist"]))


def test_open_bandit_estimates_equal_obp_fixed_reward_table(obd) -> None:
    log, probs = obd
    n, a, k = log.n_rounds, log.n_actions, log.len_list
    q = np.random.RandomState(7).uniform(0.0, 0.02, size=(n, a, k))
    inputs = {"reward": log.reward, "action": log.action, "position": log.position,
              "pscore": log.pscore, "action_dist": np.broadcast_to(probs, (n, a, k)),
              "estimated_rewards": q}
    _check(REF["obd"]["fixed_q"]["estimates"], inputs, with_ci={"ipw", "dr"})


@pytest.mark.slow
def test_open_bandit_full_pipeline_equals_obp(obd) -> None:
    """Reader + BTS replica + cross-fitted logistic reward model + estimators, end to end."""
    from recforge.ope import RewardModel

    log, probs = obd
    q = RewardModel(n_actions=log.n_actions, len_list=log.len_list,
                    action_context=log.action_context, n_folds=3, seed=12345).fit_predict(log)
    tight = REF["obd"]["pipeline_tight"]
    np.testing.assert_allclose(q.mean(axis=0), tight["q_hat_mean"], rtol=0, atol=1e-9)
    inputs = {"reward": log.reward, "action": log.action, "position": log.position,
              "pscore": log.pscore,
              "action_dist": np.broadcast_to(probs, (log.n_rounds, log.n_actions, log.len_list)),
              "estimated_rewards": q}
    _check(tight["estimates"], inputs, with_ci=set())


def test_published_quickstart_relative_errors_reproduced_by_obp() -> None:
    """obp's own run of its quickstart gives the published relative errors (the baseline)."""
    rows = {r["estimator"]: r for r in REF["obd"]["pipeline"]["estimates"] if r["param"] is None}
    assert round(rows["ipw"]["relative_error"], 3) == 0.084
    assert round(rows["dm"]["relative_error"], 3) == 0.156
    assert round(rows["dr"]["relative_error"], 3) == 0.126
