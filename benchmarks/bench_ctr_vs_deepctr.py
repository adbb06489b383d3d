"""recforge CTR models side by side with DeepCTR-Torch: same data, split and hyperparameters.

Datasets: Frappe (the NFM libfm validation + test files, concatenated and re-split 80/10/10
with a fixed seed) and MovieLens-100K as CTR (label rating >= 4; same 80/10/10 random split).
Models: DeepFM and DCN-v2 (DeepCTR's ``DCN(cross_parameterization="matrix")``).

Both sides get the identical encoded split (vocabularies fitted on train; the peer receives
the per-field codes as .npy files in a temporary directory), the same embedding size, MLP,
cross layers, batch size, learning rate, no L2/dropout, at most ``--epochs`` epochs with early
stopping on validation AUC (patience 2) and the best epoch's weights scored on test.
Throughput = training rows processed / time spent inside the training epochs (validation
excluded) on each side. The peer runs in its own venv (``--peer-python``), never imported here.

Usage:
    python benchmarks/bench_ctr_vs_deepctr.py [--datasets frappe,ml-100k-ctr] [--models deepfm,dcn-v2]
        [--epochs 20] [--batch-size 1024] [--bf16] [--peer-python /work/peers/deepctr/bin/python]

Targets (issue 5): test AUC within 0.003 of the peer's or better; throughput >= 2x the peer's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RECFORGE_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))


def load(name: str):  # noqa: ANN201
    from recforge.data.ctr_readers import read_frappe, read_movielens_ctr

    if name == "frappe":
        return read_frappe(SHARED / "frappe" / "nfm-libfm")
    if name == "ml-100k-ctr":
        return read_movielens_ctr(SHARED / "ml-100k")
    raise SystemExit(f"unknown dataset {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="frappe,ml-100k-ctr")
    ap.add_argument("--models", default="deepfm,dcn-v2")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--hidden", default="400,400,400")
    ap.add_argument("--cross-layers", type=int, default=3)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="bf16 autocast on the recforge side")
    ap.add_argument("--concurrent", action="store_true",
                    help="run the peer at the same time as recforge (same machine load for both)")
    ap.add_argument("--fp32-check", action="store_true",
                    help="with --bf16: also fit recforge in float32 and print its test AUC")
    ap.add_argument("--peer-python", default="/work/peers/deepctr/bin/python")
    args = ap.parse_args()

    from recforge.registry import create

    hidden = tuple(int(h) for h in args.hidden.split(","))
    settings = {"dim": args.dim, "hidden": list(hidden), "cross_layers": args.cross_layers,
                "lr": args.lr, "batch_size": args.batch_size, "epochs": args.epochs, "patience": 2,
                "seed": args.seed, "init_std": 1e-4, "threads": args.threads}
    print(f"settings: {json.dumps(settings)}  bf16(recforge)={args.bf16}", flush=True)
    rows = []
    for ds in args.datasets.split(","):
        log = load(ds)
        train, valid, test = log.random_split((0.8, 0.1, 0.1), seed=args.seed)
        vocab = train.fit_vocab()
        offsets = vocab.offsets
        with tempfile.TemporaryDirectory(prefix="ctr-peer-") as tmp:
            d = Path(tmp)
            for part, sub in (("train", train), ("valid", valid), ("test", test)):
                enc = vocab.transform(sub)
                np.save(d / f"{part}_x.npy", (enc.index - offsets[None, :]).astype(np.int64))
                np.save(d / f"{part}_y.npy", enc.label.astype(np.float32))
            np.save(d / "sizes.npy", np.asarray(vocab.sizes, dtype=np.int64))
            (d / "settings.json").write_text(json.dumps(settings))
            print(f"\n{ds}: train {train.n_rows:,} / valid {valid.n_rows:,} / test {test.n_rows:,} rows, "
                  f"{len(vocab.fields)} fields, {vocab.n_features:,} features", flush=True)
            for model_name in args.models.split(","):
                params = {"dim": args.dim, "hidden": hidden, "epochs": args.epochs,
                          "batch_size": args.batch_size, "lr": args.lr, "lr_embedding": args.lr,
                          "patience": 2, "seed": args.seed, "threads": args.threads, "bf16": args.bf16}
                if model_name == "dcn-v2":
                    params["cross_layers"] = args.cross_layers
                peer_cmd = [args.peer_python, str(REPO / "benchmarks" / "_deepctr_peer.py"), str(d), model_name]
                peer_proc = None
                if args.concurrent:  # both sides share the same (loaded) machine at the same time
                    peer_proc = subprocess.Popen(peer_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                t_peer = t0 = time.perf_counter()
                m = create(model_name, params).fit(train, valid)
                ours_wall = time.perf_counter() - t0
                ours = m.evaluate(test, ["auc", "logloss"])
                fp32_auc = None
                if args.bf16 and args.fp32_check:  # same run in float32: bf16 is only worth it if AUC is unchanged
                    fp32_auc = create(model_name, {**params, "bf16": False}).fit(train, valid).evaluate(test, ["auc"])["auc"]
                if peer_proc is None:
                    t_peer = time.perf_counter()
                    peer_proc = subprocess.Popen(peer_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                peer_out, peer_err = peer_proc.communicate()
                peer_wall = time.perf_counter() - t_peer
                if peer_proc.returncode != 0:
                    print(peer_err[-3000:], file=sys.stderr)
                    raise SystemExit(f"peer failed on {ds}/{model_name}")
                peer = json.loads(peer_out.strip().splitlines()[-1])
                row = {
                    "dataset": ds, "model": model_name,
                    "auc": ours["auc"], "peer_auc": peer["test_auc"], "auc_diff": ours["auc"] - peer["test_auc"],
                    "sps": m.samples_per_second_, "peer_sps": peer["samples_per_second"],
                    "speedup": m.samples_per_second_ / peer["samples_per_second"],
                    "epochs": len(m.history_), "best_epoch": m.best_epoch_,
                    "peer_epochs": peer["epochs"], "peer_best_epoch": peer["best_epoch"],
                    "wall": ours_wall, "peer_wall": peer_wall, "fp32_auc": fp32_auc,
                }
                rows.append(row)
                ok_auc = row["auc_diff"] >= -0.003
                ok_speed = row["speedup"] >= 2.0
                print(f"  {model_name:7s} test AUC recforge {row['auc']:.4f} | DeepCTR {row['peer_auc']:.4f} "
                      f"| diff {row['auc_diff']:+.4f} [{'ok' if ok_auc else 'MISS'}]   "
                      f"train rows/s recforge {row['sps']:,.0f} | DeepCTR {row['peer_sps']:,.0f} "
                      f"| x{row['speedup']:.2f} [{'ok' if ok_speed else 'MISS'}]   "
                      f"epochs {row['epochs']}(best {row['best_epoch']}) vs {row['peer_epochs']}(best {row['peer_best_epoch']}); "
                      f"wall {row['wall']:.0f}s vs {row['peer_wall']:.0f}s"
                      + (f"; recforge fp32 AUC {fp32_auc:.4f}" if fp32_auc is not None else ""), flush=True)
    print("\nJSON " + json.dumps(rows))


if __name__ == "__main__":
    main()
