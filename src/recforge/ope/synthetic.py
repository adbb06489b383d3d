"""A synthetic logged-bandit generator whose true policy values are known exactly.

Users come from a finite population (``n_users`` feature vectors, drawn uniformly per round);
each round also draws a position uniformly. The click probability is
``q(u, a, k) = sigmoid(x_u . theta_a / sqrt(d) + b_a) * exam_k`` with a position
examination factor ``exam_k = 1 / sqrt(k + 1)``. The logging policy is a softmax over
``x_u . phi_a / sqrt(d)`` (or uniform), the same at every position. Because the population is
finite, the value of any policy ``pi(a | u, k)`` is an exact finite sum:

    V(pi) = mean over users u and positions k of  sum_a pi(a | u, k) q(u, a, k)

which is what :meth:`SyntheticBandit.true_value` returns — the reference the estimators'
intervals are checked against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recforge.data.bandit import BanditLog
from recforge.errors import ConfigError


@dataclass
class SyntheticBandit:
    """A simulated log plus the ground truth needed to check estimators.

    Attributes:
        log: the logged feedback (context = user features, ``user`` = user code).
        user_features: ``(n_users, dim_context)``.
        expected_reward: ``q(u, a, k)``, shape ``(n_users, n_actions, len_list)``.
        behavior: logging policy ``(n_users, n_actions)`` (same at every position).
        user_codes: user code of each round.
    """

    log: BanditLog
    user_features: np.ndarray
    expected_reward: np.ndarray
    behavior: np.ndarray
    user_codes: np.ndarray

    def action_dist(self, policy: np.ndarray) -> np.ndarray:
        """A per-user policy ``(n_users, n_actions, len_list)`` expanded to the log's rounds."""
        self._check(policy)
        return policy[self.user_codes]

    def true_value(self, policy: np.ndarray) -> float:
        """Exact value of a per-user policy ``(n_users, n_actions, len_list)``."""
        self._check(policy)
        return float((policy * self.expected_reward).sum(axis=1).mean())

    def expected_rewards_for_rounds(self) -> np.ndarray:
        """True ``q`` for every round, shape ``(n_rounds, n_actions, len_list)``."""
        return self.expected_reward[self.user_codes]

    def softmax_policy(self, beta: float = 20.0) -> np.ndarray:
        """An evaluation policy: softmax of ``beta * q(u, ., k)`` at each position."""
        z = beta * self.expected_reward
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def _check(self, policy: np.ndarray) -> None:
        if policy.shape != self.expected_reward.shape:
            raise ConfigError(f"policy must have shape (n_users, n_actions, len_list) = "
                              f"{self.expected_reward.shape}, got {policy.shape}")


def synthetic_bandit(n_rounds: int = 10_000, *, n_actions: int = 10, len_list: int = 3,
                     dim_context: int = 5, n_users: int = 100, behavior: str = "softmax",
                     behavior_beta: float = 1.0, reward_bias: float = -1.0,
                     seed: int | None = 0) -> SyntheticBandit:
    """Simulate logged bandit feedback with known expected rewards.

    Args:
        n_rounds: logged impressions.
        n_actions, len_list, dim_context, n_users: sizes.
        behavior: ``"softmax"`` (contextual logger) or ``"uniform"``.
        behavior_beta: inverse temperature of the softmax logger.
        reward_bias: mean of the per-action intercepts ``b_a`` (lower = fewer clicks).
        seed: random seed (``numpy.random.default_rng``).

    Example:
        >>> from recforge.ope import synthetic_bandit
        >>> sim = synthetic_bandit(n_rounds=1000, seed=1)
        >>> pi = sim.softmax_policy()
        >>> 0 < sim.true_value(pi) < 1
        True
    """
    if n_rounds < 1 or n_actions < 2 or len_list < 1 or n_users < 1 or dim_context < 1:
        raise ConfigError("synthetic_bandit needs n_rounds >= 1, n_actions >= 2, len_list >= 1, "
                          "n_users >= 1, dim_context >= 1")
    if behavior not in ("softmax", "uniform"):
        raise ConfigError(f"behavior must be 'softmax' or 'uniform', got {behavior!r}")
    rng = np.random.default_rng(seed)
    d = dim_context
    x = rng.normal(size=(n_users, d))
    theta = rng.normal(size=(d, n_actions))
    bias = rng.normal(loc=reward_bias, scale=0.5, size=n_actions)
    exam = 1.0 / np.sqrt(np.arange(len_list) + 1.0)
    base = 1.0 / (1.0 + np.exp(-(x @ theta / np.sqrt(d) + bias)))
    q = base[:, :, None] * exam[None, None, :]
    if behavior == "uniform":
        pb = np.full((n_users, n_actions), 1.0 / n_actions)
    else:
        phi = rng.normal(size=(d, n_actions))
        z = behavior_beta * (x @ phi) / np.sqrt(d)
        z -= z.max(axis=1, keepdims=True)
        pb = np.exp(z)
        pb /= pb.sum(axis=1, keepdims=True)
    users = rng.integers(n_users, size=n_rounds)
    pos = rng.integers(len_list, size=n_rounds)
    cdf = np.cumsum(pb[users], axis=1)
    u = rng.random(n_rounds)[:, None] * cdf[:, -1:]
    action = np.minimum((u > cdf).sum(axis=1), n_actions - 1)
    p_click = q[users, action, pos]
    reward = (rng.random(n_rounds) < p_click).astype(np.float64)
    log = BanditLog.from_arrays(action=action, reward=reward, pscore=pb[users, action],
                                position=pos, context=x[users], n_actions=n_actions,
                                len_list=len_list, user=users, binary_reward=True,
                                name="synthetic-bandit")
    return SyntheticBandit(log=log, user_features=x, expected_reward=q, behavior=pb,
                           user_codes=users)
