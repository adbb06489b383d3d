"""Evaluation policies as action distributions of shape ``(n_rounds, n_actions, len_list)``.

- :func:`uniform`: every action equally likely at every position;
- :func:`logged_replica`: the logging policy replicated as its empirical (context-free)
  per-position action frequencies;
- :func:`bernoulli_ts` / :func:`bernoulli_ts_probs`: Bernoulli Thompson sampling over a Beta
  prior, simulated exactly like obp's ``BernoulliTS.compute_batch_action_dist`` (the same
  ``RandomState`` stream, vectorised), with the ZOZOTOWN production prior
  (:func:`zozotown_prior`) for the Open Bandit comparison;
- :func:`from_recommender`: any fitted recforge top-K model (``score()``) as a policy over the
  logged action set: deterministic (the k-th best action at position k) or softmax over scores
  with a temperature;
- :func:`parse_policy`: the ``--policy SPEC`` syntax of ``recforge ope``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from recforge.errors import ConfigError, DataError

PRIOR_FILE = (Path(__file__).resolve().parents[1] / "datasets" / "embedded" / "open-bandit"
              / "zozotown_bts_prior.json")


def uniform(n_rounds: int, n_actions: int, len_list: int = 1) -> np.ndarray:
    """The uniform-random policy."""
    return np.full((n_rounds, n_actions, len_list), 1.0 / n_actions)


def logged_replica(log: Any) -> np.ndarray:
    """The logging policy replicated by its empirical action frequency at each position.

    Context-free: right for loggers that ignore the context (e.g. Open Bandit's random and
    Bernoulli-TS policies); for a contextual logger it is its average over contexts.
    """
    counts = np.zeros((log.n_actions, log.len_list))
    np.add.at(counts, (log.action, log.position), 1.0)
    totals = counts.sum(axis=0, keepdims=True)
    if (totals == 0).any():
        k = int(np.flatnonzero(totals[0] == 0)[0])
        raise DataError(f"no logged rounds at position {k}; cannot replicate the logging policy")
    return np.broadcast_to(counts / totals, (log.n_rounds, log.n_actions, log.len_list)).copy()


def zozotown_prior(campaign: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """Beta prior (alpha, beta) of the Bernoulli-TS policy run in ZOZOTOWN production.

    The numbers are those shipped with obp (``obp/policy/conf/prior_bts.yaml``, Apache-2.0),
    stored in ``datasets/embedded/open-bandit/zozotown_bts_prior.json``.
    """
    data = json.loads(PRIOR_FILE.read_text())
    if campaign not in data["prior"]:
        raise ConfigError(f"unknown campaign {campaign!r}; valid: {', '.join(data['prior'])}")
    p = data["prior"][campaign]
    return np.asarray(p["alpha"], dtype=np.float64), np.asarray(p["beta"], dtype=np.float64)


def bernoulli_ts_probs(alpha: Any, beta: Any, len_list: int = 1, *, n_sim: int = 100_000,
                       seed: int | None = 12345, reward_counts: Any = None,
                       action_counts: Any = None, chunk: int = 10_000) -> np.ndarray:
    """Probability that Bernoulli Thompson sampling shows each action at each position.

    Each simulation draws ``theta_a ~ Beta(alpha_a + clicks_a, beta_a + non-clicks_a)`` and
    shows the ``len_list`` actions with the largest draws, best first; the result is the
    frequency of (action, position) over ``n_sim`` simulations, shape ``(n_actions, len_list)``.

    With the same ``seed`` the draws are exactly obp's (``RandomState(seed).beta`` consumed
    in the same order, ``argsort()[::-1]`` ranking), computed in blocks of ``chunk``
    simulations instead of a Python loop.
    """
    a0 = np.asarray(alpha, dtype=np.float64)
    b0 = np.asarray(beta, dtype=np.float64)
    if a0.ndim != 1 or a0.shape != b0.shape:
        raise ConfigError("alpha and beta must be 1-D arrays of equal length (one per action)")
    n_actions = a0.shape[0]
    rc = np.zeros(n_actions) if reward_counts is None else np.asarray(reward_counts, np.float64)
    ac = np.zeros(n_actions) if action_counts is None else np.asarray(action_counts, np.float64)
    a = rc + a0
    b = (ac - rc) + b0
    if (a <= 0).any() or (b <= 0).any():
        raise ConfigError("Beta parameters must be positive for every action")
    if not 1 <= len_list <= n_actions:
        raise ConfigError(f"len_list must lie in [1, {n_actions}], got {len_list}")
    if n_sim < 1:
        raise ConfigError(f"n_sim must be >= 1, got {n_sim}")
    rs = np.random.RandomState(seed)
    counts = np.zeros((n_actions, len_list))
    for start in range(0, n_sim, chunk):
        m = min(chunk, n_sim - start)
        draws = rs.beta(a, b, size=(m, n_actions))
        top = np.argsort(draws, axis=1)[:, ::-1][:, :len_list]
        for k in range(len_list):
            counts[:, k] += np.bincount(top[:, k], minlength=n_actions)
    return counts / n_sim


def bernoulli_ts(n_rounds: int, alpha: Any, beta: Any, len_list: int = 1, **kw: Any) -> np.ndarray:
    """:func:`bernoulli_ts_probs` repeated for every round (obp's batch action dist)."""
    probs = bernoulli_ts_probs(alpha, beta, len_list, **kw)
    return np.broadcast_to(probs, (n_rounds, *probs.shape)).copy()


def _softmax(x: np.ndarray, temperature: float) -> np.ndarray:
    z = x / temperature
    z = z - z.max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def from_recommender(model: Any, users: Any, action_ids: Any, len_list: int = 1, *,
                     mode: str = "deterministic", temperature: float = 1.0) -> tuple[np.ndarray, dict[str, int]]:
    """A fitted recforge recommender as a policy over the logged action set.

    Args:
        model: a fitted :class:`recforge.models.base.Recommender`.
        users: raw user id of each round.
        action_ids: raw item id of each action code (``BanditLog.action_ids``).
        len_list: number of positions.
        mode: ``"deterministic"``: position ``k`` shows the action the model ranks ``k``-th
            among the logged actions; ``"softmax"``: every position draws from
            ``softmax(score / temperature)`` over the logged actions (positions independent,
            like a random logger's per-position propensities).
        temperature: softmax temperature (> 0).

    Returns:
        ``(action_dist, info)``; ``info`` counts rounds whose user the model does not know
        (they get the uniform policy) and actions it does not know (never shown, score
        ``-inf``).
    """
    if mode not in ("deterministic", "softmax"):
        raise ConfigError(f"mode must be 'deterministic' or 'softmax', got {mode!r}")
    if not temperature > 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}")
    train = getattr(model, "train_", None)
    if train is None:
        raise ConfigError("the recommender is not fitted; fit it (or load an artifact) first")
    users = np.asarray(users)
    action_ids = np.asarray(action_ids)
    n_actions = action_ids.shape[0]
    if len_list > n_actions:
        raise ConfigError(f"len_list {len_list} exceeds the number of actions {n_actions}")
    icodes = train.encode_items(action_ids, missing="mask")
    known_items = icodes >= 0
    if not known_items.any():
        raise DataError("none of the logged actions is an item the model knows; the policy "
                        "would have nothing to show (check that the log's action ids are the "
                        "model's item ids)")
    uniq, inverse = np.unique(users, return_inverse=True)
    ucodes = train.encode_users(uniq, missing="mask")
    known_users = ucodes >= 0
    per_user = np.full((uniq.shape[0], n_actions, len_list), 1.0 / n_actions)
    if known_users.any():
        scores = np.full((int(known_users.sum()), n_actions), -np.inf)
        scores[:, known_items] = model.score_codes(ucodes[known_users])[:, icodes[known_items]]
        if mode == "deterministic":
            # stable ranking so that ties go to the smaller action code
            order = np.argsort(-scores, axis=1, kind="stable")[:, :len_list]
            dist = np.zeros((scores.shape[0], n_actions, len_list))
            rows = np.arange(scores.shape[0])
            for k in range(len_list):
                dist[rows, order[:, k], k] = 1.0
        else:
            p = _softmax(scores.astype(np.float64), temperature)
            dist = np.repeat(p[:, :, None], len_list, axis=2)
        per_user[known_users] = dist
    info = {"unknown_user_rounds": int((~known_users)[inverse].sum()),
            "unknown_actions": int((~known_items).sum())}
    return per_user[inverse], info


def parse_policy(spec: str) -> tuple[str, dict[str, Any]]:
    """Parse ``--policy SPEC``.

    Grammar: ``NAME[:ARG][,key=value...]`` with NAME one of
    ``uniform``, ``logged``, ``bts`` (Bernoulli TS; keys ``campaign``, ``n_sim``, ``seed``;
    default the ZOZOTOWN production prior of the log's campaign) and ``artifact:DIR`` (a saved
    recforge model; keys ``mode=deterministic|softmax``, ``temperature=T``).
    """
    s = spec.strip()
    head, *rest = [part.strip() for part in s.split(",")]
    name, _, arg = head.partition(":")
    name = name.lower()
    opts: dict[str, Any] = {}
    for part in rest:
        if "=" not in part:
            raise ConfigError(f"--policy {spec!r}: option {part!r} is not key=value")
        k, v = (x.strip() for x in part.split("=", 1))
        opts[k] = v
    allowed = {"uniform": set(), "logged": set(), "bts": {"campaign", "n_sim", "seed"},
               "artifact": {"mode", "temperature"}}
    if name not in allowed:
        raise ConfigError(f"--policy {spec!r}: unknown policy {name!r}; use uniform, logged, "
                          "bts[,campaign=all,n_sim=100000,seed=12345] or "
                          "artifact:DIR[,mode=softmax,temperature=T]")
    bad = set(opts) - allowed[name]
    if bad:
        raise ConfigError(f"--policy {spec!r}: unknown option(s) {sorted(bad)} for {name!r}; "
                          f"valid: {sorted(allowed[name]) or 'none'}")
    if name == "artifact":
        if not arg:
            raise ConfigError(f"--policy {spec!r}: give the artifact directory, artifact:DIR")
        opts["path"] = arg
        # a temperature implies softmax unless a mode is given
        opts.setdefault("mode", "softmax" if "temperature" in opts else "deterministic")
        opts["temperature"] = _num(opts.get("temperature", "1.0"), "temperature", spec, float)
        if opts["mode"] not in ("deterministic", "softmax"):
            raise ConfigError(f"--policy {spec!r}: mode must be deterministic or softmax")
    elif arg:
        raise ConfigError(f"--policy {spec!r}: {name!r} takes no ':' argument")
    if name == "bts":
        if "n_sim" in opts:
            opts["n_sim"] = _num(opts["n_sim"], "n_sim", spec, int)
        if "seed" in opts:
            opts["seed"] = _num(opts["seed"], "seed", spec, int)
    return name, opts


def _num(v: str, key: str, spec: str, kind: type) -> Any:
    try:
        return kind(v)
    except ValueError:
        raise ConfigError(f"--policy {spec!r}: {key}={v!r} is not a {kind.__name__}") from None
