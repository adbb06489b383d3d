"""Peer half of bench_ctr_vs_deepctr.py: runs DeepCTR-Torch in its own virtual environment.

Run by the benchmark as ``/work/peers/deepctr/bin/python benchmarks/_deepctr_peer.py DIR MODEL``
where DIR holds the split written by the benchmark (``{train,valid,test}_x.npy``: per-field
local codes, int64; ``*_y.npy`` labels; ``sizes.npy`` vocabulary size per field;
``settings.json`` hyperparameters). Prints one JSON object on stdout. It imports nothing from
recforge (a different environment).
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from deepctr_torch.inputs import SparseFeat
from deepctr_torch.models import DCN, DeepFM
from sklearn.metrics import roc_auc_score


def main() -> None:
    root, model_name = Path(sys.argv[1]), sys.argv[2]
    s = json.loads((root / "settings.json").read_text())
    torch.set_num_threads(s["threads"])
    sizes = np.load(root / "sizes.npy")
    names = [f"f{j}" for j in range(len(sizes))]
    cols = [SparseFeat(n, vocabulary_size=int(v), embedding_dim=s["dim"]) for n, v in zip(names, sizes, strict=True)]

    def xs(part: str) -> dict[str, np.ndarray]:
        x = np.load(root / f"{part}_x.npy")
        return {n: x[:, j] for j, n in enumerate(names)}

    tr, va, te = xs("train"), xs("valid"), xs("test")
    ytr, yva, yte = (np.load(root / f"{p}_y.npy") for p in ("train", "valid", "test"))
    common = dict(dnn_hidden_units=tuple(s["hidden"]), l2_reg_linear=0.0, l2_reg_embedding=0.0,
                  l2_reg_dnn=0.0, init_std=s["init_std"], seed=s["seed"], dnn_dropout=0.0,
                  task="binary", device="cpu")
    if model_name == "deepfm":
        model = DeepFM(cols, cols, **common)
    elif model_name == "dcn-v2":
        model = DCN(cols, cols, cross_num=s["cross_layers"], cross_parameterization="matrix",
                    l2_reg_cross=0.0, **common)
    else:
        raise SystemExit(f"unknown model {model_name}")
    model.compile(torch.optim.Adam(model.parameters(), lr=s["lr"]), "binary_crossentropy", metrics=[])
    best_auc, best_state, best_epoch, bad = -1.0, None, 0, 0
    train_time = 0.0
    epochs_run = 0
    for epoch in range(1, s["epochs"] + 1):
        t0 = time.perf_counter()
        model.fit(tr, ytr, batch_size=s["batch_size"], epochs=1, verbose=0, shuffle=True)
        train_time += time.perf_counter() - t0
        epochs_run += 1
        auc = roc_auc_score(yva, model.predict(va, batch_size=65536).ravel())
        if auc > best_auc:
            best_auc, best_epoch, bad = auc, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            bad += 1
            if bad >= s["patience"]:
                break
    assert best_state is not None
    model.load_state_dict(best_state)
    p = model.predict(te, batch_size=65536).ravel()
    print(json.dumps({
        "test_auc": float(roc_auc_score(yte, p)),
        "valid_auc": float(best_auc),
        "best_epoch": best_epoch,
        "epochs": epochs_run,
        "samples_per_second": len(ytr) * epochs_run / train_time,
    }))


if __name__ == "__main__":
    main()
