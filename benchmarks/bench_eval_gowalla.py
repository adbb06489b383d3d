"""Full-ranking evaluation of every Gowalla test user (top-20 of 40,981 items).

Fits a model on the LightGCN Gowalla train.txt, then times ``recforge.evaluate`` with
Recall@20/NDCG@20 over all 29,858 test users, and reports the peak resident memory the
evaluation adds on top of the process after fitting (model included in the baseline).
Targets: under 30 s and under 4 GB beyond the model.

    python benchmarks/bench_eval_gowalla.py [--model als] [--path DIR] [--batch-size 1024]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _mem import peak, reset_peak, rss  # noqa: E402

from recforge import datasets, registry, split  # noqa: E402
from recforge.evaluation import evaluate  # noqa: E402

PARAMS = {"als": {"factors": 64, "iterations": 15}, "item-knn": {"neighbours": 200, "shrink": 0.0},
          "ease": {"l2": 80.0}, "bpr": {"factors": 64, "iterations": 20}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="als")
    ap.add_argument("--path", default="/work/shared/datasets/lightgcn-gowalla")
    ap.add_argument("--batch-size", type=int, default=1024)
    args = ap.parse_args()
    data = datasets.load("gowalla", path=args.path, files=["train.txt", "test.txt"])
    parts = split.apply(data, "files:train.txt,test.txt")
    model = registry.create(args.model, PARAMS.get(args.model, {}))
    t0 = time.perf_counter()
    model.fit(parts.train)
    print(f"fitted {model!r} in {time.perf_counter() - t0:.1f} s")
    base = rss()
    ok = reset_peak()
    t0 = time.perf_counter()
    res = evaluate(model, parts.test, metrics=["recall@20", "ndcg@20"], batch_size=args.batch_size)
    secs = time.perf_counter() - t0
    extra = peak() - base
    print(f"users evaluated: {res.n_users:,} of {parts.test.n_users:,}; items ranked: {parts.train.n_items:,}")
    print(f"metrics: recall@20={res['recall@20']:.4f} ndcg@20={res['ndcg@20']:.4f}")
    print(f"evaluation time: {secs:.1f} s (target < 30 s) -> {secs / 30:.2f}x of the budget")
    print(f"peak memory beyond the fitted model: {extra / 1e9:.2f} GB (target < 4 GB)"
          + ("" if ok else " [peak reset not permitted: peak since process start]"))


if __name__ == "__main__":
    main()
