"""End-to-end serving latency of a two-stage pipeline through ``recforge serve``.

Fits a two-stage recommender (EASE retriever, 100 candidates, FM ranker over side features,
retriever score/rank and popularity) on MovieLens-100K with user and item features, saves it
as an artifact, starts the real ``recforge serve`` on 127.0.0.1 and measures
``GET /recommend/{user}?k=10`` at 1 and 8 concurrent clients (bounded in time and count),
with the per-stage latency measured inside the model for comparison. Uses the load
generators of ``benchmarks/serve_load.py``.

Run: ``python benchmarks/two_stage_serve.py [--path ../shared/datasets/ml-100k] [--duration 10]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from serve_load import Server, loadavg, run_load  # noqa: E402

import recforge as rf  # noqa: E402
from recforge.datasets.side_features import movielens_100k_features  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", default="../shared/datasets/ml-100k")
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--max-requests", type=int, default=20000)
    args = ap.parse_args()
    data = rf.datasets.load("ml-100k", path=args.path).with_side_features(*movielens_100k_features(args.path))
    model = rf.models.get("two-stage")(
        retriever="ease", retriever_params='{"l2": 500.0}', n_candidates=100, ranker="fm",
        ranker_params=json.dumps({"epochs": 5, "dim": 8, "lr": 0.01, "lr_embedding": 0.02, "batch_size": 1024}),
        id_features=False,
    )
    t0 = time.perf_counter()
    model.fit(data)
    print(f"fit {time.perf_counter() - t0:.1f}s; in-model per-stage latency (ms): "
          + ", ".join(f"{k}={v:.2f}" for k, v in model.stage_latency_ms_.items()))
    work = Path(tempfile.mkdtemp(prefix="rf-ts-serve-"))
    try:
        art = rf.save(model, work / "two-stage")
        server = Server(art)
        try:
            ids = data.user_ids[np.random.default_rng(0).choice(data.n_users, 500, replace=False)].tolist()
            client = "wrk" if shutil.which("wrk") else "asyncio"
            print(f"client: {client}; load average before: {loadavg()}")
            print(f"{'clients':>8}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
            for conc in (1, 8):
                r = run_load(client, server, ids, conc, args.duration, args.max_requests)
                print(f"{conc:>8}{r['requests']:>10}{r['rps']:>9.1f}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['errors']:>8}")
        finally:
            server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
