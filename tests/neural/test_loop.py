"""The shared training loop: early stopping, callback stop, best-weight restore, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from recforge.models.base import EpochReport  # noqa: E402
from recforge.models.neural.loop import (  # noqa: E402
    NeuralConfig,
    TimedStep,
    TrainingLoop,
    load_checkpoint,
    save_checkpoint,
)


class ScriptedLoop(TrainingLoop):
    """A loop whose validation metric follows a script (no model needed)."""

    def __init__(self, metrics: list[float], **kw) -> None:  # type: ignore[no-untyped-def]
        self.script = list(metrics)
        super().__init__(model=None, **kw)  # type: ignore[arg-type]

    def _validation_users(self):  # type: ignore[no-untyped-def]
        return np.arange(1)

    def evaluate(self, users) -> float:  # type: ignore[no-untyped-def]
        return self.script.pop(0)


def _epoch_writer(module):  # type: ignore[no-untyped-def]
    """train_epoch that stamps the epoch number into the weights (to see what is restored)."""

    def run(epoch: int) -> float:
        with torch.no_grad():
            module.weight.fill_(float(epoch))
        return 1.0 / epoch

    return run


def test_early_stopping_restores_best_epoch() -> None:
    module = torch.nn.Linear(3, 2)
    loop = ScriptedLoop([0.1, 0.3, 0.2, 0.25, 0.9], module=module, epochs=10, patience=2, valid=object())
    res = loop.run(_epoch_writer(module))
    # epoch 2 is best; epochs 3 and 4 do not improve -> stop after epoch 4
    assert res.epochs_run == 4 and res.stopped_by == "early_stopping"
    assert res.best_epoch == 2 and res.best_metric == pytest.approx(0.3)
    assert res.restored_best
    assert torch.all(module.weight == 2.0)
    assert [r.metric for r in res.history] == [0.1, 0.3, 0.2, 0.25]


def test_callback_true_stops_and_receives_reports() -> None:
    module = torch.nn.Linear(3, 2)
    seen: list[EpochReport] = []

    def cb(report: EpochReport) -> bool:
        seen.append(report)
        return report.epoch == 3

    loop = ScriptedLoop([0.1, 0.2, 0.3, 0.4], module=module, epochs=10, patience=0,
                        valid=object(), callback=cb, metric="recall@20")
    res = loop.run(_epoch_writer(module))
    assert res.stopped_by == "callback" and res.epochs_run == 3
    assert [r.epoch for r in seen] == [1, 2, 3]
    assert seen[0].metric_name == "recall@20" and seen[1].loss == pytest.approx(0.5)
    assert all(b.elapsed >= a.elapsed for a, b in zip(seen, seen[1:], strict=False))
    assert not res.restored_best and torch.all(module.weight == 3.0)  # last epoch was best


def test_without_validation_runs_all_epochs_and_reports_no_metric() -> None:
    module = torch.nn.Linear(3, 2)
    loop = TrainingLoop(None, module, epochs=4, patience=2)  # type: ignore[arg-type]
    res = loop.run(_epoch_writer(module))
    assert res.epochs_run == 4 and res.stopped_by == "epochs" and res.best_epoch is None
    assert all(r.metric is None for r in res.history)


def test_eval_every_skips_epochs() -> None:
    module = torch.nn.Linear(3, 2)
    loop = ScriptedLoop([0.1, 0.2, 0.3], module=module, epochs=5, eval_every=2, valid=object())
    res = loop.run(_epoch_writer(module))
    assert [r.metric for r in res.history] == [None, 0.1, None, 0.2, 0.3]  # last always evaluated


def test_non_finite_loss_is_an_error() -> None:
    module = torch.nn.Linear(3, 2)
    loop = TrainingLoop(None, module, epochs=3)  # type: ignore[arg-type]
    with pytest.raises(FloatingPointError, match="lower lr"):
        loop.run(lambda epoch: float("nan"))


def test_checkpoint_round_trip_is_safetensors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from safetensors.torch import load_file

    a, b = torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    path = save_checkpoint(a, tmp_path / "ck.safetensors")
    assert set(load_file(str(path))) == {"weight", "bias"}  # readable without pickle
    load_checkpoint(b, path)
    assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
    assert not (tmp_path / "ck.safetensors.tmp").exists()


def test_checkpoint_dir_keeps_best(tmp_path) -> None:  # type: ignore[no-untyped-def]
    module = torch.nn.Linear(3, 2)
    loop = ScriptedLoop([0.5, 0.1], module=module, epochs=2, valid=object(), checkpoint_dir=tmp_path)
    loop.run(_epoch_writer(module))
    other = torch.nn.Linear(3, 2)
    load_checkpoint(other, tmp_path / "best.safetensors")
    assert torch.all(other.weight == 1.0)


def test_timed_step_reports_compile_cost_only_when_compiled() -> None:
    calls = []
    step = TimedStep(lambda x: calls.append(x) or x, compile=False)
    for i in range(3):
        step(i)
    assert calls == [0, 1, 2] and step.first_seconds is not None
    assert step.compile_seconds is None


def test_neural_config_rejects_bad_metric() -> None:
    from recforge.errors import ConfigError

    with pytest.raises(ConfigError, match="eval_metric"):
        NeuralConfig(eval_metric="coverage@10")
    with pytest.raises(ConfigError, match="metric"):
        NeuralConfig(eval_metric="bogus")
    assert NeuralConfig(eval_metric="recall@20").eval_metric == "recall@20"
