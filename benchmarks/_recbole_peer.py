"""RecBole peer for ``search_efficiency.py``: RecBole's own ``HyperTuning`` (hyperopt TPE) at a
wall-clock budget, on a split that recforge made. Runs INSIDE the peer venv, not recforge's.

Peer environment (not a recforge dependency; Python 3.11)::

    python3.11 -m venv /work/peers/recbole
    echo 'torch==2.13.0' > /work/peers/recbole-constraints.txt
    /work/peers/recbole/bin/pip install torch==2.13.0        # the CPU build; never let pip replace it
    /work/peers/recbole/bin/pip install -c /work/peers/recbole-constraints.txt recbole hyperopt
    /work/peers/recbole/bin/pip install -c /work/peers/recbole-constraints.txt \\
        "numpy<1.24" "pandas<2.3" "scipy<1.14" "scikit-learn<1.6" "setuptools<81"

Resolved: recbole 1.2.1, hyperopt 0.3.0, ray 2.6.3 (pulled in by recbole), torch 2.13.0+cpu,
numpy 1.23.5, pandas 2.2.3, scipy 1.13.1, scikit-learn 1.5.2, setuptools 80.10.2. Why pinned:

* ``setuptools<81`` — ``recbole.quick_start`` does ``from ray import tune``, and ray 2.6.3
  imports ``pkg_resources``, which setuptools >= 81 no longer ships (``import recbole`` and
  ``from recbole.trainer import HyperTuning`` alone work without it; ``objective_function`` not);
* ``numpy<1.24`` — ``recbole.evaluator.metrics.NDCG`` (and Hit, MAP, ...) use ``np.float``,
  removed in numpy 1.24, so every evaluation fails on a newer numpy;
* ``pandas<2.3``, ``scipy<1.14``, ``scikit-learn<1.6`` — the newest releases that still accept
  numpy 1.23 (the unpinned resolve brings pandas 3 / scipy 1.17 / scikit-learn 1.9, which need
  numpy >= 1.26 or 2);
* torch stays 2.13.0+cpu (constraints file): it imports and runs with numpy 1.23. torch >= 2.6
  loads with ``weights_only=True`` by default, which rejects the checkpoint RecBole 1.2.1 writes
  and reloads for the test evaluation, so this script sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``
  (the file is the one the same process just saved).

pandas 2.2 warns (``FutureWarning``, chained ``fillna(inplace=True)`` in RecBole's dataset code)
but still applies the fill; under pandas 3's copy-on-write it would silently not.

Protocol (so the comparison with recforge is honest):

* Data: the ``--train/--valid/--test`` TSVs (header ``user\\titem``, integer ids) become RecBole's
  pre-split atomic files ``<name>.train.inter`` / ``.valid.inter`` / ``.test.inter`` (header
  ``user_id:token\\titem_id:token``) with ``benchmark_filename: [train, valid, test]``; no
  filtering (``user/item_inter_num_interval: [0,inf)``, ``rm_dup_inter: None``,
  ``val_interval: None``), so RecBole evaluates exactly recforge's split. Ids are tokens,
  remapped by RecBole over the union of the three files.
* Evaluation: full ranking over all items (``eval_args.mode: full``), ``metrics: [NDCG]``,
  ``topk: [10]``, ``valid_metric: NDCG@10`` (also the early-stopping and tuning objective).
  What RecBole excludes from a user's ranking (``FullSortEvalDataLoader`` + the pre-split
  sampler's ``used_ids``): for validation, the user's training items; for test, the user's
  training AND validation items; in both cases items that are also positives of the phase being
  evaluated stay ranked (history = used - positives), and the padding item 0 is never ranked.
  Only users with at least one interaction in the evaluated file count, and NDCG@10's ideal DCG
  uses min(#positives, 10). recforge's ``evaluate`` excludes the same train (valid) and
  train+valid (test) items and averages over the same users; the one difference is a
  (user, item) pair present in both train and the evaluated file, which recforge masks and
  RecBole keeps as a positive — a random holdout of de-duplicated interactions has none — and
  the candidate set: RecBole ranks only items that occur in one of the three files, recforge its
  whole item vocabulary (ml-latest-small: 8,974 vs 9,724 items; the 750 extra are catalogue
  items without any interaction, which makes recforge's ranking task marginally harder).
  Metrics are kept to 6 decimals (``metric_decimal_place: 6``; RecBole's default rounds to 4).
* Training: CPU only (``use_gpu: False``, ``device: cpu``), one thread (OMP/MKL/OPENBLAS set to 1
  before torch is imported, ``torch.set_num_threads(1)``), ``epochs: 100`` with RecBole's default
  early stopping (``stopping_step: 10``, ``eval_step: 1``: validation every epoch), RecBole's
  default BPR training otherwise (adam, batch 2048, one uniform negative); the best epoch's
  checkpoint is reloaded for test (``saved=True``, RecBole's default objective). Non-trainable
  models (EASE) fit once. ``show_progress: False``, ``seed: --seed``, hyperopt seeded through
  ``HYPEROPT_FMIN_SEED``.
* Tuning: ``recbole.trainer.HyperTuning(objective_function, params_file=..., algo='bayes')`` —
  hyperopt ``tpe.suggest`` — over a space built from RecBole's per-model tuning docs (see
  ``SPACES``; ``--space doc`` uses the documented choice lists verbatim). HyperTuning's own
  ``early_stop`` (stop after N trials without improvement, default 10) is raised to effectively
  off by default (``--early-stop``) so the method uses the whole budget like the others.
* Budget: wall clock from the first line of this script (so the torch/RecBole import, and every
  trial's own RecBole data loading, count). A timer stops the process when ``--budget-s`` has
  passed; a configuration still training then is lost, as it would be with a real budget. After
  every evaluated configuration one JSON line is appended (and flushed) to ``--out``:
  ``{"t", "params", "valid", "test", "model"}`` — ``t`` is seconds since start when the
  configuration finished, ``valid``/``test`` its best-epoch validation NDCG@10 and RecBole's test
  NDCG@10 of that same model. A first line ``{"event": "start", ...}`` records the import time.

Run (from recforge's ``search_efficiency.py --methods recbole-bpr``, or by hand)::

    /work/peers/recbole/bin/python benchmarks/_recbole_peer.py --train train.tsv \\
        --valid valid.tsv --test test.tsv --model BPR --budget-s 120 --seed 0 --out peer.jsonl
"""

from __future__ import annotations

import time

T_START = time.time()

import os  # noqa: E402

for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

# hyperopt's hp.loguniform(low, high) takes log-space bounds; RecBole's params file passes them on.
SPACES = {
    # "wide" (default): RecBole's documented ranges as continuous / discrete dimensions.
    "wide": {
        "BPR": [("learning_rate", "loguniform", f"{math.log(1e-4)},{math.log(1e-2)}"),
                ("embedding_size", "choice", "[32,64,128]")],
        "EASE": [("reg_weight", "loguniform", f"{math.log(1.0)},{math.log(1000.0)}")],
    },
    # "doc": the hyper.test lines of RecBole's model docs, verbatim.
    "doc": {
        "BPR": [("learning_rate", "choice", "[0.01,0.005,0.001,0.0005,0.0001]")],
        "EASE": [("reg_weight", "choice", "[1.0,10.0,100.0,250.0,500.0,1000.0]")],
    },
}
DEFAULT_SPACE = [("learning_rate", "loguniform", f"{math.log(1e-4)},{math.log(1e-2)}")]


def _write_inter(src: Path, dst: Path) -> int:
    n = 0
    with open(src) as f, open(dst, "w") as g:
        g.write("user_id:token\titem_id:token\n")
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[0].lstrip("-").isdigit():
                continue  # header
            g.write(f"{parts[0]}\t{parts[1]}\n")
            n += 1
    return n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", required=True)
    ap.add_argument("--valid", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--model", default="BPR", help="a RecBole general model, e.g. BPR or EASE")
    ap.add_argument("--budget-s", type=float, required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="JSON lines, one per evaluated configuration")
    ap.add_argument("--space", choices=sorted(SPACES), default="wide")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--early-stop", type=int, default=10**6,
                    help="HyperTuning's trials-without-improvement stop (RecBole's default: 10)")
    ap.add_argument("--log-state", default="WARNING", help="RecBole's logging level (INFO shows epochs)")
    ap.add_argument("--workdir", default=None, help="RecBole's data/log/checkpoint dir (default: a temp dir)")
    args = ap.parse_args()

    out = open(args.out, "a", buffering=1)  # noqa: SIM115 - the budget timer closes it, then exits
    lock = threading.Lock()
    stopped = threading.Event()

    def emit(rec: dict) -> bool:
        with lock:
            if stopped.is_set():
                return False
            out.write(json.dumps(rec) + "\n")
            out.flush()
            os.fsync(out.fileno())
            return True

    def stop() -> None:
        with lock:  # never cut a line in half
            stopped.set()
            out.flush()
            out.close()
            os._exit(0)

    timer = threading.Timer(max(0.0, args.budget_s - (time.time() - T_START)), stop)
    timer.daemon = True
    timer.start()

    os.environ["HYPEROPT_FMIN_SEED"] = str(args.seed)
    # RecBole 1.2.1 reloads its own best-epoch checkpoint with a bare torch.load(); torch >= 2.6
    # defaults to weights_only=True, which rejects it. The file is the one this process just wrote.
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    import torch

    torch.set_num_threads(1)
    from recbole.quick_start import objective_function
    from recbole.trainer import HyperTuning

    emit({"event": "start", "import_s": round(time.time() - T_START, 3), "model": args.model,
          "space": args.space, "torch_threads": torch.get_num_threads()})

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="recbole-peer-"))
    name = "rf"
    ddir = work / "data" / name
    ddir.mkdir(parents=True, exist_ok=True)
    for phase in ("train", "valid", "test"):
        _write_inter(Path(getattr(args, phase)), ddir / f"{name}.{phase}.inter")
    os.chdir(work)  # RecBole writes log/ and log_tensorboard/ into the working directory

    config = {
        "model": args.model, "dataset": name, "data_path": str(work / "data"),
        "checkpoint_dir": str(work / "saved"),
        "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id"]},
        "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id",
        "user_inter_num_interval": "[0,inf)", "item_inter_num_interval": "[0,inf)",
        "rm_dup_inter": None, "val_interval": None,
        "eval_args": {"group_by": "user", "order": "RO", "mode": "full"},
        "metrics": ["NDCG"], "topk": [10], "valid_metric": "NDCG@10", "valid_metric_bigger": True,
        "metric_decimal_place": 6,
        "use_gpu": False, "device": "cpu", "worker": 0,
        "epochs": args.epochs, "stopping_step": 10, "eval_step": 1,
        "show_progress": False, "seed": args.seed, "state": args.log_state,
    }
    cfg_file = work / "fixed.yaml"
    cfg_file.write_text(json.dumps(config))  # JSON is YAML
    space = SPACES[args.space].get(args.model, DEFAULT_SPACE)
    params_file = work / "hyper.test"
    params_file.write_text("".join(f"{n} {t} {v}\n" for n, t, v in space))

    def objective(config_dict, config_file_list):  # type: ignore[no-untyped-def]
        if time.time() - T_START >= args.budget_s:
            stop()
        res = objective_function(config_dict, config_file_list, saved=True)
        t = time.time() - T_START
        if t <= args.budget_s:
            emit({"t": round(t, 3), "params": dict(config_dict), "valid": float(res["best_valid_score"]),
                  "test": float(res["test_result"]["ndcg@10"]), "model": args.model})
        return res

    tuner = HyperTuning(objective, params_file=str(params_file), fixed_config_file_list=[str(cfg_file)],
                        algo="bayes", max_evals=10**6, early_stop=args.early_stop)
    tuner.run()
    timer.cancel()
    emit({"event": "done", "t": round(time.time() - T_START, 3)})
    out.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
