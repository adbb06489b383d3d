"""Two-stage (retrieval -> ranking) against single-stage models on MovieLens-100K.

Protocol: ml-100k with user features (age, gender, occupation) and item features (genres,
release year), global temporal split 80/10/10 (``recforge.split.temporal``), full ranking,
test items seen in train+valid excluded. Prints:

* candidate recall@N of each retriever for N in 50, 100, 200 (= the retriever's recall@N on
  test: the share of test items a ranker could still put on top);
* NDCG@10 / Recall@10 of each single-stage model and of two-stage pipelines;
* hyperparameters are chosen on the validation part (small grid below), then every model is
  refitted on train+valid and evaluated once on test; for the two-stage variants the test
  value of every variant is printed too (for transparency: validation has only ~80 users
  here, so validation and test can disagree).

Run: ``python benchmarks/two_stage_ml100k.py [--path ../shared/datasets/ml-100k]``
"""

from __future__ import annotations

import argparse
import json
import time

import recforge as rf
from recforge.datasets.side_features import movielens_100k_features

RANKER = {"epochs": 10, "dim": 8, "lr": 0.01, "lr_embedding": 0.02, "batch_size": 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", default="../shared/datasets/ml-100k")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = rf.datasets.load("ml-100k", path=args.path).with_side_features(*movielens_100k_features(args.path))
    train, valid, test = rf.split.temporal(data, (0.8, 0.1))
    full = train.concat(valid)
    print(f"split: train {len(train):,}, valid {len(valid):,} ({len(valid.active_users())} users), "
          f"test {len(test):,} ({len(test.active_users())} users)")

    single = {
        "most-popular": [{}],
        "item-knn": [{"neighbours": n} for n in (50, 200)],
        "ease": [{"l2": v} for v in (100.0, 500.0, 2000.0)],
        "als": [{"factors": f, "regularization": 0.05, "iterations": 15} for f in (32, 64)],
    }
    rows = []
    best_single = None
    print("\n== retrievers: candidate recall@N on test (fitted on train+valid)")
    tuned: dict[str, dict] = {}
    for name, grid in single.items():
        scored = []
        for params in grid:
            m = rf.models.get(name)(**params).fit(train)
            v = rf.evaluate(m, valid, train=train, metrics=["ndcg@10"])["ndcg@10"]
            scored.append((v, params))
        v_best, p_best = max(scored, key=lambda t: t[0])
        tuned[name] = p_best
        m = rf.models.get(name)(**p_best).fit(full)
        res = rf.evaluate(m, test, train=full, metrics=["ndcg@10", "recall@10", "recall@50", "recall@100", "recall@200"])
        rows.append({"model": name, "params": p_best, "valid_ndcg@10": v_best, **res.metrics})
        print(f"{name:<13} recall@50={res['recall@50']:.4f} recall@100={res['recall@100']:.4f} "
              f"recall@200={res['recall@200']:.4f}   (params {p_best})")
        if best_single is None or v_best > best_single[1]:
            best_single = (name, v_best, res.metrics)

    print("\n== two-stage pipelines (chosen on validation, refitted on train+valid, tested once)")
    variants = []
    for ranker in ("lr", "fm"):
        for side in (False, True):
            for scorers in ("", "item-knn,als"):
                variants.append({"retriever": "ease", "retriever_params": json.dumps(tuned["ease"]),
                                 "n_candidates": 50, "ranker": ranker, "ranker_params": json.dumps(RANKER),
                                 "id_features": False, "side_features": side, "scorers": scorers,
                                 "recent_window": 0.1, "seed": args.seed})
    ts_scored = []
    for params in variants:
        t = time.perf_counter()
        m = rf.models.get("two-stage")(**params).fit(train)
        v = rf.evaluate(m, valid, train=train, metrics=["ndcg@10"])["ndcg@10"]
        ts_scored.append((v, params))
        # reported for transparency only: selection below uses the validation value
        mt = rf.models.get("two-stage")(**params).fit(full)
        tv = rf.evaluate(mt, test, train=full, metrics=["ndcg@10", "recall@10"])
        print(f"  valid ndcg@10={v:.4f} | test ndcg@10={tv['ndcg@10']:.4f} recall@10={tv['recall@10']:.4f}"
              f"  ranker={params['ranker']} side_features={params['side_features']} "
              f"scorers={params['scorers'] or '-'} cand.recall={m.candidate_recall_:.3f} "
              f"({time.perf_counter() - t:.0f}s)", flush=True)
    v_ts, p_ts = max(ts_scored, key=lambda t: t[0])
    t = time.perf_counter()
    m = rf.models.get("two-stage")(**p_ts).fit(full)
    fit_s = time.perf_counter() - t
    res = rf.evaluate(m, test, train=full, metrics=["ndcg@10", "recall@10"])
    rows.append({"model": "two-stage", "params": p_ts, "valid_ndcg@10": v_ts, **res.metrics, "fit_s": fit_s})

    print("\n== test (full ranking), models chosen on validation")
    print(f"{'model':<14}{'valid ndcg@10':>14}{'ndcg@10':>10}{'recall@10':>11}")
    for r in rows:
        print(f"{r['model']:<14}{r['valid_ndcg@10']:>14.4f}{r['ndcg@10']:>10.4f}{r['recall@10']:>11.4f}")
    assert best_single is not None
    print(f"\nbest single-stage on validation: {best_single[0]} (test ndcg@10={best_single[2]['ndcg@10']:.4f}); "
          f"two-stage test ndcg@10={res['ndcg@10']:.4f} "
          f"({'better' if res['ndcg@10'] > best_single[2]['ndcg@10'] else 'not better'}); "
          f"two-stage chosen: {p_ts}")


if __name__ == "__main__":
    main()
