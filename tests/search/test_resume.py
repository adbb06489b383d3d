"""A search killed with SIGKILL mid-trial resumes with nothing lost and nothing run twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {here!r})
    from conftest import make_split
    import recforge as rf
    from recforge import registry
    from recforge.search import FamilySpace, Float
    registry._TOPK["oracle"] = "search_models:Oracle"
    split = make_split()
    space = {{"oracle": FamilySpace("oracle", {{"quality": Float(0.0, 1.0)}},
             fixed={{"epochs": 4, "fit_sleep": 0.4, "marker": {marker!r}}},
             fidelity="epochs", epochs_field="epochs")}}
    res = rf.search(split.train, split.valid, split.test, budget="120s", models=["oracle"],
                    spaces=space, out={out!r}, resume={resume}, max_trials=8, pruner="none",
                    warm_start=False, seed=0)
    print("DONE", len(res.trials))
""")


def _study(out: Path):  # type: ignore[no-untyped-def]
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name="recforge", storage=f"sqlite:///{out / 'study.db'}")


def _script(tmp_path: Path, resume: bool) -> str:
    return SCRIPT.format(here=str(HERE), marker=str(tmp_path / "fits.log"), out=str(tmp_path / "run"),
                         resume=resume)


@pytest.mark.slow
def test_sigkill_mid_trial_then_resume(tmp_path: Path) -> None:
    from optuna.trial import TrialState

    env = {**os.environ, "RECFORGE_QUIET": "1", "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, "-c", _script(tmp_path, False)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    marker = tmp_path / "fits.log"
    db = tmp_path / "run" / "study.db"
    deadline = time.time() + 120
    killed = False
    try:
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if not db.exists() or not marker.exists():
                continue
            study = _study(tmp_path / "run")
            n_complete = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
            n_fits = len(marker.read_text().splitlines())
            # >= 3 trials completed and the next one has started fitting (each fit takes
            # about 1.6 s): kill it mid-trial
            if n_complete >= 3 and n_fits == n_complete + 1:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
    finally:
        if proc.poll() is None and not killed:
            proc.kill()
        proc.wait(30)
    assert killed, f"the search ended before it could be killed: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
    assert proc.returncode == -signal.SIGKILL

    before = _study(tmp_path / "run").get_trials(deepcopy=True)
    completed = {t.number: (dict(t.params), t.value) for t in before if t.state == TrialState.COMPLETE}
    running = [t.number for t in before if t.state == TrialState.RUNNING]
    assert len(completed) >= 3
    assert len(running) == 1, [t.state for t in before]
    interrupted = running[0]

    out = subprocess.run([sys.executable, "-c", _script(tmp_path, True)], env=env,
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]

    after = _study(tmp_path / "run").get_trials(deepcopy=True)
    by_number = {t.number: t for t in after}
    # no completed trial lost or changed
    for n, (params, value) in completed.items():
        assert by_number[n].state == TrialState.COMPLETE
        assert dict(by_number[n].params) == params and by_number[n].value == value
    # the interrupted one is marked failed with the reason, then retried exactly once
    bad = by_number[interrupted]
    assert bad.state == TrialState.FAIL
    assert "interrupted" in bad.user_attrs["rf"]["error"]
    retries = [t for t in after if t.user_attrs.get("retry_of") == interrupted]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert dict(retries[0].params) == dict(bad.params)
    # nothing duplicated: each completed configuration appears once among complete trials
    complete_params = [tuple(sorted(t.params.items())) for t in after if t.state == TrialState.COMPLETE]
    assert len(complete_params) == len(set(complete_params))
    assert not [t for t in after if t.state == TrialState.RUNNING]
    assert len(after) == 8  # max_trials counts every trial of the study, both sessions
    assert (tmp_path / "run" / "summary.json").exists()
    assert (tmp_path / "run" / "best-model" / "manifest.json").exists()
