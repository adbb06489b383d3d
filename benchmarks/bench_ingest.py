"""Ingestion benchmark: a synthetic 20M-row interaction CSV, recforge vs plain pandas.

Generates ``user,item,rating,timestamp`` rows shaped like MovieLens 20M (as many users and
items per row; no repeated (user, item) pair; half-star ratings) in a temporary directory, then loads the file in separate child processes,
alternating the tools, with

* ``recforge``: ``recforge.data.read_interactions`` with its default validation (ids,
  numbers, NaN/inf, negative weights, duplicate-pair check with ``duplicates="error"``) and
  id encoding into contiguous codes;
* ``pandas``: plain ``pandas.read_csv(path)`` (parsing only: no validation, no encoding);
* ``polars``: plain ``polars.read_csv(path)`` for reference (parsing only).

Each child reports the wall time of the load and its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, the whole process including the interpreter
and imports). The best time of ``--repeat`` runs per tool is reported, with the ratio
``pandas / recforge`` measured in the same run. The CSV is deleted at the end.

Targets (issue 2): recforge under 20 s and under 3 GB, at least 2x faster than pandas.

Usage::

    python benchmarks/bench_ingest.py                 # 20M rows, 2 rounds
    python benchmarks/bench_ingest.py --rows 2000000  # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOOLS = ("pandas", "recforge", "polars")


def generate(path: Path, rows: int, seed: int = 0) -> dict[str, int]:
    """Write ``rows`` distinct (user, item) events with ratings and timestamps."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    # shaped like MovieLens 20M: 20,000,263 ratings by 138,493 users on 26,744 movies
    n_users = max(10, round(rows * 138_493 / 20_000_263))
    n_items = max(10, round(rows * 26_744 / 20_000_263))
    space = n_users * n_items
    if rows > space // 2:
        raise SystemExit(f"--rows {rows} too large for {n_users} x {n_items} distinct pairs")
    keys = np.unique(rng.integers(0, space, int(rows * 1.02) + 1000))
    while keys.size < rows:  # pragma: no cover - practically never with 2 % slack
        keys = np.unique(np.concatenate([keys, rng.integers(0, space, rows)]))
    keys = rng.permutation(keys)[:rows]
    frame = pl.DataFrame({
        "user": keys // n_items,
        "item": keys % n_items,
        "rating": rng.integers(1, 11, rows) / 2.0,
        "timestamp": rng.integers(800_000_000, 1_700_000_000, rows),
    })
    frame.write_csv(path)
    return {"rows": rows, "users": int(np.unique(keys // n_items).size), "bytes": path.stat().st_size}


def child(tool: str, path: str) -> None:
    """Load ``path`` with ``tool`` and print one JSON line (seconds, peak RSS in bytes)."""
    if tool == "recforge":
        from recforge.data import read_interactions

        t0, c0 = time.perf_counter(), _cpu()
        data = read_interactions(path, user="user", item="item", rating="rating",
                                 timestamp="timestamp")
        seconds, cpu = time.perf_counter() - t0, _cpu() - c0
        rows = data.n_interactions
        extra = {"users": data.n_users, "items": data.n_items}
    elif tool == "pandas":
        import pandas as pd

        t0, c0 = time.perf_counter(), _cpu()
        df = pd.read_csv(path)
        seconds, cpu = time.perf_counter() - t0, _cpu() - c0
        rows = len(df)
        extra = {}
    elif tool == "polars":
        import polars as pl

        t0, c0 = time.perf_counter(), _cpu()
        pdf = pl.read_csv(path)
        seconds, cpu = time.perf_counter() - t0, _cpu() - c0
        rows = pdf.height
        extra = {}
    else:
        raise SystemExit(f"unknown tool {tool!r}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps({"tool": tool, "seconds": seconds, "cpu_seconds": cpu, "peak_rss": peak,
                      "rows": rows, **extra}))


def _cpu() -> float:
    """User + system CPU seconds of this process (all threads)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_child(tool: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", tool, str(path)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--tmp", default=None, help="directory for the temporary CSV")
    ap.add_argument("--child", nargs=2, metavar=("TOOL", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return

    tmp = Path(tempfile.mkdtemp(prefix="recforge-ingest-", dir=args.tmp))
    # a kill (SIGTERM) also removes the multi-GB CSV
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        csv = tmp / "interactions.csv"
        load0 = os.getloadavg()
        t0 = time.perf_counter()
        info = generate(csv, args.rows)
        print(f"generated {info['rows']:,} rows, {info['bytes'] / 1e6:,.0f} MB in "
              f"{time.perf_counter() - t0:.1f} s ({csv})", flush=True)
        results: dict[str, list[dict[str, float]]] = {t: [] for t in TOOLS}
        for rnd in range(args.repeat):
            for tool in TOOLS:
                res = run_child(tool, csv)
                results[tool].append(res)
                print(f"  round {rnd + 1} {tool:8s} {res['seconds']:7.2f} s  "
                      f"cpu {res['cpu_seconds']:7.2f} s  peak RSS {res['peak_rss'] / 2**30:5.2f} GiB  rows {int(res['rows']):,}",
                      flush=True)
        best = {t: min(r["seconds"] for r in rs) for t, rs in results.items()}
        cpu = {t: min(r["cpu_seconds"] for r in rs) for t, rs in results.items()}
        peak = {t: max(r["peak_rss"] for r in rs) for t, rs in results.items()}
        print()
        print(f"| tool | best wall of {args.repeat} (s) | best CPU (s, all threads) | peak RSS (GiB) |")
        print("|---|---:|---:|---:|")
        for t in TOOLS:
            print(f"| {t} | {best[t]:.2f} | {cpu[t]:.2f} | {peak[t] / 2**30:.2f} |")
        ratio = best["pandas"] / best["recforge"]
        print()
        print(f"speed-up of recforge over pandas.read_csv: {ratio:.2f}x (target >= 2x)")
        print(f"recforge: {best['recforge']:.2f} s (target < 20 s), "
              f"{peak['recforge'] / 2**30:.2f} GiB (target < 3 GB)")
        print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}, load average at start "
              f"{load0[0]:.1f}, at end {os.getloadavg()[0]:.1f} (other jobs share the machine)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
