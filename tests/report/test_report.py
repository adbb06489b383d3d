"""The HTML report: built from a run directory, self-contained, every plot renders."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from recforge.errors import DataError
from recforge.report import build_report
from recforge.report.collect import final_stats

N_PLOTS = 5  # best-so-far, trials by family, pareto, per-user histogram, popularity bias


def _run_dir(tmp_path: Path, small_data) -> Path:  # type: ignore[no-untyped-def]
    from recforge import split
    from recforge.models.baselines import MostPopular

    train, valid, test = split.leave_last_out(small_data, n=1)
    model = MostPopular().fit(train.concat(valid))
    run = tmp_path / "run"
    run.mkdir()
    trials = []
    for i in range(6):
        trials.append({
            "number": i, "family": "ease" if i % 2 else "most-popular", "params": {"l2": 10.0 * i},
            "value": 0.1 + 0.01 * i, "state": "pruned" if i == 3 else "complete",
            "start": 100.0 + i, "end": 100.5 + i, "latency_ms": 0.5 + i, "memory_mb": 1.0,
        })
    trials.append({"number": 6, "family": "ease", "params": {}, "value": None, "state": "waiting",
                   "started": None, "ended": None})
    (run / "trials.json").write_text(json.dumps(trials))
    (run / "summary.json").write_text(json.dumps({
        "data": "synthetic", "split": "leave-last:1", "metric": "ndcg@10", "direction": "maximize",
        "leaderboard": [{"family": "ease", "value": 0.15}, {"family": "most-popular", "value": 0.14}],
    }))
    (run / "final.json").write_text(json.dumps(final_stats(model, train.concat(valid), test)))
    return run


def test_report_has_every_section(tmp_path: Path, small_data) -> None:  # type: ignore[no-untyped-def]
    run = _run_dir(tmp_path, small_data)
    path = build_report(run)
    text = path.read_text()
    assert path == run / "report.html"
    for title in ("Best so far", "Every trial by family", "Pareto front", "Leaderboard",
                  "Final test metrics", "Per-user distribution", "Popularity bias", "Dataset"):
        assert title in text, title
    assert len(re.findall(r'id="rf-plot-\d+"', text)) == N_PLOTS
    # self-contained: plotly.js inlined once, no script loaded from the network
    assert text.count("plotly.js v") >= 1
    assert not re.search(r'<script[^>]+src="https?://', text)
    # 1 pruned, 5 complete in the trial note
    assert "7 trials: 5 complete, 1 pruned" in text
    # x axis is seconds since the first started trial (not epoch seconds)
    xs = [float(x) for x in re.findall(r'"x":\[([0-9.e+-]+)', text)]
    assert xs and max(xs) < 100, xs


def test_popularity_bias_of_most_popular_is_top_decile(small_data) -> None:  # type: ignore[no-untyped-def]
    from recforge import split
    from recforge.models.baselines import MostPopular

    train, _, test = split.leave_last_out(small_data, n=1)
    stats = final_stats(MostPopular().fit(train), train, test, k=2)
    share = np.asarray(stats["popularity_bias"]["recommended_share"])
    assert share.sum() == pytest.approx(1.0)
    assert share[-1] == pytest.approx(1.0)  # 40 items: the top decile holds the 4 most popular


def test_missing_summary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no summary.json"):
        build_report(tmp_path)


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
def test_every_plot_renders_in_headless_chromium(tmp_path: Path, small_data) -> None:  # type: ignore[no-untyped-def]
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (Debian package 'chromium'; .ci/run installs it)")
    run = _run_dir(tmp_path, small_data)
    path = build_report(run)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000"]
    dom = subprocess.run([exe, *flags, "--dump-dom", path.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    # plotly replaces each target div's content with an SVG tree ("main-svg") once it has drawn
    for i in range(N_PLOTS):
        m = re.search(rf'id="rf-plot-{i}"(.*?)(?=id="rf-plot-{i + 1}"|$)', dom, flags=re.S)
        assert m is not None, f"plot {i} missing from DOM"
        assert "main-svg" in m.group(1), f"plot {i} did not render"
    shot = tmp_path / "report.png"
    subprocess.run([exe, *flags, "--window-size=1200,2400", f"--screenshot={shot}", path.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
