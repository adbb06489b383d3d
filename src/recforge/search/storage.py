"""Study storage for searches whose trials all run in this process: memory first, database behind.

Optuna's ``RDBStorage`` answers every read with a database round trip: a TPE ``suggest`` reads
all trials (SQLAlchemy builds a ``FrozenTrial`` per row), each parameter, report and attribute
is its own transaction. Measured with ``python benchmarks/search_efficiency.py --overhead`` on
this machine (quiet): 61 ms of engine overhead per trial on SQLite vs 10 ms in memory, above
the 50 ms the search is allowed.

:class:`WriteThroughStorage` keeps an ``InMemoryStorage`` as the copy every read comes from
and writes what must survive a SIGKILL to the ``RDBStorage``, in fewer transactions:

* a new trial reaches the database in one transaction once its parameters are chosen
  (:meth:`persist_trial`, called by the engine before the trial runs) -- so a search killed
  mid-trial finds it RUNNING, with its parameters, and retries it on ``--resume``;
* intermediate values and attributes of a running trial are written when it finishes, just
  before its final state (the pruner reads them from memory meanwhile);
* enqueued trials, study attributes and final states are written at once.

Only valid while this process is the study's one writer: the local executor. Remote workers
(Ray) report to the database themselves, so the engine gives them the plain ``RDBStorage``.
Loading an existing study (``--resume``) copies it from the database into memory once.
Written by hand because Optuna has no write-behind storage (its ``_CachedStorage`` still reads
unfinished trials back from the database on every ``get_all_trials``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Container, Sequence
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.storages import BaseStorage, InMemoryStorage
from optuna.study._frozen import FrozenStudy
from optuna.study._study_direction import StudyDirection
from optuna.trial import FrozenTrial, TrialState


class WriteThroughStorage(BaseStorage):
    """Reads from memory; persists to ``backend`` (an ``RDBStorage``) as described above."""

    def __init__(self, backend: BaseStorage) -> None:
        self.backend = backend
        self.mem = InMemoryStorage()
        self._lock = threading.RLock()
        self._study: dict[int, int] = {}  # memory study id -> database study id
        self._trial: dict[int, int] = {}  # memory trial id -> database trial id (once persisted)
        self._trial_study: dict[int, int] = {}  # memory trial id -> memory study id
        self._deferred: dict[int, list[Callable[[int], None]]] = {}  # writes waiting for a trial's end

    # ------------------------------------------------------------------ studies
    def _mirror(self, name: str) -> int:
        """The memory id of study ``name``, copying it from the database the first time."""
        with self._lock:
            try:
                return self.mem.get_study_id_from_name(name)
            except KeyError:
                pass
            rsid = self.backend.get_study_id_from_name(name)  # KeyError when there is none
            msid = self.mem.create_new_study(self.backend.get_study_directions(rsid), name)
            for key, value in self.backend.get_study_user_attrs(rsid).items():
                self.mem.set_study_user_attr(msid, key, value)
            for key, value in self.backend.get_study_system_attrs(rsid).items():
                self.mem.set_study_system_attr(msid, key, value)
            for t in sorted(self.backend.get_all_trials(rsid, deepcopy=False), key=lambda t: t.number):
                mid = self.mem.create_new_trial(msid, template_trial=t)
                self._trial[mid] = t._trial_id
                self._trial_study[mid] = msid
            self._study[msid] = rsid
            return msid

    def create_new_study(self, directions: Sequence[StudyDirection], study_name: str | None = None) -> int:
        with self._lock:
            rsid = self.backend.create_new_study(directions, study_name)
            name = self.backend.get_study_name_from_id(rsid)
            msid = self.mem.create_new_study(directions, name)
            self._study[msid] = rsid
            return msid

    def delete_study(self, study_id: int) -> None:
        with self._lock:
            self.backend.delete_study(self._study.pop(study_id))
            self.mem.delete_study(study_id)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self.mem.set_study_user_attr(study_id, key, value)
        self.backend.set_study_user_attr(self._study[study_id], key, value)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self.mem.set_study_system_attr(study_id, key, value)
        self.backend.set_study_system_attr(self._study[study_id], key, value)

    def get_study_id_from_name(self, study_name: str) -> int:
        return self._mirror(study_name)

    def get_study_name_from_id(self, study_id: int) -> str:
        return self.mem.get_study_name_from_id(study_id)

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return self.mem.get_study_directions(study_id)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return self.mem.get_study_user_attrs(study_id)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return self.mem.get_study_system_attrs(study_id)

    def get_all_studies(self) -> list[FrozenStudy]:
        for s in self.backend.get_all_studies():
            self._mirror(s.study_name)
        return self.mem.get_all_studies()

    # ------------------------------------------------------------------ trials
    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        with self._lock:
            mid = self.mem.create_new_trial(study_id, template_trial)
            self._trial_study[mid] = study_id
            if template_trial is not None:  # enqueued or copied: persist now
                self._persist(mid)
            return mid

    def persist_trial(self, trial_id: int) -> None:
        """Write a new trial (state, parameters, attributes so far) in one transaction."""
        with self._lock:
            if trial_id not in self._trial:
                self._persist(trial_id)

    def _persist(self, mid: int) -> None:
        frozen = self.mem.get_trial(mid)
        rsid = self._study[self._trial_study[mid]]
        # the database numbers a new trial by its count of the study's trials: the same number
        # as in memory because trials are persisted in the order they were made (the engine
        # persists each one right after choosing its parameters, in its one driver thread)
        self._trial[mid] = self.backend.create_new_trial(rsid, template_trial=frozen)

    def _write(self, mid: int, op: Callable[[int], None], *, defer: bool) -> None:
        """Apply ``op`` (a write taking the database trial id) now, later, or never (not persisted:
        the one-transaction persist carries everything)."""
        with self._lock:
            if mid not in self._trial:
                return
            if defer:
                self._deferred.setdefault(mid, []).append(op)
            else:
                op(self._trial[mid])

    def set_trial_param(self, trial_id: int, param_name: str, param_value_internal: float,
                        distribution: BaseDistribution) -> None:
        self.mem.set_trial_param(trial_id, param_name, param_value_internal, distribution)
        self._write(trial_id, lambda rid: self.backend.set_trial_param(
            rid, param_name, param_value_internal, distribution), defer=False)

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        self.mem.set_trial_intermediate_value(trial_id, step, intermediate_value)
        self._write(trial_id, lambda rid: self.backend.set_trial_intermediate_value(
            rid, step, intermediate_value), defer=True)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self.mem.set_trial_user_attr(trial_id, key, value)
        finished = self.mem.get_trial(trial_id).state.is_finished()
        self._write(trial_id, lambda rid: self.backend.set_trial_user_attr(rid, key, value), defer=not finished)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self.mem.set_trial_system_attr(trial_id, key, value)
        finished = self.mem.get_trial(trial_id).state.is_finished()
        self._write(trial_id, lambda rid: self.backend.set_trial_system_attr(rid, key, value), defer=not finished)

    def set_trial_state_values(self, trial_id: int, state: TrialState,
                               values: Sequence[float] | None = None) -> bool:
        with self._lock:
            if not self.mem.set_trial_state_values(trial_id, state, values):
                return False
            if trial_id not in self._trial:
                self._persist(trial_id)  # never persisted: one transaction with the final state
                return True
            for op in self._deferred.pop(trial_id, []):
                op(self._trial[trial_id])
            self.backend.set_trial_state_values(self._trial[trial_id], state, values)
            return True

    def get_trial(self, trial_id: int) -> FrozenTrial:
        return self.mem.get_trial(trial_id)

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container[TrialState] | None = None) -> list[FrozenTrial]:
        return self.mem.get_all_trials(study_id, deepcopy=deepcopy, states=states)

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return self.mem.get_trial_id_from_study_id_trial_number(study_id, trial_number)

    def get_n_trials(self, study_id: int, state: tuple[TrialState, ...] | TrialState | None = None) -> int:
        return self.mem.get_n_trials(study_id, state)

    def remove_session(self) -> None:
        self.backend.remove_session()
