"""CTR models: FM's O(kn) term, memorisation (AUC 1), determinism, early stopping and the
callback, state round trip, the sort-free sparse Adam against torch.optim.SparseAdam."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import polars as pl
import pytest

torch = pytest.importorskip("torch")

from recforge import registry  # noqa: E402
from recforge.data.features import FeatureLog  # noqa: E402
from recforge.errors import ArtifactError, DataError, NotFittedError  # noqa: E402
from recforge.metrics.classification import auc  # noqa: E402
from recforge.models.base import EpochReport  # noqa: E402
from recforge.models.ctr import FM, DeepFM  # noqa: E402
from recforge.models.ctr.layers import fm_interaction  # noqa: E402
from recforge.models.ctr.optim import RowSparseAdam  # noqa: E402

CTR_NAMES = ["lr", "fm", "wide-deep", "deepfm", "dcn-v2", "dlrm"]
SMALL = {"dim": 8, "threads": 1, "batch_size": 64}
DEEP = {"hidden": (32, 32)}


def _params(name: str, **kw: object) -> dict[str, object]:
    out: dict[str, object] = {**SMALL, **kw}
    if name not in ("lr", "fm"):
        out.update(DEEP)
    return out


def _synthetic(n: int = 600, seed: int = 0, numeric: bool = True) -> FeatureLog:
    r = np.random.default_rng(seed)
    u, i, x = r.integers(0, 30, n), r.integers(0, 20, n), r.exponential(3.0, n)
    wu, wi = r.normal(size=30), r.normal(size=20)
    y = (r.random(n) < 1 / (1 + np.exp(-(2 * wu[u] + 2 * wi[i])))).astype(int)
    df = pl.DataFrame({"y": y, "u": u, "i": i, "x": x})
    return FeatureLog.from_frame(df, label="y", categorical=["u", "i"], numeric=["x"] if numeric else [],
                                 group="u")


def test_fm_interaction_equals_brute_force_pairwise_sum() -> None:
    g = torch.Generator().manual_seed(0)
    emb = torch.randn(5, 7, 4, generator=g, dtype=torch.float64)
    brute = torch.zeros(5, dtype=torch.float64)
    for a, b in itertools.combinations(range(7), 2):
        brute += (emb[:, a] * emb[:, b]).sum(dim=1)
    torch.testing.assert_close(fm_interaction(emb), brute)


def test_fm_model_logit_is_bias_linear_plus_pairwise() -> None:
    log = _synthetic(200)
    m = FM(**SMALL, epochs=1).fit(log)
    enc = m.encode(log.subset(np.arange(3)))
    w = m.net_.embedding.table.weight.detach().double()
    idx = torch.from_numpy(enc.index.astype(np.int64))
    val = torch.from_numpy(enc.value).double()
    rows = w[idx] * val.unsqueeze(-1)
    expected = m.net_.bias.detach().double() + rows[..., 0].sum(1)
    for a, b in itertools.combinations(range(rows.shape[1]), 2):
        expected = expected + (rows[:, a, 1:] * rows[:, b, 1:]).sum(1)
    np.testing.assert_allclose(m.predict_logits(enc), expected.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", CTR_NAMES)
def test_model_memorises_a_tiny_dataset(name: str) -> None:
    # 16 rows, each (u, i) pair unique, labels at random: only memorisation gets AUC 1.
    # Models with feature interactions must learn it from (u, i); LR is additive, so it gets
    # a row-id field to memorise with.
    r = np.random.default_rng(1)
    u, i = np.repeat(np.arange(4), 4), np.tile(np.arange(4), 4)
    y = r.permutation(np.r_[np.ones(8, int), np.zeros(8, int)])
    df = pl.DataFrame({"y": y, "u": u, "i": i, "x": r.random(16), "rid": np.arange(16)})
    cats = ["u", "i", "rid"] if name == "lr" else ["u", "i"]
    log = FeatureLog.from_frame(df, label="y", categorical=cats, numeric=["x"])
    m = registry.create(name, _params(name, epochs=150, batch_size=16, lr=0.03, lr_embedding=0.1,
                                      init_std=0.1, patience=0))
    m.fit(log)
    assert auc(log.labels, m.predict_proba(log)) == 1.0


@pytest.mark.parametrize("name", CTR_NAMES)
def test_fit_is_deterministic_and_refits_from_scratch(name: str) -> None:
    log = _synthetic(300)
    tr, va = log.subset(np.arange(240)), log.subset(np.arange(240, 300))
    a = registry.create(name, _params(name, epochs=2)).fit(tr, va)
    pa = a.predict_proba(va)
    assert pa.dtype == np.float32 and pa.shape == (60,) and ((pa > 0) & (pa < 1)).all()
    b = registry.create(name, _params(name, epochs=2)).fit(tr, va)
    np.testing.assert_array_equal(pa, b.predict_proba(va))
    a.fit(tr, va)  # second fit on the same object starts over
    np.testing.assert_array_equal(pa, a.predict_proba(va))
    assert "ctr" in a.tags


def test_learns_signal_and_beats_chance_on_held_out_rows() -> None:
    log = _synthetic(3000, numeric=False)
    tr, va, te = log.random_split((0.8, 0.1, 0.1), seed=0)
    m = DeepFM(**SMALL, **DEEP, epochs=10, lr_embedding=0.01).fit(tr, va)
    res = m.evaluate(te, ["auc", "logloss", "gauc", "calibration"])
    assert res["auc"] > 0.75
    assert 0.5 < res["calibration"] < 2.0


def test_early_stopping_restores_best_epoch_and_callback_sees_every_epoch() -> None:
    log = _synthetic(400)
    tr, va = log.subset(np.arange(320)), log.subset(np.arange(320, 400))
    seen: list[EpochReport] = []
    m = DeepFM(**SMALL, **DEEP, epochs=40, patience=2, lr=0.01, lr_embedding=0.05).fit(
        tr, va, callback=lambda r: seen.append(r) and None)
    assert len(seen) == len(m.history_) < 40  # stopped early (the tiny set overfits fast)
    assert [r.epoch for r in seen] == list(range(1, len(seen) + 1))
    assert all(r.metric_name == "auc" and r.loss is not None for r in seen)
    best = max(seen, key=lambda r: r.metric or 0).epoch
    assert m.best_epoch_ == best and len(seen) == best + 2
    assert auc(va.labels, m.predict_proba(va)) == pytest.approx(seen[best - 1].metric, abs=1e-6)
    stopped = DeepFM(**SMALL, **DEEP, epochs=10).fit(tr, va, callback=lambda r: r.epoch >= 3)
    assert len(stopped.history_) == 3


def test_state_roundtrip_and_artifact(tmp_path: Path) -> None:
    from recforge.models.ctr.artifact import load_ctr, save_ctr

    log = _synthetic(300)
    m = registry.create("dcn-v2", _params("dcn-v2", epochs=1)).fit(log)
    p = m.predict_proba(log)
    save_ctr(m, tmp_path / "art")
    m2 = load_ctr(tmp_path / "art")
    np.testing.assert_array_equal(m2.predict_proba(log), p)
    blob = bytearray((tmp_path / "art" / "state.safetensors").read_bytes())
    blob[-1] ^= 0xFF
    (tmp_path / "art" / "state.safetensors").write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="SHA-256"):
        load_ctr(tmp_path / "art")


def test_errors() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        FM().predict_proba(_synthetic(10))
    df = pl.DataFrame({"y": [1, 1], "u": ["a", "b"]})
    with pytest.raises(DataError, match="all 1"):
        FM().fit(FeatureLog.from_frame(df, label="y", categorical=["u"]))


def test_row_sparse_adam_matches_torch_sparse_adam() -> None:
    finals = []
    for opt_cls in (torch.optim.SparseAdam, RowSparseAdam):
        torch.manual_seed(0)
        emb = torch.nn.Embedding(50, 3, sparse=True)
        opt = opt_cls(emb.parameters(), lr=0.05)
        g = torch.Generator().manual_seed(1)
        for _ in range(15):
            idx = torch.randint(0, 20, (16, 3), generator=g)  # duplicates within a batch
            opt.zero_grad()
            (emb(idx) ** 2).sum().backward()
            opt.step()
        finals.append(emb.weight.detach().clone())
    torch.testing.assert_close(finals[0], finals[1], rtol=1e-5, atol=1e-6)
