"""Multi-fidelity: stop weak configurations early, using Optuna's pruners.

Two kinds of fidelity share one "step" axis that Optuna's pruners understand:

* ``"epochs"`` — iterative models report the validation metric after every epoch through
  :data:`recforge.models.base.EpochCallback`; ``step`` is the epoch number.
* ``"data"`` — closed-form models are fitted on a user subsample at the low rung and
  evaluated on the same users' validation items, reported at step 1 (:data:`DATA_RUNGS`: a
  quarter of the users); only the trials promoted there are fitted on all the users.

The default pruner is Optuna's asynchronous :class:`~optuna.pruners.SuccessiveHalvingPruner`
(ASHA: ``min_resource=1``, ``reduction_factor=3``) wrapped in :class:`FamilyPruner`, which
compares a trial only with trials of its own model family: an epoch-1 LightGCN and a
quarter-of-the-users EASE are not the same kind of measurement, so they should not compete at a rung.
``"hyperband"`` (Optuna's :class:`~optuna.pruners.HyperbandPruner`, brackets across
families) and ``"none"`` are available too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recforge.errors import ConfigError

if TYPE_CHECKING:
    import optuna

#: ``(step, fraction of users)`` of the data-fraction rungs below full data. One low rung:
#: the cost of a closed-form fit falls with the number of users more slowly than linearly
#: (EASE's inverse does not shrink at all), so deeper ladders cost more than they save.
DATA_RUNGS: tuple[tuple[int, float], ...] = ((1, 0.25),)
PRUNERS = ("asha", "hyperband", "none")


class _FamilyView:
    """A read-only view of a study that lists only the trials of one model family."""

    def __init__(self, study: optuna.Study, family: Any) -> None:
        self._study = study
        self._family = family

    def get_trials(self, deepcopy: bool = True, states: Any = None) -> list[Any]:
        trials = self._study.get_trials(deepcopy=deepcopy, states=states)
        return [t for t in trials if t.params.get("model") == self._family]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)


def _family_pruner_class() -> type:
    import optuna

    class FamilyPruner(optuna.pruners.BasePruner):
        """Apply ``inner`` to each trial against the trials of its own family only."""

        def __init__(self, inner: optuna.pruners.BasePruner) -> None:
            self.inner = inner

        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            view = _FamilyView(study, trial.params.get("model"))
            return bool(self.inner.prune(view, trial))  # type: ignore[arg-type]

    return FamilyPruner


def build_pruner(name: str = "asha", *, reduction_factor: int = 3, max_resource: int = 30) -> Any:
    """The pruner named ``name`` (``asha`` | ``hyperband`` | ``none``).

    Rebuildable from its name on another machine (a Ray worker loads the study from shared
    storage and needs the same pruner to answer ``should_prune``).
    """
    import optuna

    if name == "asha":
        inner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=reduction_factor)
        return _family_pruner_class()(inner)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_resource,
                                              reduction_factor=reduction_factor)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"pruner must be one of {list(PRUNERS)}, got {name!r}")


def subsample_users(users: Any, fraction: float, seed: int) -> Any:
    """A seeded subset of ``users`` (at least one), the same for every trial of a search."""
    import numpy as np

    users = np.asarray(users)
    n = max(1, int(round(users.size * fraction)))
    rng = np.random.default_rng([seed, 0xDA7A])
    return np.sort(rng.choice(users, size=min(n, users.size), replace=False))


def is_rung_step(step: int, reduction_factor: int = 3) -> bool:
    """True when the pruners (``min_resource=1``) decide at ``step``: a power of the factor.

    Values of the other epochs are kept with the trial but not sent to the study, which saves
    a storage round trip per epoch.
    """
    if step < 1:
        return False
    while step % reduction_factor == 0:
        step //= reduction_factor
    return step == 1
