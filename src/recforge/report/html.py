"""Self-contained HTML report built with plotly (plotly.js is inlined once)."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

from recforge.errors import ConfigError, DataError


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: unreadable JSON ({exc})") from exc


def _trials(run: Path) -> list[dict[str, Any]]:
    data = _read_json(run / "trials.json")
    if data is None and (run / "trials.jsonl").exists():
        data = [json.loads(line) for line in (run / "trials.jsonl").read_text().splitlines() if line.strip()]
    if isinstance(data, dict):
        data = data.get("trials", [])
    out = []
    for t in data or []:
        t = dict(t)
        inter = t.get("intermediate") or []
        if t.get("value") is None and inter and str(t.get("state", "")).lower().startswith("prun"):
            t["value"] = inter[-1][1]  # a pruned trial is shown at the rung where it stopped
        out.append(t)
    return out


def _time(t: dict[str, Any], key: str) -> float | None:
    """Seconds (epoch) of a trial's start/end: numbers, or ISO strings (``started``/``ended``)."""
    from datetime import datetime

    v = t.get(key)
    if v is None:
        v = t.get({"start": "started", "end": "ended"}[key])
    if isinstance(v, str):
        try:
            return datetime.fromisoformat(v).timestamp()
        except ValueError:
            return None
    return _num(v)


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v == v else None


def _fig_html(fig: Any, first: bool, div_id: str) -> str:
    return str(fig.to_html(full_html=False, include_plotlyjs=first, div_id=div_id,
                           config={"displaylogo": False, "responsive": True}))


def _table(rows: list[dict[str, Any]], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c, "")
            if isinstance(v, float):
                v = f"{v:.4f}"
            elif isinstance(v, dict):
                v = ", ".join(f"{k}={val}" for k, val in v.items())
            cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{margin-bottom:.2rem} h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem} td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:left}
th{background:#f4f4f4} .muted{color:#777} .rf-plot{min-height:380px}
"""


def build_report(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write the HTML report of a run directory and return its path.

    Example:
        >>> build_report("runs/quickstart")   # doctest: +SKIP
    """
    import plotly.graph_objects as go

    run = Path(run_dir)
    if not run.is_dir():
        raise ConfigError(f"{run}: not a run directory")
    summary = _read_json(run / "summary.json")
    if summary is None:
        raise DataError(f"{run}: no summary.json; is this a recforge search or quickstart run directory?")
    trials = _trials(run)
    final = _read_json(run / "final.json") or {}
    metric = summary.get("metric", "metric")
    maximize = summary.get("direction", "maximize") != "minimize"
    sections: list[str] = []
    figs = 0

    def add_fig(title: str, fig: Any, note: str = "") -> None:
        nonlocal figs
        fig.update_layout(template="plotly_white", height=400, margin={"l": 60, "r": 20, "t": 40, "b": 50})
        div = _fig_html(fig, figs == 0, f"rf-plot-{figs}")
        figs += 1
        sections.append(f"<h2>{html.escape(title)}</h2>{note}<div class='rf-plot'>{div}</div>")

    done = [t for t in trials if _num(t.get("value")) is not None and t.get("state", "complete").lower() == "complete"]
    starts = [v for v in (_time(t, "start") for t in trials) if v is not None]
    t0 = min(starts, default=0.0)  # waiting trials (never started) have no start time

    # 1. best so far against time
    if done:
        pts = sorted(((_time(t, "end") or 0.0) - t0, float(t["value"]), t.get("family", "?")) for t in done)
        best, xs, ys = None, [], []
        for x, v, _ in pts:
            best = v if best is None else (max(best, v) if maximize else min(best, v))
            xs.append(x)
            ys.append(best)
        fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines+markers", line_shape="hv", name="best so far"))
        fig.update_layout(xaxis_title="seconds since search start", yaxis_title=f"best validation {metric}")
        add_fig("Best so far", fig)

    # 2. every trial by family, pruned ones marked
    if trials:
        fig = go.Figure()
        by_family: dict[str, list[dict[str, Any]]] = {}
        for t in trials:
            by_family.setdefault(str(t.get("family", "?")), []).append(t)
        symbols = {"complete": "circle", "pruned": "x", "fail": "triangle-down"}
        for fam, ts in sorted(by_family.items()):
            for state, sym in symbols.items():
                sel = [t for t in ts if str(t.get("state", "complete")).lower().startswith(state[:4])]
                sel = [t for t in sel if _num(t.get("value")) is not None]
                if not sel:
                    continue
                fig.add_trace(go.Scatter(
                    x=[(_time(t, "end") or 0.0) - t0 for t in sel], y=[float(t["value"]) for t in sel],
                    mode="markers", marker={"symbol": sym, "size": 9}, name=f"{fam} ({state})",
                    text=[json.dumps(t.get("params", {})) for t in sel], hovertemplate="%{text}<br>%{y:.4f}",
                ))
        fig.update_layout(xaxis_title="seconds since search start", yaxis_title=f"validation {metric}")
        n_pruned = sum(1 for t in trials if str(t.get("state", "")).lower().startswith("prun"))
        n_fail = sum(1 for t in trials if str(t.get("state", "")).lower().startswith("fail"))
        note = f"<p class='muted'>{len(trials)} trials: {len(done)} complete, {n_pruned} pruned (x; value at the rung where they stopped), {n_fail} failed.</p>"
        add_fig("Every trial by family", fig, note)

    # 3. Pareto front quality vs latency
    lat = [t for t in done if _num(t.get("latency_ms")) is not None]
    if lat:
        pts2 = sorted((float(t["latency_ms"]), float(t["value"]), t.get("family", "?")) for t in lat)
        front, best_v = [], None
        for x, v, fam in pts2:
            if best_v is None or (v > best_v if maximize else v < best_v):
                front.append((x, v, fam))
                best_v = v
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=[p[0] for p in pts2], y=[p[1] for p in pts2], mode="markers",
                                 name="trials", text=[p[2] for p in pts2], marker={"color": "#9ab"}))
        fig.add_trace(go.Scatter(x=[p[0] for p in front], y=[p[1] for p in front], mode="lines+markers",
                                 line_shape="hv", name="Pareto front", text=[p[2] for p in front]))
        fig.update_layout(xaxis_title="p95 single-user latency (ms)", yaxis_title=f"validation {metric}", xaxis_type="log")
        add_fig("Quality against latency (Pareto front)", fig)

    # 4. leaderboard
    board = summary.get("leaderboard") or []
    if board:
        keep = ("family", "value", "params", "latency_ms", "memory_mb", "epochs", "fit_s", "number", "source")
        board = [{k: r[k] for k in keep if k in r} for r in board]
        cols = list(dict.fromkeys(k for r in board for k in r))
        sections.append(f"<h2>Leaderboard</h2>{_table(board, cols)}")

    # 5. final test metrics + per-user distribution
    test = final.get("test_metrics") or summary.get("test") or summary.get("test_metrics")
    if test:
        sections.append("<h2>Final test metrics</h2><p class='muted'>best model refit on train+validation, "
                        f"evaluated once on test ({html.escape(str(final.get('protocol', 'full-ranking')))})</p>"
                        + _table([{k: v for k, v in test.items()}], list(test)))
    per_user = final.get("per_user") or {}
    if per_user:
        name = next(iter(per_user))
        fig = go.Figure(go.Histogram(x=per_user[name], nbinsx=30, name=name))
        fig.update_layout(xaxis_title=f"per-user {name}", yaxis_title="users")
        add_fig(f"Per-user distribution of test {name}", fig)

    # 6. popularity bias
    pb = final.get("popularity_bias")
    if pb:
        fig = go.Figure([
            go.Bar(x=pb["deciles"], y=pb["interaction_share"], name="share of training interactions"),
            go.Bar(x=pb["deciles"], y=pb["recommended_share"], name=f"share of top-{pb.get('k', 10)} recommendations"),
        ])
        fig.update_layout(barmode="group", xaxis_title="item popularity decile (10 = most popular)", yaxis_title="share")
        add_fig("Popularity bias of the recommendations", fig)

    # 7. dataset summary
    ds = final.get("dataset") or summary.get("dataset")
    if ds:
        flat = {k: v for k, v in ds.items() if not isinstance(v, (dict, list))}
        sections.append(f"<h2>Dataset</h2>{_table([flat], list(flat))}")

    title = f"recforge run: {summary.get('data', run.name)}"
    meta = {k: summary.get(k) for k in ("data", "split", "metric", "budget", "seed", "best_family") if summary.get(k) is not None}
    head = f"<h1>{html.escape(title)}</h1><p class='muted'>{html.escape(json.dumps(meta))}</p>"
    doc = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           f"<style>{_CSS}</style></head><body>{head}{''.join(sections)}</body></html>")
    target = Path(out) if out is not None else run / "report.html"
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(doc, encoding="utf-8")
    os.replace(tmp, target)
    return target
