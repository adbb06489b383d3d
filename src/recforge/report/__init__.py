"""HTML run reports (plotly figures, one self-contained file).

``build_report(run_dir)`` reads what a search run wrote (``summary.json``, ``trials.json``
and, when present, ``final.json`` from :func:`recforge.report.collect.final_stats`) and writes
``report.html``: best-so-far against time, every trial by family, the Pareto front of quality
against latency, the leaderboard, final test metrics with the per-user distribution, the
popularity bias of the recommendations and the dataset summary.
"""

from recforge.report.html import build_report

__all__ = ["build_report"]
