"""Quality of the neural models next to the traditional ones (full ranking, one run).

``--part ml100k``: MovieLens-100K, random 80/10/10 per user (seed 0). Every model is fitted on
train; neural models early-stop on validation NDCG@10; test items are ranked against the whole
catalogue with train and validation items excluded.

``--part mlsmall``: ml-latest-small, ``leave-last:1`` (last item per user to test, the one
before to validation). SASRec's epoch count is chosen on validation (early stopping), then
every model is refitted on train + validation and evaluated on the test items, so the
sequence SASRec continues from ends right before the test item.

    python benchmarks/bench_neural_quality.py --part ml100k
    python benchmarks/bench_neural_quality.py --part mlsmall [--sasrec-epochs 10]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import recforge as rf
from recforge import registry

RESULTS = Path(__file__).parent / "results"
METRICS = ["ndcg@10", "recall@20", "hit@10"]


def _row(name: str, params: dict[str, Any], fit_s: float, res: Any, extra: str = "") -> str:
    m = res.metrics
    return (f"| {name} | `{params}` | {fit_s:.1f} | {m['ndcg@10']:.4f} | {m['recall@20']:.4f} | "
            f"{m['hit@10']:.4f} | {extra} |")


def _header(title: str, note: str) -> list[str]:
    return [f"# {title}", "", note, "",
            f"Machine shared with other jobs (load average at start {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} CPUs); fit times are wall-clock under that load.", "",
            "| model | params | fit s | NDCG@10 | Recall@20 | HR@10 | notes |",
            "|---|---|---:|---:|---:|---:|---|"]


def ml100k(path: str) -> list[str]:
    data = rf.datasets.load("ml-100k", path=path)
    train, valid, test = rf.split.random_holdout(data, (0.8, 0.1, 0.1), seed=0)
    seen = train.concat(valid)
    lines = _header("MovieLens-100K, random 80/10/10 (seed 0), full ranking",
                    "Produced by `python benchmarks/bench_neural_quality.py --part ml100k`. "
                    "Fitted on train (neural: early stopping on validation NDCG@10); test ranked "
                    "over all items with train+validation items excluded.")
    runs: list[tuple[str, dict[str, Any]]] = [
        ("ease", {"l2": 500.0}),
        ("als", {"factors": 64, "iterations": 15}),
        ("mult-vae", {"epochs": 300, "patience": 20, "eval_every": 2}),
        ("lightgcn", {"epochs": 300, "lr": 0.005, "batch_size": 2048, "patience": 10,
                      "eval_every": 2}),
    ]
    for name, params in runs:
        t0 = time.perf_counter()
        model = registry.create(name, params).fit(train, valid)
        fit_s = time.perf_counter() - t0
        res = rf.evaluate(model, test, train=seen, metrics=METRICS)
        info = getattr(model, "fit_info_", None)
        extra = (f"{info['epochs_run']} epochs, best {info['best_epoch']} "
                 f"({info['stopped_by']}), {info['threads']} thread(s)") if info else ""
        lines.append(_row(name, params, fit_s, res, extra))
        print(lines[-1], flush=True)
    return lines


def mlsmall(sasrec_epochs: int | None, batch_size: int, lr: float) -> list[str]:
    data = rf.datasets.load("ml-latest-small")
    train, valid, test = rf.split.apply(data, "leave-last:1", seed=0)
    full = train.concat(valid)
    lines = _header("ml-latest-small, leave-last:1, full ranking",
                    "Produced by `python benchmarks/bench_neural_quality.py --part mlsmall"
                    + (f" --sasrec-epochs {sasrec_epochs}" if sasrec_epochs else "")
                    + f" --sasrec-batch {batch_size} --sasrec-lr {lr:g}`. "
                    "SASRec's epochs chosen on validation unless fixed; all models fitted on "
                    "train+validation; test = each user's last item, ranked over all items with "
                    "train+validation items excluded.")
    sas_params: dict[str, Any] = {"epochs": 60, "patience": 3, "eval_every": 2, "dim": 64,
                                  "max_len": 50, "batch_size": batch_size, "lr": lr}
    if sasrec_epochs is None:
        t0 = time.perf_counter()
        probe = registry.create("sasrec", sas_params).fit(train, valid)
        probe_s = time.perf_counter() - t0
        info = probe.fit_info_
        best = int(info["best_epoch"])
        print("sasrec validation run", probe_s, best, info["best_metric"], flush=True)
        note = (f"epochs={best} chosen on validation (NDCG@10 {info['best_metric']:.4f}; that run "
                f"took {probe_s:.0f} s for {info['epochs_run']} epochs)")
    else:
        best = sasrec_epochs
        note = f"epochs={best} fixed in advance (--sasrec-epochs; no validation run)"
    runs: list[tuple[str, dict[str, Any], str]] = [
        ("most-popular", {}, ""),
        ("item-knn", {}, ""),
        ("ease", {"l2": 500.0}, ""),
        ("sasrec", {**sas_params, "epochs": best, "patience": 0}, note),
    ]
    for name, params, note in runs:
        t0 = time.perf_counter()
        model = registry.create(name, params).fit(full)
        fit_s = time.perf_counter() - t0
        res = rf.evaluate(model, test, train=full, metrics=METRICS)
        lines.append(_row(name, params, fit_s, res, note))
        print(lines[-1], flush=True)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--part", choices=("ml100k", "mlsmall"), required=True)
    ap.add_argument("--ml100k-path", default="/work/shared/datasets/ml-100k")
    ap.add_argument("--sasrec-epochs", type=int, default=None,
                    help="fix SASRec's epochs instead of choosing them on validation (cheaper)")
    ap.add_argument("--sasrec-batch", type=int, default=128)
    ap.add_argument("--sasrec-lr", type=float, default=1e-3)
    args = ap.parse_args()
    lines = (ml100k(args.ml100k_path) if args.part == "ml100k"
             else mlsmall(args.sasrec_epochs, args.sasrec_batch, args.sasrec_lr))
    out = RESULTS / ("neural_ml100k.md" if args.part == "ml100k" else "neural_sasrec_mlsmall.md")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
