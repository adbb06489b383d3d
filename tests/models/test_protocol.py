"""The shared model contract, run against every registered top-K model.

New models join automatically through ``recforge.registry.names("topk")``; give slow ones
small parameters in ``FAST_PARAMS``. Models tagged ``neural`` skip when torch is missing.
"""

from __future__ import annotations

import numpy as np
import pytest

from recforge import artifacts, registry
from recforge.data import Interactions
from recforge.errors import ConfigError, DataError, NotFittedError
from recforge.models.base import TAG_FOLD_IN, TAG_NEURAL
from tests.conftest import synthetic_frame

#: small, fast parameters per model name (defaults to {}); other helpers add theirs here.
FAST_PARAMS: dict[str, dict[str, object]] = {
    "item-knn": {"neighbours": 10},
    "rp3beta": {"neighbours": 10},
    "ease": {"l2": 10.0},
    "als": {"factors": 8, "iterations": 3},
    "bpr": {"factors": 8, "iterations": 5},
    "two-stage": {"retriever": "most-popular", "n_candidates": 10, "ranker": "lr",
                  "ranker_params": '{"epochs": 2, "batch_size": 256, "threads": 1}'},
    "mult-vae": {"epochs": 2, "hidden": 16, "latent": 8, "batch_size": 16},
    "lightgcn": {"epochs": 2, "dim": 8, "n_layers": 2, "batch_size": 64, "lr": 0.01},
    "sasrec": {"epochs": 2, "dim": 8, "max_len": 5, "n_layers": 1, "batch_size": 16},
    "two-tower": {"epochs": 2, "dim": 8, "hidden": "16", "batch_size": 32},
}

MODELS = registry.names("topk")

#: models whose fold-in scores are not a function of the history alone (reason given)
FOLD_IN_NOT_EXACT = {"random": "fold-in scores are fresh random numbers, by design"}


def make(name: str, **extra: object):
    cls = registry.get(name)
    if TAG_NEURAL in cls.tags:
        pytest.importorskip("torch")
    return cls(**{**FAST_PARAMS.get(name, {}), **extra})


@pytest.fixture(scope="module")
def data() -> Interactions:
    return Interactions.from_frame(synthetic_frame(n_users=40, n_items=30, per_user=6, seed=3),
                                   user="user", item="item", rating="rating",
                                   timestamp="timestamp", name="synthetic")


def _recs(model, data, k=5):
    return model.recommend(data.user_ids, k=k)


@pytest.mark.parametrize("name", MODELS)
def test_config_json_round_trip(name: str) -> None:
    cls = registry.get(name)
    cfg = cls.config_class.from_dict(FAST_PARAMS.get(name, {}))
    again = cls.config_class.from_json(cfg.to_json())
    assert again == cfg
    assert make(name).config == cfg


@pytest.mark.parametrize("name", MODELS)
def test_unknown_config_key_rejected(name: str) -> None:
    cls = registry.get(name)
    with pytest.raises(ConfigError, match="no_such_field"):
        cls(no_such_field=1)


@pytest.mark.parametrize("name", MODELS)
def test_not_fitted(name: str, data: Interactions) -> None:
    model = make(name)
    with pytest.raises(NotFittedError, match="fit"):
        model.recommend(data.user_ids[:1], k=3)


@pytest.mark.parametrize("name", MODELS)
def test_fit_twice_same_result_and_deterministic(name: str, data: Interactions) -> None:
    m1 = make(name).fit(data)
    first = _recs(m1, data)
    assert m1.fit(data) is m1
    again = _recs(m1, data)
    m2 = make(name).fit(data)  # a new instance with the same config/seed
    other = _recs(m2, data)
    np.testing.assert_array_equal(first.item_codes, again.item_codes)
    np.testing.assert_allclose(first.scores, again.scores, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(first.item_codes, other.item_codes)
    np.testing.assert_allclose(first.scores, other.scores, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_batch_equals_single(name: str, data: Interactions) -> None:
    model = make(name).fit(data)
    users = data.user_ids[:7]
    batch = model.recommend(users, k=5)
    for j, u in enumerate(users):
        one = model.recommend([u], k=5)
        np.testing.assert_array_equal(one.item_codes[0], batch.item_codes[j])
        np.testing.assert_allclose(one.scores[0], batch.scores[j], rtol=1e-5, atol=1e-6)
    # score() agrees with recommend's scores
    s = model.score(users[:1], batch.items[0])
    np.testing.assert_allclose(s[0], batch.scores[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODELS)
def test_unknown_user_raises(name: str, data: Interactions) -> None:
    model = make(name).fit(data)
    with pytest.raises(DataError):
        model.recommend(["no-such-user-xyz"], k=3)
    with pytest.raises(DataError):
        model.score_codes(np.array([data.n_users]))


@pytest.mark.parametrize("name", MODELS)
def test_exclude_seen(name: str, data: Interactions) -> None:
    model = make(name).fit(data)
    seen = data.to_csr("binary")
    idx, _ = model.recommend_codes(np.arange(data.n_users), k=10)
    for u in range(data.n_users):
        hist = set(seen[u].indices.tolist())
        assert not hist & set(idx[u][idx[u] >= 0].tolist()), f"user {u} got a seen item"
    # with exclude_seen=False seen items are allowed back (k = all items: every item appears)
    idx_all, _ = model.recommend_codes(np.arange(3), k=data.n_items, exclude_seen=False)
    assert (idx_all >= 0).all()


@pytest.mark.parametrize("name", MODELS)
def test_artifact_round_trip(name: str, data: Interactions, tmp_path) -> None:
    model = make(name).fit(data)
    before = _recs(model, data)
    artifacts.save(model, tmp_path / "art")
    loaded = artifacts.load(tmp_path / "art")
    after = _recs(loaded, data)
    assert loaded.config == model.config
    np.testing.assert_array_equal(before.item_codes, after.item_codes)
    np.testing.assert_allclose(before.scores, after.scores, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in MODELS if TAG_FOLD_IN in registry.get(n).tags])
def test_fold_in_matches_known_user(name: str, data: Interactions) -> None:
    """Scoring a training user's own history as an anonymous user gives the same top-k
    (exact for history-based models; ALS re-solves the user's factors, so only the ranking
    of the first few items is compared there)."""
    if name in FOLD_IN_NOT_EXACT:
        pytest.skip(FOLD_IN_NOT_EXACT[name])
    model = make(name).fit(data)
    users = data.user_ids[:5]
    seen = data.to_csr("binary")
    histories = [data.decode_items(seen[c].indices).tolist() for c in data.encode_users(users)]
    folded, unknown = model.recommend_history(histories + [["unknown-item"]], k=5)
    assert unknown[-1] == ["unknown-item"] and all(not u for u in unknown[:-1])
    direct = model.recommend(users, k=5)
    if name == "als":
        overlap = np.mean([len(set(a) & set(b)) / 5 for a, b in
                           zip(folded.item_codes[:5], direct.item_codes, strict=True)])
        assert overlap >= 0.6
    else:
        np.testing.assert_array_equal(folded.item_codes[:5], direct.item_codes)
