"""Reward models for the model-based estimators (DM, DR, ...), with K-fold cross-fitting.

A scikit-learn classifier (or regressor) is fitted per position on the features
``[context, action_context[action]]`` (one-hot actions when there is no action context), like
obp's ``RegressionModel(fitting_method="normal")``; with ``n_folds > 1`` each round's
``q_hat`` comes from a model that did not see that round (cross-fitting, Chernozhukov et al.),
with the same ``KFold(shuffle=True, random_state=seed)`` folds obp uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recforge.errors import ConfigError, DataError


class RewardModel:
    """Predicts ``q_hat[i, a, k]``, the expected reward of action ``a`` at position ``k``.

    Args:
        n_actions: number of actions.
        len_list: number of positions.
        base_model: an unfitted scikit-learn estimator (cloned per position and fold); default
            ``LogisticRegression(solver="newton-cg", tol=1e-10, max_iter=1000)``: solved to
            its optimum, so results do not depend on the scikit-learn version's stopping rule
            (and it is several times faster than lbfgs on one-hot features).
        action_context: action features ``(n_actions, k)``; one-hot actions when omitted.
        n_folds: cross-fitting folds (1 = fit and predict on the same rounds).
        seed: random state of the folds and of the default base model.

    Example:
        >>> from recforge.ope import RewardModel, synthetic_bandit
        >>> sim = synthetic_bandit(n_rounds=500, n_actions=4, len_list=2, seed=0)
        >>> q = RewardModel(n_actions=4, len_list=2, n_folds=2, seed=0).fit_predict(sim.log)
        >>> q.shape
        (500, 4, 2)
    """

    def __init__(self, *, n_actions: int, len_list: int = 1, base_model: Any = None,
                 action_context: np.ndarray | None = None, n_folds: int = 3,
                 seed: int | None = 12345) -> None:
        self.n_actions = n_actions
        self.len_list = len_list
        self.base_model = base_model
        self.action_context = action_context
        self.n_folds = n_folds
        self.seed = seed

    def _features(self, context: np.ndarray, action: np.ndarray) -> np.ndarray:
        return np.c_[context, self.action_context_[action]]

    def _check(self) -> None:
        if not isinstance(self.n_folds, int) or self.n_folds < 1:
            raise ConfigError(f"n_folds must be a positive integer, got {self.n_folds!r}")
        if self.n_actions < 1 or self.len_list < 1:
            raise ConfigError("n_actions and len_list must be >= 1")
        ac = (np.eye(self.n_actions, dtype=int) if self.action_context is None
              else np.asarray(self.action_context))
        if ac.shape[0] != self.n_actions:
            raise DataError(f"action_context has {ac.shape[0]} rows, expected one per action "
                            f"({self.n_actions})")
        self.action_context_ = ac

    def _base(self) -> Any:
        from sklearn.base import clone
        from sklearn.linear_model import LogisticRegression

        base = (LogisticRegression(solver="newton-cg", tol=1e-10, max_iter=1000,
                                   random_state=self.seed)
                if self.base_model is None else self.base_model)
        return clone(base)

    def fit(self, context: np.ndarray, action: np.ndarray, reward: np.ndarray,
            position: np.ndarray | None = None) -> RewardModel:
        """Fit one model per position on all given rounds."""
        self._check()
        position = np.zeros_like(action) if position is None or self.len_list == 1 else position
        self.models_ = []
        for k in range(self.len_list):
            idx = position == k
            if not idx.any():
                raise DataError(f"no logged rounds at position {k}; a reward model needs "
                                "training data at every position")
            y = reward[idx]
            model = self._base()
            if hasattr(model, "predict_proba") and np.unique(y).size < 2:
                raise DataError(f"all rewards at position {k} are {y[0]}; a classifier needs "
                                "both outcomes (use a regressor or more data)")
            model.fit(self._features(context[idx], action[idx]), y)
            self.models_.append(model)
        return self

    def predict(self, context: np.ndarray) -> np.ndarray:
        """``q_hat`` of shape ``(n_rounds, n_actions, len_list)`` for every action/position."""
        from sklearn.base import is_classifier

        n = context.shape[0]
        q = np.zeros((n, self.n_actions, self.len_list))
        for a in range(self.n_actions):
            x = self._features(context, np.full(n, a, dtype=int))
            for k, model in enumerate(self.models_):
                q[:, a, k] = (model.predict_proba(x)[:, 1] if is_classifier(model)
                              else model.predict(x))
        return q

    def fit_predict(self, log: Any = None, *, context: np.ndarray | None = None,
                    action: np.ndarray | None = None, reward: np.ndarray | None = None,
                    position: np.ndarray | None = None) -> np.ndarray:
        """Cross-fitted ``q_hat`` for the rounds of a :class:`~recforge.data.BanditLog`
        (or the given arrays)."""
        from sklearn.model_selection import KFold

        if log is not None:
            context, action, reward, position = log.context, log.action, log.reward, log.position
            if self.action_context is None and log.action_context is not None:
                self.action_context = log.action_context
        if context is None or action is None or reward is None:
            raise ConfigError("fit_predict needs a BanditLog or context, action and reward")
        self._check()
        position = np.zeros_like(action) if position is None else position
        if self.n_folds == 1:
            return self.fit(context, action, reward, position).predict(context)
        n = context.shape[0]
        if n < self.n_folds:
            raise DataError(f"{n} rounds cannot be split into {self.n_folds} folds")
        q = np.zeros((n, self.n_actions, self.len_list))
        kf = KFold(n_splits=self.n_folds, shuffle=True, random_state=self.seed)
        for train, test in kf.split(context):
            self.fit(context[train], action[train], reward[train], position[train])
            q[test] = self.predict(context[test])
        return q
