"""Evaluation policies: BTS replica, logged replica, recommender policies, --policy grammar."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recforge.errors import ConfigError, DataError
from recforge.ope import (
    bernoulli_ts_probs,
    from_recommender,
    logged_replica,
    parse_policy,
    synthetic_bandit,
    uniform,
)


def test_bts_equals_obp_style_python_loop() -> None:
    """Reference: obp's loop (one RandomState.beta call and argsort per simulation)."""
    alpha = np.array([3.0, 1.0, 8.0, 2.0, 5.0])
    beta = np.array([40.0, 9.0, 60.0, 30.0, 20.0])
    rs = np.random.RandomState(5)
    counts = np.zeros((5, 3))
    for _ in range(3000):
        top = rs.beta(a=alpha, b=beta).argsort()[::-1][:3]
        for k in range(3):
            counts[top[k], k] += 1
    got = bernoulli_ts_probs(alpha, beta, 3, n_sim=3000, seed=5, chunk=128)
    np.testing.assert_array_equal(got, counts / 3000)
    np.testing.assert_allclose(got.sum(axis=0), 1.0)


def test_bts_rejects_bad_prior() -> None:
    with pytest.raises(ConfigError, match="positive"):
        bernoulli_ts_probs([1.0, 0.0], [1.0, 1.0])
    with pytest.raises(ConfigError, match="len_list"):
        bernoulli_ts_probs([1.0, 1.0], [1.0, 1.0], len_list=3)


def test_logged_replica_is_per_position_frequency() -> None:
    sim = synthetic_bandit(n_rounds=300, n_actions=4, len_list=2, seed=3)
    dist = logged_replica(sim.log)
    log = sim.log
    for k in range(2):
        freq = np.bincount(log.action[log.position == k], minlength=4) / (log.position == k).sum()
        np.testing.assert_allclose(dist[0, :, k], freq)
    assert dist.shape == (300, 4, 2)
    np.testing.assert_allclose(uniform(3, 4, 2).sum(axis=1), 1.0)


@pytest.fixture
def popular():
    from recforge.data import Interactions
    from recforge.models.baselines import MostPopular

    # item popularity: 30 > 20 > 10 > 40 (counts 4, 3, 2, 1)
    items = [30] * 4 + [20] * 3 + [10] * 2 + [40]
    users = ["a", "b", "c", "d", "a", "b", "c", "a", "b", "c"]
    data = Interactions.from_frame(pl.DataFrame({"user": users, "item": items}),
                                   user="user", item="item")
    return MostPopular().fit(data)


def test_recommender_deterministic_kth_best_at_position_k(popular) -> None:
    actions = np.array([10, 20, 30, 40, 99])  # 99 unknown to the model
    dist, info = from_recommender(popular, ["a", "zz"], actions, len_list=3)
    assert info == {"unknown_user_rounds": 1, "unknown_actions": 1}
    # known user: position 0 -> item 30 (code 2), 1 -> 20 (code 1), 2 -> 10 (code 0)
    assert dist[0].argmax(axis=0).tolist() == [2, 1, 0]
    np.testing.assert_array_equal(dist[0].max(axis=0), 1.0)
    np.testing.assert_allclose(dist[1], 1 / 5)  # unknown user: uniform


def test_recommender_softmax_temperature(popular) -> None:
    actions = np.array([10, 20, 30, 40])
    scores = popular.score(["a"], actions)[0].astype(np.float64)
    for t in (0.5, 2.0):
        dist, _ = from_recommender(popular, ["a"], actions, len_list=2, mode="softmax",
                                   temperature=t)
        e = np.exp((scores - scores.max()) / t)
        np.testing.assert_allclose(dist[0, :, 0], e / e.sum(), rtol=1e-12)
        np.testing.assert_allclose(dist[0, :, 1], e / e.sum(), rtol=1e-12)


def test_recommender_policy_errors(popular) -> None:
    with pytest.raises(DataError, match="none of the logged actions"):
        from_recommender(popular, ["a"], np.array([1, 2]))
    with pytest.raises(ConfigError, match="temperature"):
        from_recommender(popular, ["a"], np.array([10, 20]), mode="softmax", temperature=0)


@pytest.mark.parametrize("spec, expected", [
    ("uniform", ("uniform", {})),
    ("logged", ("logged", {})),
    ("bts", ("bts", {})),
    ("bts,campaign=men,n_sim=500", ("bts", {"campaign": "men", "n_sim": 500})),
    ("artifact:out/m", ("artifact", {"path": "out/m", "temperature": 1.0,
                                     "mode": "deterministic"})),
    ("artifact:out/m,temperature=0.5", ("artifact", {"path": "out/m", "temperature": 0.5,
                                                     "mode": "softmax"})),
])
def test_policy_spec_grammar(spec, expected) -> None:
    assert parse_policy(spec) == expected


@pytest.mark.parametrize("spec, match", [
    ("greedy", "unknown policy"),
    ("bts,foo=1", "unknown option"),
    ("bts,n_sim=many", "not a int"),
    ("artifact", "artifact:DIR"),
    ("uniform:3", "takes no"),
    ("bts,campaign", "key=value"),
])
def test_policy_spec_errors(spec, match) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_policy(spec)
