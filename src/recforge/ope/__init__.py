"""Off-policy evaluation: reward models, evaluation policies, Open Bandit reader, simulator.

The estimators themselves are pure functions in :mod:`recforge.metrics.ope`.
"""

from __future__ import annotations

from recforge.ope.open_bandit import read_open_bandit
from recforge.ope.policies import (
    bernoulli_ts,
    bernoulli_ts_probs,
    from_recommender,
    logged_replica,
    parse_policy,
    uniform,
    zozotown_prior,
)
from recforge.ope.reward_model import RewardModel
from recforge.ope.synthetic import SyntheticBandit, synthetic_bandit

__all__ = [
    "RewardModel",
    "SyntheticBandit",
    "bernoulli_ts",
    "bernoulli_ts_probs",
    "from_recommender",
    "logged_replica",
    "parse_policy",
    "read_open_bandit",
    "synthetic_bandit",
    "uniform",
    "zozotown_prior",
]
