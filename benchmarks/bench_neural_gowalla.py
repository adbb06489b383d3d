"""LightGCN on Gowalla (the LightGCN paper's split): test Recall@20 / NDCG@20 against training time.

Runs, in one process and on the same split (``files:train.txt,test.txt``, full ranking):

1. MF-BPR (registry ``bpr``, implicit) at its defaults and at a larger learning rate;
2. one epoch of LightGCN at the published schedule's settings (dim 64, 3 layers, lr 0.001,
   batch 2048) to measure the time per epoch, extrapolated to the paper's ~1000 epochs;
3. LightGCN trained for ``--minutes`` of training time with ``--batch-size`` / ``--lr``,
   evaluated on the test split every ``--eval-every`` epochs (evaluation time is not counted
   as training time; the test split is never used to choose anything: fixed epochs, no
   early stopping).

The curve is (re)written to ``benchmarks/results/lightgcn_gowalla.md`` after each evaluation,
so a killed run leaves its partial curve.

    python benchmarks/bench_neural_gowalla.py --minutes 35 --batch-size 8192 --lr 0.005

The parts can run as separate processes (``--no-curve`` / ``--skip-bpr
--skip-published-epoch --out ...``) to overlap them on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import recforge as rf
from recforge import registry
from recforge.models.base import EpochReport

PUBLISHED = {"recall@20": 0.1820, "ndcg@20": 0.1547}  # LightGCN paper, Table 3 (Gowalla)
METRICS = ["recall@20", "ndcg@20"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--path", default="/work/shared/datasets/lightgcn-gowalla")
    ap.add_argument("--minutes", type=float, default=30.0, help="training-time budget")
    ap.add_argument("--batch-size", type=int, default=8192)
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--skip-published-epoch", action="store_true")
    ap.add_argument("--skip-bpr", action="store_true", help="no MF-BPR baselines (run them separately)")
    ap.add_argument("--no-curve", action="store_true", help="only the baselines and the published epoch")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "lightgcn_gowalla.md"))
    args = ap.parse_args()

    data = rf.datasets.load("gowalla", path=args.path, files=["train.txt", "test.txt"])
    train, _, test = rf.split.apply(data, "files:train.txt,test.txt")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# LightGCN on Gowalla (LightGCN paper split), full ranking",
        "",
        f"Produced by `python benchmarks/bench_neural_gowalla.py --minutes {args.minutes:g} "
        f"--batch-size {args.batch_size} --lr {args.lr:g} --eval-every {args.eval_every}"
        f"{' --skip-bpr' if args.skip_bpr else ''}"
        f"{' --skip-published-epoch' if args.skip_published_epoch else ''}"
        f"{' --no-curve' if args.no_curve else ''}` "
        f"on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        f"Train {train.n_interactions:,} / test {test.n_interactions:,} interactions, "
        f"{train.n_users:,} users, {train.n_items:,} items. Machine shared with other jobs "
        f"(load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs).",
        "",
    ]

    def write(extra: list[str]) -> None:
        tmp = out.with_suffix(".tmp")
        tmp.write_text("\n".join(lines + extra) + "\n")
        os.replace(tmp, out)

    # 1. MF-BPR baselines
    lines += ["## MF-BPR (registry `bpr`, implicit), same split", "",
              "| config | fit s (wall) | Recall@20 | NDCG@20 |", "|---|---:|---:|---:|"]
    bpr_best = 0.0
    for params in () if args.skip_bpr else ({"factors": 64, "iterations": 100},
                   {"factors": 64, "iterations": 200, "learning_rate": 0.05}):
        t0 = time.perf_counter()
        bpr = registry.create("bpr", params).fit(train)
        fit_s = time.perf_counter() - t0
        res = rf.evaluate(bpr, test, train=train, metrics=METRICS)
        bpr_best = max(bpr_best, res["recall@20"])
        lines.append(f"| {params} | {fit_s:.1f} | {res['recall@20']:.4f} | {res['ndcg@20']:.4f} |")
        print("bpr", params, fit_s, res.metrics, flush=True)
        write([])
    lines.append("")

    # 2. one epoch at the published settings
    if not args.skip_published_epoch:
        t0, c0 = time.perf_counter(), time.process_time()
        pub = registry.create("lightgcn", {"epochs": 1, "dim": 64, "n_layers": 3, "lr": 0.001,
                                           "batch_size": 2048}).fit(train)
        total = time.perf_counter() - t0
        cpu = time.process_time() - c0
        ep = pub.fit_info_["train_seconds"]
        lines += [
            "## Published schedule (dim 64, 3 layers, lr 0.001, batch 2048)", "",
            f"One epoch took {ep:.1f} s of training ({total:.1f} s with setup, {cpu:.1f} s of "
            f"process CPU time; "
            f"{pub.fit_info_['threads']} torch thread(s)); the paper's ~1000 epochs would take "
            f"about {ep * 1000 / 3600:.1f} h here.", "",
        ]
        print("published epoch", ep, flush=True)
        write([])

    if args.no_curve:
        return
    # 3. the curve
    curve: list[str] = []
    header = [f"## Curve: dim 64, 3 layers, batch {args.batch_size}, lr {args.lr:g}, reg 1e-4", "",
              "| epoch | training s (wall) | training s (process CPU) | Recall@20 | NDCG@20 |",
              "|---:|---:|---:|---:|---:|"]
    eval_seconds = 0.0
    eval_cpu = 0.0
    cpu0 = time.process_time()
    budget = args.minutes * 60
    model = registry.create("lightgcn", {"epochs": 100_000, "dim": 64, "n_layers": 3,
                                         "lr": args.lr, "batch_size": args.batch_size})
    state = {"last": None}

    def callback(report: EpochReport) -> bool:
        nonlocal eval_seconds, eval_cpu
        train_s = report.elapsed - eval_seconds
        train_cpu = time.process_time() - cpu0 - eval_cpu
        over = train_s >= budget
        if report.epoch % args.eval_every == 0 or over or report.epoch == 1:
            t0, c0 = time.perf_counter(), time.process_time()
            model.module_.eval()
            model._refresh()
            res = rf.evaluate(model, test, train=train, metrics=METRICS)
            model.module_.train()
            eval_seconds += time.perf_counter() - t0
            eval_cpu += time.process_time() - c0
            curve.append(f"| {report.epoch} | {train_s:.0f} | {train_cpu:.0f} | {res['recall@20']:.4f} "
                         f"| {res['ndcg@20']:.4f} |")
            state["last"] = (report.epoch, train_s, res["recall@20"], res["ndcg@20"])
            print("epoch", report.epoch, round(train_s), res.metrics, flush=True)
            write(header + curve + [""])
        return over

    model.fit(train, callback=callback)
    epoch, train_s, rec, ndcg = state["last"]  # type: ignore[misc]
    summary = [
        "",
        f"Final (epoch {epoch}, {train_s / 60:.1f} min of training, "
        f"{model.fit_info_['threads']} torch thread(s)): Recall@20 {rec:.4f}, NDCG@20 {ndcg:.4f}; "
        f"published {PUBLISHED['recall@20']} / {PUBLISHED['ndcg@20']}.",
    ]
    if not args.skip_bpr:
        summary.append(f"Best MF-BPR above: Recall@20 {bpr_best:.4f} -> LightGCN "
                       f"{'beats' if rec > bpr_best else 'does NOT beat'} MF-BPR.")
    write(header + curve + summary)
    print("\n".join(summary))


if __name__ == "__main__":
    main()
