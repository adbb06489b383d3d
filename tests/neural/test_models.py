"""Behaviour of the neural models against answers known independently of the code."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

torch = pytest.importorskip("torch")

from recforge import registry  # noqa: E402
from recforge.data import Interactions  # noqa: E402
from recforge.models.base import EpochReport  # noqa: E402


def two_communities(n_users: int = 60, n_items: int = 24, per_user: int = 6, seed: int = 0,
                    features: bool = False) -> tuple[Interactions, np.ndarray, np.ndarray]:
    """Users of group g (= user % 2) only interact with items of group g (= item % 2)."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        own = np.arange(u % 2, n_items, 2)
        for i in rng.choice(own, size=per_user, replace=False):
            users.append(u)
            items.append(int(i))
    n = len(users)
    df = pl.DataFrame({"user": users, "item": items, "timestamp": np.arange(n) + 1_000})
    kw = {}
    if features:
        kw["user_features"] = pl.DataFrame({"user": np.arange(n_users),
                                            "group": [f"g{u % 2}" for u in range(n_users)]})
        kw["item_features"] = pl.DataFrame({"item": np.arange(n_items),
                                            "kind": [f"k{i % 2}" for i in range(n_items)],
                                            "weight": np.linspace(0.0, 1.0, n_items)})
    data = Interactions.from_frame(df, user="user", item="item", timestamp="timestamp", **kw)
    return data, data.user_ids % 2, data.item_ids % 2


LEARNS = {
    "mult-vae": {"epochs": 60, "hidden": 32, "latent": 8, "batch_size": 20, "lr": 0.01},
    "lightgcn": {"epochs": 30, "dim": 16, "n_layers": 2, "batch_size": 64, "lr": 0.02},
    "two-tower": {"epochs": 30, "dim": 16, "hidden": "32", "batch_size": 64, "lr": 0.02},
}


@pytest.mark.parametrize("name", sorted(LEARNS))
def test_learns_the_community_structure(name: str) -> None:
    """Unseen top-3 items all come from the user's own community (random: 1/2 per slot)."""
    data, ugroup, igroup = two_communities()
    model = registry.create(name, LEARNS[name]).fit(data)
    idx, _ = model.recommend_codes(np.arange(data.n_users), k=3)
    own = igroup[idx] == ugroup[:, None]
    assert own.mean() >= 0.95, f"{name}: only {own.mean():.2f} of recommendations in-community"


def test_two_tower_side_features_place_a_cold_item() -> None:
    """An item with no training interactions is placed by its features alone: its "kind"
    feature says even (group 0), so group-0 users must score it above group-1 users."""
    data, ugroup, igroup = two_communities(features=True)
    cold = int(np.flatnonzero(igroup == 0)[0])
    train = data.subset(data.item != cold)
    params = {"epochs": 30, "dim": 8, "hidden": "16", "batch_size": 64, "lr": 0.02}
    model = registry.create("two-tower", params).fit(train)
    m = model.module_
    assert len(m.user.cats) == 1 and len(m.item.cats) == 1 and m.item.num is not None
    codes = m.item.cat_codes[:, 0].numpy()  # the encoded category follows the raw feature
    assert len(set(zip(codes.tolist(), igroup.tolist(), strict=True))) == 2
    scores = model.score_codes(np.arange(data.n_users))[:, cold]
    gap = scores[ugroup == 0].mean() - scores[ugroup == 1].mean()
    assert gap > 0.3, f"cold item's score gap between communities is only {gap:.3f}"
    idx, _ = model.recommend_codes(np.arange(data.n_users), k=3)
    assert (igroup[idx] == ugroup[:, None]).mean() >= 0.95


def test_encode_features_handles_nulls_and_types() -> None:
    from recforge.models.neural.two_tower import encode_features

    frame = pl.DataFrame({"id": [1, 2, 3, 4], "city": ["a", None, "b", "a"],
                          "age": [10.0, None, 30.0, 20.0], "flag": [True, False, None, True]})
    cat, cards, num = encode_features(frame)
    assert cat.shape == (4, 2) and cards == [3, 3]
    assert cat[:, 0].tolist() == [1, 0, 2, 1]  # null -> 0, a -> 1, b -> 2
    assert cat[2, 1] == 0 and cat[0, 1] == cat[3, 1] != cat[1, 1]
    # mean-imputed then standardised: [10, 20, 30, 20] -> mean 20
    np.testing.assert_allclose(num[:, 0], (np.array([10, 20, 30, 20]) - 20) / np.std([10, 20, 30, 20]),
                               rtol=1e-6)


def test_two_tower_logq_loss_matches_hand_computation() -> None:
    from recforge.models.neural.two_tower import _module_class

    torch.manual_seed(0)
    m = _module_class()(3, 4, 4, [], 0, [], 0, ())
    m.log_q.copy_(torch.log(torch.tensor([0.5, 0.3, 0.2, 0.1])))
    users, items = torch.tensor([0, 1, 2]), torch.tensor([1, 3, 1])
    loss = m(users, items, 0.5, True)
    u, v = m.user(users).detach().numpy(), m.item(items).detach().numpy()
    logits = u @ v.T / 0.5 - np.log(np.array([0.3, 0.1, 0.3]))[None, :]
    logits[0, 2] = logits[2, 0] = -np.inf  # item 1 twice: an accidental hit, masked
    expected = np.mean([np.log(np.exp(row).sum()) - row[j] for j, row in enumerate(logits)])
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-5)


def test_lightgcn_adjacency_and_propagation_match_dense_formula() -> None:
    from recforge.models.neural.lightgcn import _module_class, normalized_adjacency

    r = np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float32)
    import scipy.sparse as sp

    adj = normalized_adjacency(sp.csr_matrix(r)).toarray()
    full = np.block([[np.zeros((2, 2)), r], [r.T, np.zeros((3, 3))]])
    deg = full.sum(1)
    np.testing.assert_allclose(adj, full / np.sqrt(np.outer(deg, deg)), rtol=1e-6)
    # hand value: user 0 (degree 2) - item 1 (degree 2) -> 1/2
    assert adj[0, 3] == pytest.approx(0.5)
    m = _module_class()(2, 3, 4, 2)
    a = sp.csr_matrix(adj.astype(np.float32))
    m.adj = (torch.from_numpy(a.indices.astype(np.int64)), torch.from_numpy(a.indptr[:-1].astype(np.int64)),
             torch.from_numpy(a.data))
    e = m.embedding.detach().numpy()
    expected = (e + adj @ e + adj @ adj @ e) / 3
    np.testing.assert_allclose(m.propagate().detach().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_lightgcn_symmetric_spmm_gradient() -> None:
    """The hand-written backward (A @ grad) agrees with finite differences."""
    import scipy.sparse as sp

    from recforge.models.neural.lightgcn import _module_class, normalized_adjacency

    a = normalized_adjacency(sp.csr_matrix(np.array([[1, 0, 1], [1, 1, 0]], dtype=np.float32)))
    ind = torch.from_numpy(a.indices.astype(np.int64))
    off = torch.from_numpy(a.indptr[:-1].astype(np.int64))
    w = torch.from_numpy(a.data.astype(np.float64))
    m = _module_class()(2, 3, 3, 1)
    m.embedding.data = m.embedding.data.double()
    m.adj = (ind, off, w)
    assert torch.autograd.gradcheck(lambda x: (m.propagate() * x).sum(),
                                    (torch.randn(5, 3, dtype=torch.float64, requires_grad=True),))
    x = torch.randn(5, 3, dtype=torch.float64)
    m.embedding.grad = None
    (m.propagate() * x).sum().backward()
    dense = a.toarray().astype(np.float64)
    np.testing.assert_allclose(m.embedding.grad.numpy(), (x.numpy() + dense @ x.numpy()) / 2, rtol=1e-10)


def test_lightgcn_factors_reproduce_scores() -> None:
    data, _, _ = two_communities(n_users=10, n_items=8, per_user=3)
    model = registry.create("lightgcn", {"epochs": 1, "dim": 4}).fit(data)
    assert model.user_factors_.shape == (10, 4) and model.item_factors_.shape == (8, 4)
    np.testing.assert_allclose(model.score_codes(np.arange(10)),
                               model.user_factors_ @ model.item_factors_.T, rtol=1e-6)


def test_mult_vae_fold_in_of_unseen_user() -> None:
    data, ugroup, igroup = two_communities()
    model = registry.create("mult-vae", LEARNS["mult-vae"]).fit(data)
    # a new user who liked three even items gets even items
    even = data.item_ids[igroup == 0][:3].tolist()
    recs, unknown = model.recommend_history([even], k=3)
    assert unknown == [[]]
    assert (recs.items[0] % 2 == 0).all()
    assert not set(recs.items[0].tolist()) & set(even)


def test_mult_vae_kl_annealing_schedule() -> None:
    data, _, _ = two_communities()
    seen: list[float] = []
    model = registry.create("mult-vae", {"epochs": 3, "batch_size": 20, "anneal_steps": 4,
                                         "anneal_cap": 0.3, "hidden": 8, "latent": 4})
    original = model._loss

    def spy(rows, cols, n_rows, beta):  # type: ignore[no-untyped-def]
        seen.append(float(beta))
        return original(rows, cols, n_rows, beta)

    model._loss = spy  # type: ignore[method-assign]
    model.fit(data)
    # 60 users / 20 per batch = 3 updates per epoch; beta = min(cap, cap * step / 4)
    np.testing.assert_allclose(seen, [min(0.3, 0.3 * s / 4) for s in range(9)], rtol=1e-6)


def sequential_data(n_users: int = 40, n_items: int = 12, length: int = 10) -> Interactions:
    """Each user walks the cycle i -> i+1 (mod n_items) from a random start, in time order."""
    rng = np.random.default_rng(1)
    rows = []
    for u in range(n_users):
        start = int(rng.integers(n_items))
        for t in range(length):
            rows.append((u, (start + t) % n_items, 10_000 * u + t))
    df = pl.DataFrame(rows, schema=["user", "item", "timestamp"], orient="row")
    return Interactions.from_frame(df, user="user", item="item", timestamp="timestamp")


def test_sasrec_learns_next_item() -> None:
    data = sequential_data()
    model = registry.create("sasrec", {"epochs": 40, "dim": 16, "max_len": 8, "n_layers": 1,
                                       "batch_size": 16, "lr": 0.01, "dropout": 0.0})
    model.fit(data)
    indptr, items = data.sequences()
    last = items[indptr[1:] - 1]
    scores = model.score_codes(np.arange(data.n_users))
    # the next item in the cycle is the top-scored one (seen items included)
    predicted = scores.argmax(1)
    assert (predicted == (last + 1) % data.n_items).mean() >= 0.9


def test_sasrec_is_causal() -> None:
    from recforge.models.neural.sasrec import _module_class

    torch.manual_seed(0)
    m = _module_class()(10, 8, 6, 2, 2, 0.0).eval()
    a = torch.tensor([[0, 0, 3, 4, 5, 6]])
    b = torch.tensor([[0, 0, 3, 4, 9, 1]])  # same prefix, different future
    with torch.no_grad():
        ha, hb = m(a), m(b)
    torch.testing.assert_close(ha[:, :4], hb[:, :4])
    assert not torch.allclose(ha[:, 4:], hb[:, 4:])
    assert torch.isfinite(ha).all()  # padding rows do not become NaN


def test_sasrec_training_windows_by_hand() -> None:
    from recforge.models.neural.sasrec import _training_windows

    indptr = np.array([0, 5, 6, 8])
    items = np.array([1, 2, 3, 4, 5, 7, 8, 9])  # user 0: 1..5, user 1: [7], user 2: [8, 9]
    inp, tgt = _training_windows(indptr, items, 3)
    assert inp.tolist() == [[2, 3, 4], [0, 0, 1], [0, 0, 8]]
    assert tgt.tolist() == [[3, 4, 5], [0, 0, 2], [0, 0, 9]]


def test_sasrec_uses_time_order_not_row_order() -> None:
    data = sequential_data(n_users=2, n_items=12, length=5)
    shuffled = data.subset(np.random.default_rng(0).permutation(len(data)))
    m1 = registry.create("sasrec", {"epochs": 1, "dim": 8, "max_len": 4}).fit(data)
    m2 = registry.create("sasrec", {"epochs": 1, "dim": 8, "max_len": 4}).fit(shuffled)
    np.testing.assert_array_equal(m1.seq_items_, m2.seq_items_)
    np.testing.assert_allclose(m1.score_codes(np.arange(2)), m2.score_codes(np.arange(2)), rtol=1e-5)


def test_sasrec_requires_timestamps() -> None:
    from recforge.errors import DataError

    df = pl.DataFrame({"user": [0, 0, 1], "item": [0, 1, 1]})
    data = Interactions.from_frame(df, user="user", item="item")
    with pytest.raises(DataError, match="timestamps"):
        registry.create("sasrec", {"epochs": 1}).fit(data)


@pytest.mark.parametrize("name", ["mult-vae", "lightgcn", "sasrec", "two-tower"])
def test_validation_callback_and_early_stop_through_fit(name: str) -> None:
    data, _, _ = two_communities(n_users=20, n_items=10, per_user=4)
    rng = np.random.default_rng(0)
    mask = rng.random(len(data)) < 0.8
    train, valid = data.subset(mask), data.subset(~mask)
    reports: list[EpochReport] = []

    def cb(r: EpochReport) -> bool:
        reports.append(r)
        return r.epoch >= 2  # prune after two epochs, as a search would

    params = {"epochs": 50, "dim": 4} if name != "mult-vae" else {"epochs": 50, "hidden": 8, "latent": 4}
    if name == "sasrec":
        params["max_len"] = 4
    model = registry.create(name, {**params, "eval_metric": "recall@5"}).fit(train, valid, callback=cb)
    assert [r.epoch for r in reports] == [1, 2]
    assert all(r.metric_name == "recall@5" and 0.0 <= r.metric <= 1.0 for r in reports)
    info = model.fit_info_
    assert info["stopped_by"] == "callback" and info["epochs_run"] == 2
    assert info["best_metric"] == max(r.metric for r in reports)
    assert info["threads"] >= 1 and info["compiled"] is False


def test_neural_models_do_not_import_torch_on_registry_lookup() -> None:
    import subprocess
    import sys

    code = ("import sys, recforge; from recforge import registry; "
            "[registry.get(n) for n in ('mult-vae','lightgcn','sasrec','two-tower')]; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
