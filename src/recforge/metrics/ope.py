"""Off-policy estimators of a policy's value from logged bandit feedback (pure functions).

Every estimator takes whole arrays, position-aware like Open Bandit Pipeline (obp):

- ``reward``, ``action``, ``position``, ``pscore``: one entry per logged round;
- ``action_dist``: the evaluation policy, shape ``(n_rounds, n_actions, len_list)``,
  ``action_dist[i, a, k]`` = probability that the policy shows action ``a`` at position ``k``
  in round ``i`` (sums to 1 over actions);
- ``estimated_rewards``: a reward model's ``q_hat[i, a, k]``, same shape, for the model-based
  estimators (DM, DR and its variants).

Each ``*_rounds`` function returns the per-round contributions whose mean is the estimate
(the bootstrap resamples them); the plain functions return that mean. The formulas are those
of obp 0.5 (``obp.ope.estimators``); ``tests/ope`` checks equality with obp's output to 1e-9.

Example:
    >>> import numpy as np
    >>> from recforge.metrics import ope
    >>> reward = np.array([1.0, 0.0]); action = np.array([0, 1]); pscore = np.array([0.5, 0.5])
    >>> pi = np.array([[[1.0], [0.0]], [[1.0], [0.0]]])   # always action 0
    >>> ope.ipw(reward, action, pscore, pi)
    1.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from recforge.errors import ConfigError, DataError

__all__ = [
    "ESTIMATORS",
    "MODEL_BASED",
    "Estimate",
    "bootstrap_ci",
    "dm",
    "dr",
    "dr_os",
    "estimate",
    "ipw",
    "round_values",
    "sndr",
    "snipw",
    "switch_dr",
]


# ---------------------------------------------------------------------- validation
def _check(reward: np.ndarray, action: np.ndarray, pscore: np.ndarray | None,
           action_dist: np.ndarray, position: np.ndarray | None,
           estimated_rewards: np.ndarray | None = None) -> np.ndarray:
    """Validate shapes and ranges; returns the position array (zeros when omitted)."""
    if action_dist.ndim != 3:
        raise DataError(f"action_dist must have shape (n_rounds, n_actions, len_list), got "
                        f"{action_dist.shape}")
    n, n_actions, len_list = action_dist.shape
    for nm, arr in (("reward", reward), ("action", action), ("pscore", pscore),
                    ("position", position)):
        if arr is not None and arr.shape != (n,):
            raise DataError(f"{nm} must have shape ({n},) like action_dist's first axis, got "
                            f"{arr.shape}")
    if n == 0:
        raise DataError("no rounds: the logged arrays are empty")
    if action.min() < 0 or action.max() >= n_actions:
        raise DataError(f"action codes must lie in [0, {n_actions}); got values in "
                        f"[{action.min()}, {action.max()}]")
    pos = np.zeros(n, dtype=np.int64) if position is None else position
    if pos.min() < 0 or pos.max() >= len_list:
        raise DataError(f"position codes must lie in [0, {len_list}); got values in "
                        f"[{pos.min()}, {pos.max()}]")
    if pscore is not None:
        bad = ~((pscore > 0) & (pscore <= 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(f"pscore[{i}] = {pscore[i]!r} is outside (0, 1]; propensities must "
                            "be positive probabilities")
    if not np.all(np.isfinite(action_dist)) or action_dist.min() < 0:
        raise DataError("action_dist must hold finite non-negative probabilities")
    if not np.allclose(action_dist.sum(axis=1), 1.0):
        raise DataError("action_dist must sum to 1 over actions (axis 1) for every round and "
                        "position")
    if estimated_rewards is not None and estimated_rewards.shape != action_dist.shape:
        raise DataError(f"estimated_rewards must have the shape of action_dist {action_dist.shape}, "
                        f"got {estimated_rewards.shape}")
    return pos


def _arr(x: Any, dtype: Any = np.float64) -> np.ndarray:
    return np.asarray(x, dtype=dtype)


def _iw(action: np.ndarray, pscore: np.ndarray, action_dist: np.ndarray,
        position: np.ndarray) -> np.ndarray:
    n = action.shape[0]
    return action_dist[np.arange(n), action, position] / pscore


def _dm_part(action_dist: np.ndarray, q_hat: np.ndarray, position: np.ndarray) -> np.ndarray:
    n = position.shape[0]
    q_at = q_hat[np.arange(n), :, position]
    pi_at = action_dist[np.arange(n), :, position]
    # np.average (not a plain sum) to round exactly like obp
    return np.average(q_at, weights=pi_at, axis=1)


# ---------------------------------------------------------------------- per-round values
def ipw_rounds(reward: Any, action: Any, pscore: Any, action_dist: Any, position: Any = None,
               *, clip: float = np.inf) -> np.ndarray:
    """IPW: ``r * min(pi_e / pi_b, clip)`` per round."""
    r, a, ps, pi = _arr(reward), _arr(action, np.int64), _arr(pscore), _arr(action_dist)
    pos = _check(r, a, ps, pi, None if position is None else _arr(position, np.int64))
    return r * np.minimum(_iw(a, ps, pi, pos), clip)


def snipw_rounds(reward: Any, action: Any, pscore: Any, action_dist: Any,
                 position: Any = None) -> np.ndarray:
    """Self-normalised IPW: ``r * w / mean(w)`` per round."""
    r, a, ps, pi = _arr(reward), _arr(action, np.int64), _arr(pscore), _arr(action_dist)
    pos = _check(r, a, ps, pi, None if position is None else _arr(position, np.int64))
    iw = _iw(a, ps, pi, pos)
    return r * iw / iw.mean()


def dm_rounds(action_dist: Any, estimated_rewards: Any, position: Any = None) -> np.ndarray:
    """Direct method: ``sum_a pi_e(a|x_i, k_i) q_hat(x_i, a, k_i)`` per round."""
    pi, q = _arr(action_dist), _arr(estimated_rewards)
    n = pi.shape[0] if pi.ndim == 3 else 0
    pos = _check(np.zeros(n), np.zeros(n, np.int64), None, pi,
                 None if position is None else _arr(position, np.int64), q)
    return _dm_part(pi, q, pos)


def _dr_family(kind: str, reward: Any, action: Any, pscore: Any, action_dist: Any,
               estimated_rewards: Any, position: Any, param: float) -> np.ndarray:
    r, a, ps, pi, q = (_arr(reward), _arr(action, np.int64), _arr(pscore), _arr(action_dist),
                       _arr(estimated_rewards))
    pos = _check(r, a, ps, pi, None if position is None else _arr(position, np.int64), q)
    n = a.shape[0]
    iw = _iw(a, ps, pi, pos)
    q_factual = q[np.arange(n), a, pos]
    out = _dm_part(pi, q, pos)
    resid = r - q_factual
    if kind == "dr":
        out += np.minimum(iw, param) * resid
    elif kind == "sndr":
        out += iw * resid / iw.mean()
    elif kind == "switch":
        out += np.array(iw <= param, dtype=int) * iw * resid
    elif kind == "os":
        w = (param * iw) / (iw**2 + param) if param < np.inf else iw
        out += w * resid
    else:  # pragma: no cover - internal
        raise AssertionError(kind)
    return out


def dr_rounds(reward: Any, action: Any, pscore: Any, action_dist: Any, estimated_rewards: Any,
              position: Any = None, *, clip: float = np.inf) -> np.ndarray:
    """Doubly robust: DM term + ``min(w, clip) * (r - q_hat(x, a, k))`` per round."""
    return _dr_family("dr", reward, action, pscore, action_dist, estimated_rewards, position, clip)


def sndr_rounds(reward: Any, action: Any, pscore: Any, action_dist: Any, estimated_rewards: Any,
                position: Any = None) -> np.ndarray:
    """Self-normalised DR: DM term + ``w (r - q_hat) / mean(w)`` per round."""
    return _dr_family("sndr", reward, action, pscore, action_dist, estimated_rewards, position,
                      np.inf)


def switch_dr_rounds(reward: Any, action: Any, pscore: Any, action_dist: Any,
                     estimated_rewards: Any, position: Any = None, *,
                     threshold: float = np.inf) -> np.ndarray:
    """Switch-DR (Wang et al. 2017): the DR correction only where ``w <= threshold``."""
    if threshold < 0:
        raise ConfigError(f"switch-dr threshold must be >= 0, got {threshold}")
    return _dr_family("switch", reward, action, pscore, action_dist, estimated_rewards, position,
                      threshold)


def dr_os_rounds(reward: Any, action: Any, pscore: Any, action_dist: Any,
                 estimated_rewards: Any, position: Any = None, *,
                 shrinkage: float = np.inf) -> np.ndarray:
    """DR with optimistic shrinkage (Su et al. 2020): weight ``l w / (w^2 + l)``."""
    if shrinkage < 0:
        raise ConfigError(f"dr-os shrinkage must be >= 0, got {shrinkage}")
    return _dr_family("os", reward, action, pscore, action_dist, estimated_rewards, position,
                      shrinkage)


# ---------------------------------------------------------------------- point estimates
def ipw(reward: Any, action: Any, pscore: Any, action_dist: Any, position: Any = None, *,
        clip: float = np.inf) -> float:
    """Inverse probability weighting estimate (optionally with weights clipped at ``clip``)."""
    return float(ipw_rounds(reward, action, pscore, action_dist, position, clip=clip).mean())


def snipw(reward: Any, action: Any, pscore: Any, action_dist: Any, position: Any = None) -> float:
    """Self-normalised IPW estimate."""
    return float(snipw_rounds(reward, action, pscore, action_dist, position).mean())


def dm(action_dist: Any, estimated_rewards: Any, position: Any = None) -> float:
    """Direct-method estimate from a reward model's ``estimated_rewards``."""
    return float(dm_rounds(action_dist, estimated_rewards, position).mean())


def dr(reward: Any, action: Any, pscore: Any, action_dist: Any, estimated_rewards: Any,
       position: Any = None, *, clip: float = np.inf) -> float:
    """Doubly robust estimate."""
    return float(dr_rounds(reward, action, pscore, action_dist, estimated_rewards, position,
                           clip=clip).mean())


def sndr(reward: Any, action: Any, pscore: Any, action_dist: Any, estimated_rewards: Any,
         position: Any = None) -> float:
    """Self-normalised doubly robust estimate."""
    return float(sndr_rounds(reward, action, pscore, action_dist, estimated_rewards,
                             position).mean())


def switch_dr(reward: Any, action: Any, pscore: Any, action_dist: Any, estimated_rewards: Any,
              position: Any = None, *, threshold: float = np.inf) -> float:
    """Switch doubly robust estimate."""
    return float(switch_dr_rounds(reward, action, pscore, action_dist, estimated_rewards,
                                  position, threshold=threshold).mean())


def dr_os(reward: Any, action: Any, pscore: Any, action_dist: Any, estimated_rewards: Any,
          position: Any = None, *, shrinkage: float = np.inf) -> float:
    """Doubly robust with optimistic shrinkage estimate."""
    return float(dr_os_rounds(reward, action, pscore, action_dist, estimated_rewards, position,
                              shrinkage=shrinkage).mean())


# ---------------------------------------------------------------------- registry
_ROUNDS: dict[str, Callable[..., np.ndarray]] = {
    "ipw": ipw_rounds,
    "snipw": snipw_rounds,
    "dm": dm_rounds,
    "dr": dr_rounds,
    "sndr": sndr_rounds,
    "switch-dr": switch_dr_rounds,
    "dr-os": dr_os_rounds,
}
#: estimator name -> per-round function
ESTIMATORS: tuple[str, ...] = tuple(_ROUNDS)
#: estimators that need a reward model
MODEL_BASED = frozenset({"dm", "dr", "sndr", "switch-dr", "dr-os"})
_PARAM = {"ipw": "clip", "dr": "clip", "switch-dr": "threshold", "dr-os": "shrinkage"}


def round_values(name: str, *, reward: Any, action: Any, pscore: Any, action_dist: Any,
                 position: Any = None, estimated_rewards: Any = None,
                 param: float | None = None) -> np.ndarray:
    """Per-round values of estimator ``name`` (see :data:`ESTIMATORS`)."""
    key = name.strip().lower().replace("_", "-")
    if key not in _ROUNDS:
        raise ConfigError(f"unknown estimator {name!r}; valid names are: {', '.join(ESTIMATORS)}")
    kw: dict[str, Any] = {}
    if param is not None:
        if key not in _PARAM:
            raise ConfigError(f"estimator {key!r} takes no parameter (got {param})")
        kw[_PARAM[key]] = float(param)
    if key in MODEL_BASED and estimated_rewards is None:
        raise ConfigError(f"estimator {key!r} needs estimated_rewards from a reward model")
    if key == "dm":
        return dm_rounds(action_dist, estimated_rewards, position)
    if key in ("ipw", "snipw"):
        return _ROUNDS[key](reward, action, pscore, action_dist, position, **kw)
    return _ROUNDS[key](reward, action, pscore, action_dist, estimated_rewards, position, **kw)


# ---------------------------------------------------------------------- intervals
def bootstrap_ci(samples: Any, *, alpha: float = 0.05, n_bootstrap: int = 10_000,
                 seed: int | None = None, chunk: int = 256) -> tuple[float, float, float]:
    """Non-parametric bootstrap interval of the mean of ``samples``.

    Returns ``(bootstrap mean, lower, upper)`` at level ``1 - alpha``. Resampling draws the
    same indices as obp's ``estimate_confidence_interval_by_bootstrap`` with the same seed
    (``RandomState(seed).randint`` consumed in order), but in vectorised chunks of
    ``chunk`` resamples instead of one Python call per resample.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise DataError(f"bootstrap needs a non-empty 1-D array, got shape {x.shape}")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha must lie in (0, 1), got {alpha}")
    if n_bootstrap < 1:
        raise ConfigError(f"n_bootstrap must be >= 1, got {n_bootstrap}")
    rs = np.random.RandomState(seed)
    n = x.shape[0]
    means = np.empty(n_bootstrap)
    step = max(1, min(chunk, (1 << 24) // n))  # bound the index block to ~128 MB
    for start in range(0, n_bootstrap, step):
        b = min(step, n_bootstrap - start)
        idx = rs.randint(0, n, size=(b, n))
        means[start:start + b] = x[idx].mean(axis=1)
    lo = float(np.percentile(means, 100 * (alpha / 2)))
    hi = float(np.percentile(means, 100 * (1.0 - alpha / 2)))
    return float(means.mean()), lo, hi


@dataclass(frozen=True)
class Estimate:
    """One estimator's result: point estimate and bootstrap interval."""

    name: str
    value: float
    lower: float
    upper: float
    bootstrap_mean: float
    alpha: float

    def to_dict(self) -> dict[str, float | str]:
        return {"estimator": self.name, "value": self.value, "lower": self.lower,
                "upper": self.upper, "bootstrap_mean": self.bootstrap_mean,
                "level": 1.0 - self.alpha}


def estimate(
    estimators: list[str] | tuple[str, ...],
    *,
    reward: Any,
    action: Any,
    pscore: Any,
    action_dist: Any,
    position: Any = None,
    estimated_rewards: Any = None,
    params: dict[str, float] | None = None,
    alpha: float = 0.05,
    n_bootstrap: int = 10_000,
    seed: int | None = 12345,
) -> dict[str, Estimate]:
    """Point estimates and bootstrap intervals of several estimators on the same inputs.

    Args:
        estimators: names from :data:`ESTIMATORS`.
        params: optional per-estimator parameter (``ipw``/``dr``: clip, ``switch-dr``:
            threshold, ``dr-os``: shrinkage).
        alpha, n_bootstrap, seed: bootstrap settings (each estimator uses ``seed``).
    """
    params = params or {}
    out: dict[str, Estimate] = {}
    for name in estimators:
        key = name.strip().lower().replace("_", "-")
        vals = round_values(key, reward=reward, action=action, pscore=pscore,
                            action_dist=action_dist, position=position,
                            estimated_rewards=estimated_rewards, param=params.get(key))
        bmean, lo, hi = bootstrap_ci(vals, alpha=alpha, n_bootstrap=n_bootstrap, seed=seed)
        out[key] = Estimate(key, float(vals.mean()), lo, hi, bmean, alpha)
    return out
