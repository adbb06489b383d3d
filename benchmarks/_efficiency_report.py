"""Per-budget summary of ``benchmarks/search_efficiency.py`` results (``--report``).

Kept free of recforge imports and side effects so that the arithmetic is unit-tested
(``tests/search/test_efficiency_report.py``) on hand-computed curves.
"""

from __future__ import annotations

import math


def time_to(curve: list[list[float]], target: float) -> float | None:
    """First time at which an anytime curve (sorted ``[seconds, best so far]``) reaches ``target``."""
    for t, v in curve:
        if v >= target:
            return t
    return None


# ------------------------------------------------------------------------------------------
# Per-budget summary. Each budget is read off the curves of the longest run (see the module
# docstring), and for each budget the 98 % mark is recomputed from what the methods had found
# *by that budget*, so that a 1-minute row is what a 1-minute comparison would have shown.
# ------------------------------------------------------------------------------------------
ENGINE_METHODS = ("recforge", "recforge-cold", "random", "tpe")


def merge_rows(files: list[dict]) -> list[dict]:
    """Rows of several ``--json-out`` files, methods of the same (dataset, seed) merged."""
    merged: dict[tuple[str, int], dict] = {}
    for data in files:
        for row in data["results"]:
            key = (row["dataset"], int(row["seed"]))
            into = merged.setdefault(key, {"dataset": row["dataset"], "seed": int(row["seed"]), "methods": {}})
            into["methods"].update(row["methods"])
    return list(merged.values())


def _gmean(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values))


def _best_at(curve: list[list[float]], budget: float) -> float | None:
    vals = [v for t, v in curve if t <= budget]
    return max(vals) if vals else None


def summarise(rows: list[dict], reference: str = "recforge") -> dict:
    """Per budget: every run's mark and times to it, and the speed-ups of ``reference``.

    The mark at budget ``b`` is 98 % of the best validation value that any recforge-engine
    method (``ENGINE_METHODS``; peers are scored by their own code) had reached within ``b``.
    A method that did not reach it within ``b`` counts as ``b`` in the speed-up, so a ratio
    over such a method is a lower bound. Test values are those of each method's choice at ``b``
    (``per_budget``); a budget is summarised only for the runs whose methods all have it.
    """
    budgets = sorted({float(b) for row in rows for m in row["methods"].values() for b in m["per_budget"]})
    out: dict = {"budgets": budgets, "per_budget": {}}
    for b in budgets:
        runs, ratios, test_diff = [], {}, {}
        by_dataset: dict[str, dict[str, list[float]]] = {}
        for row in rows:
            methods = {m: r for m, r in row["methods"].items() if str(int(b)) in r["per_budget"]}
            engine = [m for m in methods if m in ENGINE_METHODS]
            if reference not in methods or len(methods) < 2:
                continue
            best = [v for m in engine if (v := _best_at(methods[m]["curve"], b)) is not None]
            if not best:
                continue
            mark = 0.98 * max(best)
            times = {m: time_to([p for p in r["curve"] if p[0] <= b], mark) for m, r in methods.items()}
            tests = {m: (r["per_budget"][str(int(b))] or {}).get("test") for m, r in methods.items()}
            families = {m: (r["per_budget"][str(int(b))] or {}).get("family") for m, r in methods.items()}
            runs.append({"dataset": row["dataset"], "seed": row["seed"], "mark": mark, "times": times,
                         "tests": tests, "families": families})
            t_ref = times[reference]
            for m in methods:
                if m == reference:
                    continue
                if t_ref is not None:
                    other = times[m] if times[m] is not None else b
                    ratios.setdefault(m, []).append(other / max(t_ref, 1e-9))
                    by_dataset.setdefault(row["dataset"], {}).setdefault(m, []).append(ratios[m][-1])
                if tests[reference] is not None and tests[m] is not None:
                    test_diff.setdefault(m, []).append(tests[reference] - tests[m])
        out["per_budget"][b] = {
            "runs": runs,
            "speedup_geomean": {m: _gmean(v) for m, v in ratios.items()},
            "speedups": ratios,
            "speedup_geomean_by_dataset": {d: {m: _gmean(v) for m, v in per.items()} for d, per in by_dataset.items()},
            "reference_reached": sum(r["times"][reference] is not None for r in runs),
            "test_diff": {m: {"min": min(v), "mean": sum(v) / len(v)} for m, v in test_diff.items()},
        }
    return out


def print_report(summary: dict, reference: str = "recforge") -> None:
    for b in summary["budgets"]:
        s = summary["per_budget"][b]
        if not s["runs"]:
            continue
        methods = list(dict.fromkeys(m for r in s["runs"] for m in r["times"]))
        label = f"{b / 60:g} min" if b % 60 == 0 else f"{b:g} s"
        print(f"\n== budget {label}: time to 98 % of the best validation value found by then "
              f"(s; '-' = not reached) and test value of the choice ==")
        print(f"  {'dataset':<16} {'seed':>4} {'mark':>7}  " + "  ".join(f"{m:>17}" for m in methods))
        for r in s["runs"]:
            cells = []
            for m in methods:
                t, te = r["times"].get(m), r["tests"].get(m)
                cell = ("-" if t is None else f"{t:.1f}") + " / " + ("-" if te is None else f"{te:.4f}")
                cells.append(f"{cell:>17}" if m in r["times"] else f"{'':>17}")
            print(f"  {r['dataset']:<16} {r['seed']:>4} {r['mark']:.4f}  " + "  ".join(cells))
        print(f"  {reference} reached the mark in {s['reference_reached']} of {len(s['runs'])} runs")
        for m, g in s["speedup_geomean"].items():
            td = s["test_diff"].get(m)
            tds = "" if td is None else f"; test {reference} - {m}: min {td['min']:+.4f}, mean {td['mean']:+.4f}"
            print(f"  speed-up over {m:<14} x{g:6.2f} (geometric mean of {len(s['speedups'][m])}; "
                  f"per run {', '.join(f'{x:.2f}' for x in s['speedups'][m])}){tds}")
        for d, per in s["speedup_geomean_by_dataset"].items():
            print(f"    {d}: " + ", ".join(f"x{g:.2f} over {m}" for m, g in per.items()))
