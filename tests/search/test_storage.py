"""WriteThroughStorage: what reaches the database equals what the search saw in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from optuna.trial import TrialState  # noqa: E402

from recforge.search.engine import _open_storage  # noqa: E402
from recforge.search.storage import WriteThroughStorage  # noqa: E402


def _snapshot(trials):  # type: ignore[no-untyped-def]
    return [(t.number, t.state, dict(t.params), t.values, dict(t.intermediate_values), dict(t.user_attrs))
            for t in sorted(trials, key=lambda t: t.number)]


def _drive(study, n: int = 12) -> None:  # type: ignore[no-untyped-def]
    storage = study._storage
    study.enqueue_trial({"x": 0.5, "family": "b"}, user_attrs={"source": "portfolio"})
    for i in range(n):
        trial = study.ask()
        fam = trial.suggest_categorical("family", ["a", "b"])
        x = trial.suggest_float("x", 0.0, 1.0)
        storage.persist_trial(trial._trial_id)
        # running, persisted with its parameters; nothing reported yet
        for step in range(3):
            trial.report(x * (step + 1), step)
        trial.set_user_attr("rf", {"i": i, "family": fam})
        if i % 5 == 3:
            study.tell(trial, state=TrialState.FAIL)
        elif i % 5 == 4:
            study.tell(trial, state=TrialState.PRUNED)
        else:
            study.tell(trial, x)


def test_database_holds_exactly_what_memory_saw(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    wt = _open_storage(url, write_through=True)
    assert isinstance(wt, WriteThroughStorage)
    study = optuna.create_study(study_name="s", storage=wt, direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=3))
    study.set_user_attr("settings", {"k": 1})
    _drive(study)
    on_disk = optuna.load_study(study_name="s", storage=url)
    assert _snapshot(on_disk.get_trials()) == _snapshot(study.get_trials())
    assert len(on_disk.trials) == 12 and on_disk.user_attrs == {"settings": {"k": 1}}
    assert {t.state for t in on_disk.trials} == {TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED}
    assert on_disk.trials[0].user_attrs["source"] == "portfolio"  # the enqueued one ran first


def test_running_trial_is_on_disk_with_its_parameters_and_reports_follow_at_the_end(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=_open_storage(url, write_through=True))
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    assert optuna.load_study(study_name="s", storage=url).trials == []  # not persisted yet
    study._storage.persist_trial(trial._trial_id)
    trial.report(0.25, 0)
    (row,) = optuna.load_study(study_name="s", storage=url).trials
    assert row.state == TrialState.RUNNING and row.params == trial.params
    assert row.intermediate_values == {}  # written when the trial finishes
    study.tell(trial, 0.5)
    (row,) = optuna.load_study(study_name="s", storage=url).trials
    assert row.state == TrialState.COMPLETE and row.value == 0.5 and row.intermediate_values == {0: 0.25}


def test_reopening_copies_the_study_from_disk(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=_open_storage(url, write_through=True),
                                direction="maximize")
    _drive(study, n=6)
    again = optuna.load_study(study_name="s", storage=_open_storage(url, write_through=True))
    assert _snapshot(again.get_trials()) == _snapshot(study.get_trials())
    # and it goes on numbering where the first session stopped, in step with the database
    _drive(again, n=3)
    assert [t.number for t in optuna.load_study(study_name="s", storage=url).trials] == list(range(9))
    assert "s" in [s.study_name for s in optuna.study.get_all_study_summaries(_open_storage(url, write_through=True))]
