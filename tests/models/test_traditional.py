"""Traditional models against independently computed answers."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from recforge import artifacts
from recforge.data import Interactions
from recforge.errors import ConfigError
from recforge.models.ease import EASE
from recforge.models.knn import ItemKNN, RP3beta
from recforge.models.mf import ALS, BPR


@pytest.fixture(scope="module")
def tiny() -> Interactions:
    r = np.random.default_rng(7)
    dense = r.random((25, 12)) < 0.3
    dense[np.arange(25), r.integers(0, 12, 25)] = True  # every user has an item
    dense[r.integers(0, 25, 12), np.arange(12)] = True  # every item has a user
    u, i = np.nonzero(dense)
    return Interactions.from_frame(pl.DataFrame({"u": u, "i": i}), user="u", item="i", name="tiny")


def dense_x(data: Interactions) -> np.ndarray:
    return data.to_csr("binary").toarray().astype(np.float64)


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-10), ("float32", 2e-5)])
def test_ease_closed_form_identity(tiny: Interactions, dtype: str, tol: float) -> None:
    X = dense_x(tiny)
    l2 = 3.0
    P = np.linalg.inv(X.T @ X + l2 * np.eye(X.shape[1]))
    B = np.eye(X.shape[1]) - P @ np.diag(1.0 / np.diag(P))
    model = EASE(l2=l2, dtype=dtype).fit(tiny)
    assert model.weights_.dtype == np.dtype(dtype)
    np.testing.assert_allclose(model.weights_, B, atol=tol)
    assert np.all(np.diag(model.weights_) == 0)
    np.testing.assert_allclose(np.diag(B), 0, atol=1e-12)
    scores = model.score_codes(np.arange(tiny.n_users))
    np.testing.assert_allclose(scores, X @ B, atol=max(tol, 1e-5) * 10)


def test_ease_sparse_and_dense_gram_paths_agree(tiny: Interactions) -> None:
    from recforge.models import ease

    X = tiny.to_csr("binary").astype(np.float32)
    out = {}
    for path in ("dense", "sparse"):
        G = np.zeros((X.shape[1],) * 2, dtype=np.float64, order="F")
        ease._gram_inplace(X, G, path)
        out[path] = np.triu(G)
    ref = np.triu(dense_x(tiny).T @ dense_x(tiny))
    np.testing.assert_allclose(out["dense"], ref)
    np.testing.assert_allclose(out["sparse"], ref)


def test_ease_memory_check_and_bad_l2(tiny: Interactions) -> None:
    with pytest.raises(ConfigError, match="needs about .* GB"):
        EASE(l2=1.0, max_memory_gb=1e-9).fit(tiny)
    with pytest.raises(ConfigError, match="l2 must be > 0"):
        EASE(l2=0.0)
    with pytest.raises(ConfigError, match="dtype"):
        EASE(dtype="float16")


def brute_cosine(X: np.ndarray, shrink: float) -> np.ndarray:
    co = X.T @ X
    norms = np.sqrt(np.diag(co))
    S = co / (np.outer(norms, norms) + shrink)
    np.fill_diagonal(S, 0.0)
    return S


@pytest.mark.parametrize("shrink", [0.0, 5.0])
def test_itemknn_equals_brute_force_cosine(tiny: Interactions, shrink: float) -> None:
    X = dense_x(tiny)
    S = brute_cosine(X, shrink)
    model = ItemKNN(neighbours=tiny.n_items, shrink=shrink).fit(tiny)
    np.testing.assert_allclose(model.weights_.toarray(), S, atol=1e-6)
    np.testing.assert_allclose(model.score_codes(np.arange(tiny.n_users)), X @ S, atol=1e-5)


def test_itemknn_keeps_top_k_per_candidate(tiny: Interactions) -> None:
    X = dense_x(tiny)
    S = brute_cosine(X, 2.0)
    k = 3
    W = ItemKNN(neighbours=k, shrink=2.0).fit(tiny).weights_.toarray()
    for j in range(tiny.n_items):
        kept = np.sort(W[:, j][W[:, j] > 0])[::-1]
        expect = np.sort(S[:, j])[::-1][:k]
        np.testing.assert_allclose(kept, expect[expect > 0], atol=1e-6)
        # every kept weight is the true similarity of that pair
        nz = np.flatnonzero(W[:, j])
        np.testing.assert_allclose(W[nz, j], S[nz, j], atol=1e-6)


def test_itemknn_similar_items(tiny: Interactions) -> None:
    S = brute_cosine(dense_x(tiny), 0.0)
    model = ItemKNN(neighbours=tiny.n_items, shrink=0.0).fit(tiny)
    idx, val = model.similar_items(np.array([0, 1]), k=3)
    for row, item in enumerate([0, 1]):
        assert item not in idx[row]
        np.testing.assert_allclose(val[row], np.sort(S[item])[::-1][:3], atol=1e-6)


def test_rp3beta_equals_brute_force(tiny: Interactions) -> None:
    X = dense_x(tiny)
    alpha, beta = 0.7, 0.4
    Pui = (X / X.sum(axis=1, keepdims=True)) ** alpha
    Piu = (X.T / X.T.sum(axis=1, keepdims=True)) ** alpha
    W = (Piu @ Pui) * X.sum(axis=0)[None, :] ** (-beta)
    np.fill_diagonal(W, 0.0)
    model = RP3beta(neighbours=tiny.n_items, alpha=alpha, beta=beta).fit(tiny)
    np.testing.assert_allclose(model.weights_.toarray(), W, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.score_codes(np.arange(5)), X[:5] @ W, rtol=1e-4, atol=1e-6)


def test_als_equals_raw_implicit(tiny: Interactions) -> None:
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    params = {"factors": 6, "regularization": 0.05, "alpha": 2.0, "iterations": 4}
    ours = ALS(**params, seed=11).fit(tiny)
    with threadpool_limits(1, "blas"):
        raw = AlternatingLeastSquares(**params, random_state=11)
        raw.fit(tiny.to_csr("binary").astype(np.float32), show_progress=False)
    np.testing.assert_allclose(ours.item_factors_, raw.item_factors, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.user_factors_, raw.user_factors, rtol=1e-5, atol=1e-6)


def test_bpr_equals_raw_implicit(tiny: Interactions) -> None:
    from implicit.cpu.bpr import BayesianPersonalizedRanking
    from threadpoolctl import threadpool_limits

    params = {"factors": 6, "learning_rate": 0.05, "regularization": 0.01, "iterations": 7}
    ours = BPR(**params, seed=5).fit(tiny)
    with threadpool_limits(1, "blas"):
        raw = BayesianPersonalizedRanking(**params, random_state=5, num_threads=1)
        raw.fit(tiny.to_csr("binary").astype(np.float32), show_progress=False)
    np.testing.assert_allclose(ours.item_factors_, raw.item_factors, rtol=1e-6)
    scores = ours.score_codes(np.arange(3))
    np.testing.assert_allclose(scores, raw.user_factors[:3] @ raw.item_factors.T, rtol=1e-5, atol=1e-6)


def test_epoch_callback_reports_and_stops(tiny: Interactions) -> None:
    reports = []
    ALS(factors=4, iterations=5).fit(tiny, callback=lambda r: reports.append(r))
    assert [r.epoch for r in reports] == [1, 2, 3, 4, 5]
    assert all(r.elapsed >= 0 for r in reports)
    model = BPR(factors=4, iterations=50).fit(tiny, callback=lambda r: r.epoch >= 3)
    assert model.epochs_run_ == 3


def test_epoch_callback_validation_metric(tiny: Interactions) -> None:
    from recforge import split

    parts = split.random_holdout(tiny, (0.7, 0.0, 0.3), seed=0)
    reports = []
    ALS(factors=4, iterations=4, valid_every=2).fit(parts.train, parts.test, callback=reports.append)
    got = [(r.epoch, r.metric is not None) for r in reports]
    assert got == [(1, False), (2, True), (3, False), (4, True)]
    assert reports[1].metric_name == "ndcg@10" and 0.0 <= reports[1].metric <= 1.0


def test_als_fold_in_after_artifact_load(tiny: Interactions, tmp_path) -> None:
    model = ALS(factors=4, iterations=3).fit(tiny)
    artifacts.save(model, tmp_path / "als")
    loaded = artifacts.load(tmp_path / "als")
    hist = [tiny.decode_items(tiny.to_csr()[0].indices).tolist()]
    a, _ = model.recommend_history(hist, k=4)
    b, _ = loaded.recommend_history(hist, k=4)
    np.testing.assert_array_equal(a.item_codes, b.item_codes)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5)


def test_history_scoring_ignores_weights(tiny: Interactions) -> None:
    """Fold-in scores binarise the history, matching how the models were trained."""
    model = EASE(l2=2.0).fit(tiny)
    h = tiny.to_csr("binary")[:2].astype(np.float32)
    h2 = h.copy()
    h2.data[:] = 5.0
    np.testing.assert_allclose(model._score_history(sp.csr_matrix(h)), model._score_history(sp.csr_matrix(h2)))


def test_itemknn_history_neighbourhood_and_row_normalisation(tiny: Interactions) -> None:
    S = brute_cosine(dense_x(tiny), 1.0)
    k = 4
    W = ItemKNN(neighbours=k, shrink=1.0, neighbourhood="history").fit(tiny).weights_.toarray()
    for i in range(tiny.n_items):  # each history item keeps its own k most similar items
        kept = np.sort(W[i][W[i] > 0])[::-1]
        expect = np.sort(S[i])[::-1][:k]
        np.testing.assert_allclose(kept, expect[expect > 0], atol=1e-6)
    Wn = ItemKNN(neighbours=k, shrink=1.0, neighbourhood="history",
                 l1_normalize=True).fit(tiny).weights_.toarray()
    np.testing.assert_allclose(Wn, W / W.sum(axis=1, keepdims=True), atol=1e-6)


@pytest.mark.parametrize("block", [3, 5, 64])
def test_ease_blocked_inverse_equals_lapack(tiny: Interactions, block: int, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The blocked in-place inverse used for large catalogues gives the same B."""
    from recforge.models import ease

    ref = EASE(l2=2.0, dtype="float64").fit(tiny).weights_
    monkeypatch.setattr(ease, "_LAPACK_MAX_ITEMS", 0)
    orig = ease._inverse_spd_inplace
    monkeypatch.setattr(ease, "_inverse_spd_inplace",
                        lambda G, blocked: orig(G, blocked=blocked, block=block))
    got = EASE(l2=2.0, dtype="float64").fit(tiny).weights_
    np.testing.assert_allclose(got, ref, atol=1e-10)


def test_models_attribute_access_is_lazy_and_registered() -> None:
    import recforge as rf

    assert rf.models.EASE is EASE and rf.models.ItemKNN is ItemKNN and rf.models.BPR is BPR
    with pytest.raises(AttributeError, match="Nope"):
        _ = rf.models.Nope


def test_itemknn_bars_variant_equals_reference_formula(tiny: Interactions) -> None:
    """BARS/Open-CF-Benchmarks ItemKNN: cosine, top-k per candidate, l1-normalised rows,
    ``pred = S @ (R - mean) + mean`` — computed here densely with numpy. (k = all items:
    the top-k selection is checked separately, and binary data has many cosine ties.)"""
    X = dense_x(tiny)
    k = tiny.n_items
    S = brute_cosine(X, 0.0)  # rows: candidate items
    keep = np.zeros_like(S, dtype=bool)
    for j in range(S.shape[0]):
        keep[j, np.argsort(-S[j], kind="stable")[:k]] = True
    S = np.where(keep, S, 0.0)
    S = S / S.sum(axis=1, keepdims=True)
    mean = X.mean(axis=0)
    pred = (S @ (X - mean).T + mean[:, None]).T  # users x items
    model = ItemKNN(neighbours=k, shrink=0.0, l1_normalize=True, average_bias=True).fit(tiny)
    np.testing.assert_allclose(model.score_codes(np.arange(tiny.n_users)), pred, atol=1e-5)


def test_diverging_factorisation_is_a_clear_error(tiny: Interactions) -> None:
    # a learning rate this large blows BPR's SGD up to NaN (implicit's ModelFitError)
    with pytest.raises(ConfigError, match=r"bpr diverged .*lower learning_rate \(now 5\)"):
        BPR(factors=8, learning_rate=5.0, regularization=0.0, iterations=20, seed=0).fit(tiny)


def test_overflowing_factors_are_a_clear_error(tiny: Interactions, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # finite factors whose products overflow float32 would rank every item at inf
    import implicit.cpu.als

    real_fit = implicit.cpu.als.AlternatingLeastSquares.fit

    def huge(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        real_fit(self, *args, **kwargs)
        self.user_factors[:] = 1e20
        self.item_factors[:] = 1e20

    monkeypatch.setattr(implicit.cpu.als.AlternatingLeastSquares, "fit", huge)
    with pytest.raises(ConfigError, match=r"als diverged .*overflow float32\); raise regularization"):
        ALS(factors=4, iterations=2, seed=0).fit(tiny)


def test_divergence_during_fit_stops_before_validating_inf_scores(tiny: Interactions, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import warnings

    import implicit.cpu.als

    from recforge import split

    def exploding(self, user_items, show_progress=False, callback=None):  # type: ignore[no-untyped-def]
        n_users, n_items = user_items.shape
        self.user_factors = np.full((n_users, self.factors), 1e20, dtype=np.float32)
        self.item_factors = np.full((n_items, self.factors), 1e20, dtype=np.float32)
        callback(0, 0.0, 0.0)  # the first epoch's report, with a validation metric due

    import recforge.evaluation

    evaluated: list[object] = []
    monkeypatch.setattr(implicit.cpu.als.AlternatingLeastSquares, "fit", exploding)
    monkeypatch.setattr(recforge.evaluation, "evaluate", lambda *a, **k: evaluated.append(a))
    parts = split.random_holdout(tiny, (0.7, 0.0, 0.3), seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ConfigError, match="als diverged after 1 epoch"):
            ALS(factors=4, iterations=4, valid_every=1).fit(parts.train, parts.test, callback=lambda r: None)
    assert evaluated == []  # stopped before scoring the validation users with overflowing factors
