"""Build the search's warm-start portfolio (``src/recforge/search/portfolio/default.json``).

Procedure (a greedy portfolio in the style of Auto-sklearn 2.0, Feurer et al. 2022):

1. On each build dataset (default ml-100k, lastfm-2k and citeulike-a, the last two
   10-cored; per-user random 80/10/10 split, seed 0) run a recforge search without warm
   start for ``--budget``.
2. Candidates: the best ``--per-family`` configurations of every family on every dataset.
3. Evaluate every candidate on every build dataset (validation ``--metric``), giving a
   candidates x datasets matrix; normalise each column by its best value.
4. Greedy: repeatedly add the candidate that most raises the mean over datasets of the best
   normalised score in the portfolio so far (ties: higher mean normalised score), until
   ``--size`` configurations. That order is the order the search tries them in.

ml-latest-small is deliberately *not* a build dataset: ``benchmarks/search_efficiency.py``
shows the portfolio's effect there (method ``recforge`` vs ``recforge-cold``).

Run: ``python benchmarks/build_portfolio.py --budget 2m`` (about 3x budget + cross-evaluation).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # shared 2-core machine: no BLAS spinning
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

SHARED = Path(os.environ.get("RECFORGE_SHARED_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
PATHS = {
    "ml-100k": "ml-100k",
    "ml-latest-small": "ml-latest-small",
    "lastfm-2k": "hetrec2011-lastfm-2k",
    "citeulike-a": "citeulike-a",
    "ml-1m": "ml-1m",
}


#: k-core filtering (users and items with at least k interactions) for the long-tailed sets:
#: 17k-item catalogues make every item-item model take minutes per fit on this 2-core box.
KCORE = {"lastfm-2k": 10, "citeulike-a": 10}


def load_split(name: str, seed: int = 0):  # type: ignore[no-untyped-def]
    """Zoo loader on the shared copy (k-cored per :data:`KCORE`); per-user random 80/10/10."""
    from recforge import datasets, split
    from recforge.data.preprocess import k_core

    data = datasets.load(name, path=SHARED / PATHS.get(name, name))
    if name in KCORE:
        data = k_core(data, user_k=KCORE[name], item_k=KCORE[name])
    return split.random_holdout(data, (0.8, 0.1, 0.1), seed=seed)


def valid_score(family: str, params: dict, parts, metric: str, seed: int) -> float:  # type: ignore[no-untyped-def]
    from recforge.execution.trial import TrialData, TrialSpec, run_trial

    res = run_trial(TrialSpec(number=0, family=family, params=params, metric=metric, prune=False,
                              measure_latency=False, seed=seed, timeout_s=600.0),
                    TrialData(parts.train, parts.valid, seed=seed))
    return float(res.value) if res.state == "complete" and res.value is not None else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="ml-100k,lastfm-2k,citeulike-a")
    ap.add_argument("--budget", default="2m", help="search budget per dataset")
    ap.add_argument("--metric", default="ndcg@10")
    ap.add_argument("--models", default=None, help="families (default: every registered one with a space)")
    ap.add_argument("--per-family", type=int, default=1)
    ap.add_argument("--size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runs", default="runs/portfolio-build", help="where the build searches are kept")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "src/recforge/search/portfolio/default.json"))
    args = ap.parse_args(argv)

    import numpy as np

    import recforge as rf

    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    splits = {d: load_split(d, args.seed) for d in names}
    candidates: list[dict] = []
    t0 = time.time()
    for d in names:
        parts = splits[d]
        run_dir = Path(args.runs) / d
        if run_dir.exists():
            import shutil

            shutil.rmtree(run_dir)
        print(f"[{time.time() - t0:6.0f}s] searching {d} for {args.budget} ...", flush=True)
        res = rf.search(parts.train, parts.valid, budget=args.budget, metric=args.metric,
                        models=args.models.split(",") if args.models else None, warm_start=False,
                        seed=args.seed, out=run_dir, refit=False, progress=False)
        per: dict[str, list] = {}
        for t in sorted((t for t in res.trials if t.state == "complete"), key=lambda t: -(t.value or 0)):
            per.setdefault(t.family or "", []).append(t)
        for fam, ts in per.items():
            for t in ts[: args.per_family]:
                if any(c["family"] == fam and c["params"] == t.params for c in candidates):
                    continue  # the same seed draws the same first configurations everywhere
                candidates.append({"family": fam, "params": t.params, "found_on": d, "trial": t.number})
        print(f"[{time.time() - t0:6.0f}s] {d}: {len(res.trials)} trials, best {res.best.family} "
              f"{res.best.value:.4f}", flush=True)

    # Cross-evaluate every candidate on every build dataset.
    matrix = np.full((len(candidates), len(names)), np.nan)
    for i, c in enumerate(candidates):
        for j, d in enumerate(names):
            matrix[i, j] = valid_score(c["family"], c["params"], splits[d], args.metric, args.seed)
        print(f"[{time.time() - t0:6.0f}s] {c['family']:<12} {json.dumps(c['params'])[:70]:<70} "
              + " ".join(f"{v:.4f}" for v in matrix[i]), flush=True)
    best = np.nanmax(matrix, axis=0)
    norm = np.nan_to_num(matrix / best, nan=0.0)

    chosen: list[int] = []
    cover = np.zeros(len(names))
    while len(chosen) < min(args.size, len(candidates)):
        gains = [(np.maximum(cover, norm[i]).mean(), norm[i].mean(), -i) if i not in chosen else (-1, -1, 0)
                 for i in range(len(candidates))]
        i = int(np.argmax([g[0] * 1e6 + g[1] for g in gains]))
        chosen.append(i)
        cover = np.maximum(cover, norm[i])
    configs = []
    for rank, i in enumerate(chosen):
        c = candidates[i]
        configs.append({"family": c["family"], "params": c["params"], "greedy_rank": rank + 1,
                        "found_on": c["found_on"], "mean_normalised": round(float(norm[i].mean()), 4),
                        "scores": {d: None if np.isnan(matrix[i, j]) else round(float(matrix[i, j]), 5)
                                   for j, d in enumerate(names)}})
    doc = {
        "format": "recforge-portfolio",
        "version": 1,
        "metric": args.metric,
        "built_from": names,
        "split": "random:0.8,0.1,0.1 seed " + str(args.seed),
        "budget_per_dataset": args.budget,
        "command": "python benchmarks/build_portfolio.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "best_per_dataset": {d: round(float(b), 5) for d, b in zip(names, best, strict=True)},
        "configs": configs,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    os.replace(tmp, out)
    print(f"[{time.time() - t0:6.0f}s] wrote {out} ({len(configs)} configurations)")
    for c in configs:
        print(f"  {c['greedy_rank']}. {c['family']:<12} mean normalised {c['mean_normalised']:.3f} {c['params']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
