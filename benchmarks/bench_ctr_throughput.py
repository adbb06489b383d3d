"""DeepFM training throughput on a synthetic Criteo-shaped log: straightforward PyTorch vs recforge.

Shape (issue 5 / shared/MACHINE.md): 39 fields (13 numeric, log-transformed, one embedding row
each scaled by the value + 26 categorical with ~38.5k values each: 1,000,013 table rows in all),
embedding 16, MLP 3x400, batch 4096, Adam lr 1e-3, click labels from a planted logistic
model (so the loss is meaningful).

* ``baseline``: the straightforward PyTorch DeepFM -- one ``nn.Embedding`` (dense gradients)
  and one first-order table per field, ``torch.optim.Adam`` on everything, a fresh tensor per
  batch by fancy indexing (what a plain script or DeepCTR-style code does);
* ``recforge``: :class:`recforge.models.ctr.networks.DeepFMNet` through
  :func:`recforge.models.ctr.loop.train` (one fused table, sparse gradients, sort-free
  row-sparse Adam, preallocated batch buffers);
* ``recforge+SparseAdam``: the same with ``torch.optim.SparseAdam`` (shows the optimizer's part);
* ``recforge+bf16`` (``--bf16``): bf16 autocast for the MLP (reported, not the default: on
  Frappe it cost AUC, see bench_ctr_vs_deepctr.py).

Each variant trains ``--steps`` batches, in ``--rounds`` interleaved rounds (other jobs on a
shared machine slow all variants alike within a round); the best round is reported, with the
ratio to the baseline from the same round.

Usage: python benchmarks/bench_ctr_throughput.py [--steps 12] [--rounds 2] [--threads N] [--bf16]
Target (issue 5): recforge >= 40k samples/s here; the baseline runs ~20k on an idle machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

N_NUM, N_CAT, DIM, HIDDEN, BATCH = 13, 26, 16, (400, 400, 400), 4096
CAT_SIZE = 1_000_000 // N_CAT  # 38,461 values per categorical field


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Per-field local codes (Zipf-like popularity), numeric values, labels, field sizes."""
    r = np.random.default_rng(seed)
    sizes = [1] * N_NUM + [CAT_SIZE] * N_CAT
    codes = np.zeros((n, N_NUM + N_CAT), dtype=np.int64)
    for j in range(N_NUM, N_NUM + N_CAT):
        codes[:, j] = (r.zipf(1.1, n) - 1) % CAT_SIZE
    x = np.ones((n, N_NUM + N_CAT), dtype=np.float32)
    x[:, :N_NUM] = np.log1p(r.exponential(5.0, (n, N_NUM))).astype(np.float32)
    w = r.normal(0, 0.3, (N_CAT, 64))
    logit = w[np.arange(N_CAT), codes[:, N_NUM:] % 64].sum(1) + 0.2 * x[:, :N_NUM].sum(1) - 2.5
    y = (r.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return codes, x, y, sizes


class PlainDeepFM(nn.Module):
    """The straightforward version: per-field tables with dense gradients."""

    def __init__(self, sizes: list[int]) -> None:
        super().__init__()
        self.emb = nn.ModuleList(nn.Embedding(s, DIM) for s in sizes)
        self.lin = nn.ModuleList(nn.Embedding(s, 1) for s in sizes)
        for e in [*self.emb, *self.lin]:
            nn.init.normal_(e.weight, 0, 1e-4)
        layers: list[nn.Module] = []
        d = len(sizes) * DIM
        for h in HIDDEN:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        layers.append(nn.Linear(d, 1))
        self.mlp = nn.Sequential(*layers)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, codes: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        e = torch.stack([m(codes[:, j]) for j, m in enumerate(self.emb)], dim=1) * x.unsqueeze(-1)
        lin = torch.cat([m(codes[:, j]) for j, m in enumerate(self.lin)], dim=1) * x
        s = e.sum(1)
        fm = 0.5 * (s * s - (e * e).sum(1)).sum(1)
        return lin.sum(1) + fm + self.mlp(e.flatten(1)).squeeze(-1) + self.bias


def run_baseline(codes: np.ndarray, x: np.ndarray, y: np.ndarray, sizes: list[int], steps: int) -> tuple[float, float]:
    torch.manual_seed(0)
    net = PlainDeepFM(sizes)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()
    c_t, x_t, y_t = torch.from_numpy(codes), torch.from_numpy(x), torch.from_numpy(y)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    t0 = time.perf_counter()
    total = 0.0
    for s in range(steps):
        rows = perm[s * BATCH:(s + 1) * BATCH]
        opt.zero_grad()
        loss = loss_fn(net(c_t[rows], x_t[rows]), y_t[rows])
        loss.backward()
        opt.step()
        total += float(loss.detach())
    return steps * BATCH / (time.perf_counter() - t0), total / steps


def run_ours(codes: np.ndarray, x: np.ndarray, y: np.ndarray, sizes: list[int], steps: int, *,
             bf16: bool, sparse_optimizer: str, threads: int) -> tuple[float, float]:
    from recforge.models.ctr.loop import Batches, LoopSettings, train
    from recforge.models.ctr.networks import DeepFMNet

    offsets = np.r_[0, np.cumsum(sizes)[:-1]]
    index = (codes + offsets[None, :]).astype(np.int64)
    n = steps * BATCH
    torch.manual_seed(0)
    net = DeepFMNet(int(sum(sizes)), len(sizes), DIM, HIDDEN)
    data = Batches.from_arrays(index[:n], x[:n], target=y[:n])
    res = train(net, data, settings=LoopSettings(epochs=1, batch_size=BATCH, bf16=bf16, threads=threads,
                                                 sparse_optimizer=sparse_optimizer, seed=0))
    return res.samples_per_second, float(res.history[-1].loss or 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="0 = recforge's default (free cores)")
    ap.add_argument("--bf16", action="store_true")
    args = ap.parse_args()
    from recforge.models.ctr.loop import default_threads

    threads = args.threads or default_threads()
    torch.set_num_threads(threads)
    codes, x, y, sizes = make_data(args.steps * BATCH)
    print(f"DeepFM, {len(sizes)} fields, {sum(sizes):,} table rows, dim {DIM}, MLP {HIDDEN}, batch {BATCH}, "
          f"{args.steps} steps x {args.rounds} rounds, torch threads {threads}", flush=True)
    variants = {
        "baseline (plain PyTorch)": lambda: run_baseline(codes, x, y, sizes, args.steps),
        "recforge": lambda: run_ours(codes, x, y, sizes, args.steps, bf16=False, sparse_optimizer="row", threads=threads),
        "recforge+SparseAdam": lambda: run_ours(codes, x, y, sizes, args.steps, bf16=False, sparse_optimizer="torch",
                                                threads=threads),
    }
    if args.bf16:
        variants["recforge+bf16"] = lambda: run_ours(codes, x, y, sizes, args.steps, bf16=True,
                                                     sparse_optimizer="row", threads=threads)
    best: dict[str, float] = {}
    ratios: dict[str, float] = {}
    for rnd in range(1, args.rounds + 1):
        base = 0.0
        for name, fn in variants.items():
            sps, loss = fn()
            if name.startswith("baseline"):
                base = sps
            ratio = sps / base if base else float("nan")
            print(f"round {rnd}: {name:26s} {sps:10,.0f} samples/s  (x{ratio:.2f} baseline)  mean loss {loss:.4f}",
                  flush=True)
            if sps > best.get(name, 0.0):
                best[name], ratios[name] = sps, ratio
    print("\nbest round per variant:")
    for name, sps in best.items():
        print(f"  {name:26s} {sps:10,.0f} samples/s  x{ratios[name]:.2f} baseline (same round)")
    ok = best["recforge"] >= 40_000
    print(f"\ntarget >= 40,000 samples/s for recforge (float32): {'met' if ok else 'NOT met'} "
          f"({best['recforge']:,.0f})")


if __name__ == "__main__":
    main()
