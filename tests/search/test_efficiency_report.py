"""The per-budget summary of the search-efficiency benchmark, on hand-computed curves."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "_efficiency_report.py"


@pytest.fixture(scope="module")
def report():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("_efficiency_report", _PATH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_efficiency_report"] = mod
    spec.loader.exec_module(mod)
    return mod


def _method(curve, tests):  # type: ignore[no-untyped-def]
    return {"curve": curve, "per_budget": {b: (None if t is None else {"family": "ease", "test": t})
                                           for b, t in tests.items()}}


def _rows():  # type: ignore[no-untyped-def]
    # run A: by 60 s the best is 0.20 (random at 50 s) -> mark 0.196; recforge has 0.197 at 10 s.
    #        by 120 s the best is 0.30 (recforge at 100 s) -> mark 0.294; random never gets there.
    a = {"dataset": "d1", "seed": 0, "methods": {
        "recforge": _method([[10.0, 0.197], [100.0, 0.30]], {"60": 0.5, "120": 0.6}),
        "random": _method([[5.0, 0.10], [50.0, 0.20]], {"60": 0.55, "120": 0.55}),
    }}
    # run B: best by 60 s is 0.40 (recforge at 4 s) -> mark 0.392; random reaches 0.395 at 40 s.
    b = {"dataset": "d2", "seed": 1, "methods": {
        "recforge": _method([[4.0, 0.40]], {"60": 0.7, "120": 0.7}),
        "random": _method([[40.0, 0.395]], {"60": 0.69, "120": 0.69}),
    }}
    return [a, b]


def test_marks_times_and_speedups_per_budget(report) -> None:  # type: ignore[no-untyped-def]
    s = report.summarise(_rows())
    assert s["budgets"] == [60.0, 120.0]
    b60 = s["per_budget"][60.0]
    assert [r["mark"] for r in b60["runs"]] == pytest.approx([0.196, 0.392])
    assert [r["times"]["recforge"] for r in b60["runs"]] == [10.0, 4.0]
    assert [r["times"]["random"] for r in b60["runs"]] == [50.0, 40.0]
    assert b60["speedups"]["random"] == pytest.approx([5.0, 10.0])
    assert b60["speedup_geomean"]["random"] == pytest.approx(math.sqrt(50.0))
    assert b60["test_diff"]["random"]["min"] == pytest.approx(-0.05)
    assert b60["test_diff"]["random"]["mean"] == pytest.approx((-0.05 + 0.01) / 2)
    b120 = s["per_budget"][120.0]
    # run A: the mark moved to 0.294; random never reached it, so it counts as the 120 s budget.
    assert b120["runs"][0]["mark"] == pytest.approx(0.294)
    assert b120["runs"][0]["times"] == {"recforge": 100.0, "random": None}
    assert b120["speedups"]["random"] == pytest.approx([1.2, 10.0])
    assert b120["speedup_geomean_by_dataset"] == {"d1": {"random": pytest.approx(1.2)},
                                                 "d2": {"random": pytest.approx(10.0)}}
    assert b120["reference_reached"] == 2


def test_points_after_the_budget_do_not_count(report) -> None:  # type: ignore[no-untyped-def]
    rows = _rows()
    # recforge's only point in run B now lies after 60 s: at 60 s only random has a value.
    rows[1]["methods"]["recforge"]["curve"] = [[70.0, 0.40]]
    b60 = report.summarise(rows)["per_budget"][60.0]
    assert b60["runs"][1]["mark"] == pytest.approx(0.98 * 0.395)
    assert b60["runs"][1]["times"]["recforge"] is None
    assert b60["reference_reached"] == 1
    assert b60["speedups"]["random"] == pytest.approx([5.0])  # no ratio where recforge never reached it


def test_merge_rows_joins_methods_of_the_same_run(report) -> None:  # type: ignore[no-untyped-def]
    rows = _rows()
    peer = {"dataset": "d1", "seed": 0, "methods": {"recbole-bpr": _method([[30.0, 0.15]], {"60": 0.4})}}
    merged = report.merge_rows([{"results": rows}, {"results": [peer]}])
    assert len(merged) == 2
    assert set(merged[0]["methods"]) == {"recforge", "random", "recbole-bpr"}
    s = report.summarise(merged)
    run = s["per_budget"][60.0]["runs"][0]
    # the peer does not move the mark (it is scored by its own code) but is timed against it
    assert run["mark"] == pytest.approx(0.196)
    assert run["times"]["recbole-bpr"] is None
    assert s["per_budget"][60.0]["speedups"]["recbole-bpr"] == pytest.approx([6.0])
    # the peer has no 120 s entry, so it is absent from that budget's run
    assert "recbole-bpr" not in s["per_budget"][120.0]["runs"][0]["times"]
