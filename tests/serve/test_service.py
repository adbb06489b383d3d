"""The recommendation service through FastAPI's TestClient: every endpoint and error.

Expected answers come from the models' own Python API (``recommend``, ``recommend_history``,
``similar_items``) or are computed here with numpy (popularity, co-occurrence cosine).
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("faiss")

from fastapi.testclient import TestClient  # noqa: E402

import recforge as rf  # noqa: E402
from recforge import registry  # noqa: E402
from recforge.data import Interactions  # noqa: E402
from recforge.serve import Settings, create_app  # noqa: E402


def _data(n_users: int = 60, n_items: int = 45, per_user: int = 9, seed: int = 3) -> Interactions:
    r = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        # skewed item popularity so the fallback order is well defined
        p = 1.0 / np.arange(1, n_items + 1) ** 0.8
        chosen = r.choice(n_items, size=per_user, replace=False, p=p / p.sum())
        users += [u * 10] * per_user  # raw ids 0, 10, 20, ... (codes differ from ids)
        items += (chosen + 100).tolist()  # raw item ids 100..144
    return Interactions.from_frame(pl.DataFrame({"user": users, "item": items}), user="user", item="item")


@pytest.fixture(scope="module")
def data() -> Interactions:
    return _data()


@pytest.fixture(scope="module")
def arts(tmp_path_factory: pytest.TempPathFactory, data: Interactions) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("arts")
    out = {}
    for name, params in [("ease", {"l2": 10.0}), ("als", {"factors": 8, "iterations": 5, "seed": 1}),
                         ("bpr", {"factors": 8, "iterations": 5, "seed": 1}), ("most-popular", {}),
                         ("item-knn", {})]:
        model = registry.create(name, params).fit(data)
        out[name] = rf.save(model, root / name)
    return out


@pytest.fixture(scope="module")
def clients(arts: dict[str, Path]) -> dict[str, TestClient]:
    return {name: TestClient(create_app(Settings(artifact=p, max_k=50, max_users=20, max_history=30)))
            for name, p in arts.items()}


def _seen(data: Interactions, user_raw: int) -> set[int]:
    code = int(data.encode_users([user_raw])[0])
    return set(data.item_ids[data.to_csr().getrow(code).indices].tolist())


# ---------------------------------------------------------------------------- happy paths
def test_health_and_metadata(clients: dict[str, TestClient], data: Interactions) -> None:
    r = clients["als"].get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "model": "als", "n_users": data.n_users, "n_items": data.n_items}
    meta = clients["als"].get("/metadata").json()
    assert meta["model"] == "als" and meta["retrieval"] == "torch"  # exact, small catalogue
    assert meta["service"]["settings"]["max_k"] == 50
    flat = TestClient(create_app(Settings(artifact=clients["als"].app.state.settings.artifact, index="flat")))
    meta = flat.get("/metadata").json()
    assert meta["retrieval"] == "faiss"
    assert meta["index"]["kind"] == "flat" and meta["index"]["recall@10"] == 1.0
    assert clients["ease"].get("/metadata").json()["retrieval"] == "torch"  # embedding_bag path
    assert clients["item-knn"].get("/metadata").json()["retrieval"] == "model"


@pytest.mark.parametrize("name", ["ease", "als", "bpr", "most-popular", "item-knn"])
def test_recommend_matches_model_and_excludes_seen(name: str, clients, arts, data: Interactions) -> None:
    model = rf.load(arts[name])
    for raw in (0, 70, 590):
        r = clients[name].get(f"/recommend/{raw}", params={"k": 7})
        assert r.status_code == 200, r.text
        body = r.json()
        expect = model.recommend([raw], k=7)
        assert body["user"] == raw and body["fallback"] is False
        assert body["items"] == expect.items[0].tolist()
        np.testing.assert_allclose(body["scores"], expect.scores[0], rtol=1e-5, atol=1e-6)
        assert not set(body["items"]) & _seen(data, raw)


def test_unknown_user_gets_popularity_flagged(clients, data: Interactions) -> None:
    counts = np.bincount(data.item, minlength=data.n_items)
    order = sorted(range(data.n_items), key=lambda i: (-counts[i], i))[:5]
    for uid in ("999999", "not-a-user", "5"):  # 5 is not a raw id (ids are multiples of 10)
        body = clients["als"].get(f"/recommend/{uid}?k=5").json()
        assert body["fallback"] is True and body["reason"] == "unknown user"
        assert body["user"] == uid
        assert body["items"] == data.item_ids[order].tolist()
        assert body["scores"] == counts[order].astype(float).tolist()


def test_post_batch_of_users_keeps_order(clients) -> None:
    c = clients["ease"]
    body = c.post("/recommend", json={"users": [10, "20", "ghost", 0], "k": 4}).json()
    assert [r["user"] for r in body["results"]] == [10, 20, "ghost", 0]
    assert [r["fallback"] for r in body["results"]] == [False, False, True, False]
    for r in body["results"]:
        single = c.get(f"/recommend/{r['user']}?k=4").json()
        assert single["items"] == r["items"]


def test_history_fold_in(clients, arts) -> None:
    model = rf.load(arts["ease"])
    hist = [100, 103, 107, 9999, "zz"]
    body = clients["ease"].post("/recommend", json={"history": hist, "k": 6}).json()
    res = body["results"][0]
    expect, unknown = model.recommend_history([[100, 103, 107]], k=6)
    assert res["items"] == expect.items[0].tolist() and res["fallback"] is False
    assert res["unknown_items"] == [9999, "zz"]
    assert not {100, 103, 107} & set(res["items"])


def test_history_fallbacks(clients, data: Interactions) -> None:
    res = clients["ease"].post("/recommend", json={"history": ["x", 5], "k": 3}).json()["results"][0]
    assert res["fallback"] is True and res["reason"] == "no known items in the history"
    assert res["unknown_items"] == ["x", 5]
    # BPR cannot fold in: popularity without the history's items
    res = clients["bpr"].post("/recommend", json={"history": [int(data.item_ids[0])], "k": 3}).json()["results"][0]
    assert res["fallback"] is True and "cannot fold in" in res["reason"]
    assert int(data.item_ids[0]) not in res["items"]


def test_similar_items(clients, arts, data: Interactions) -> None:
    for name in ("ease", "als"):
        model = rf.load(arts[name])
        body = clients[name].get("/similar/104?k=5").json()
        idx, _ = model.similar_items(data.encode_items([104]), 5)
        assert body["item"] == 104 and body["items"] == data.item_ids[idx[0]].tolist()
    # most-popular has no similar_items: cosine of item columns, computed here by hand
    X = data.to_csr().toarray()
    j = int(data.encode_items([104])[0])
    co = X.T @ X[:, j]
    sim = co / (np.sqrt(X.sum(0)) * np.sqrt(X[:, j].sum()))
    sim[j] = -np.inf
    order = sorted(range(data.n_items), key=lambda i: (-sim[i], i))[:5]
    body = clients["most-popular"].get("/similar/104?k=5").json()
    assert body["items"] == data.item_ids[order].tolist()
    np.testing.assert_allclose(body["scores"], sim[order], rtol=1e-5)


def test_unknown_item_is_404(clients) -> None:
    r = clients["ease"].get("/similar/424242")
    assert r.status_code == 404 and "unknown item" in r.json()["detail"]


def test_string_vocabulary(tmp_path: Path) -> None:
    df = pl.DataFrame({"u": ["ann", "ann", "bob", "bob", "cy"], "i": ["x", "y", "y", "z", "x"]})
    d = Interactions.from_frame(df, user="u", item="i")
    c = TestClient(create_app(Settings(artifact=rf.save(registry.create("ease", {"l2": 1.0}).fit(d), tmp_path / "s"))))
    body = c.get("/recommend/ann?k=2").json()
    assert body["user"] == "ann" and body["items"] == ["z"]  # x and y are seen
    assert c.get("/recommend/42?k=2").json()["fallback"] is True


# ---------------------------------------------------------------------------- bad input
BAD_QUERIES = ["k=0", "k=-1", "k=abc", "k=1.5", "k=51", "k=" + "9" * 40, "k=", "k=nan", "k=1e3"]


@pytest.mark.parametrize("q", BAD_QUERIES)
def test_bad_k_is_422_naming_k(clients, q: str) -> None:
    for path in ("/recommend/0", "/similar/100"):
        r = clients["ease"].get(f"{path}?{q}")
        assert r.status_code == 422, (path, q, r.text)
        assert r.json()["detail"][0]["loc"] == ["query", "k"]


BAD_BODIES: list[tuple[Any, str]] = [
    ({}, "body"),
    ({"users": [1], "history": [1]}, "body"),
    ({"users": []}, "users"),
    ({"history": []}, "history"),
    ({"users": [None]}, "users"),
    ({"users": [True]}, "users"),
    ({"users": [1.5]}, "users"),
    ({"users": [[1]]}, "users"),
    ({"users": [{"a": 1}]}, "users"),
    ({"users": [""]}, "users"),
    ({"users": ["x" * 300]}, "users"),
    ({"users": "0"}, "users"),
    ({"users": list(range(21))}, "users"),
    ({"history": list(range(31))}, "history"),
    ({"users": [0], "k": 0}, "k"),
    ({"users": [0], "k": 51}, "k"),
    ({"users": [0], "k": "ten"}, "k"),
    ({"users": [0], "k": None}, "k"),
    ({"users": [0], "extra": 1}, "extra"),
    ([1, 2], "body"),
    ("users", "body"),
    (None, "body"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_bad_body_is_422_naming_field(clients, body: Any, field: str) -> None:
    r = clients["ease"].post("/recommend", content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code == 422, (body, r.text)
    locs = [d["loc"] for d in r.json()["detail"]]
    assert any(field in [str(p) for p in loc] for loc in locs), locs


@pytest.mark.parametrize("raw", [b"", b"{", b"\xff\xfe", b"not json", b'{"users": [1]', b"Infinity", b"NaN",
                                 b'{"users": [1], "k": Infinity}', b'{"users": [-Infinity]}'])
def test_broken_json_is_422(clients, raw: bytes) -> None:
    r = clients["ease"].post("/recommend", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text


def test_absurdly_nested_json_is_400_not_500(clients) -> None:
    # the JSON parser's recursion limit: FastAPI answers 400 "error parsing the body"
    r = clients["ease"].post("/recommend", content=b"[" * 5000, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text


def test_odd_paths_and_methods_never_500(clients) -> None:
    c = clients["als"]
    cases = [("GET", "/recommend/" + "a" * 300, 422), ("GET", "/recommend/%00", 200),
             ("GET", "/recommend/%F0%9F%98%80", 200), ("GET", "/recommend/-1", 200),
             ("GET", "/recommend/1e3", 200), ("GET", "/recommend/ 10 ", 200),
             ("GET", "/recommend/", 405), ("GET", "/nope", 404), ("PUT", "/recommend", 405),
             ("DELETE", "/recommend/0", 405), ("GET", "/similar/%00", 404), ("GET", "/similar/abc", 404),
             ("POST", "/recommend/0", 405)]
    for method, path, status in cases:
        r = c.request(method, path)
        assert r.status_code == status, (method, path, r.status_code, r.text)


def test_form_body_is_422(clients) -> None:
    r = clients["ease"].post("/recommend", data={"users": "1"})
    assert r.status_code == 422


# ---------------------------------------------------------------------------- metrics, schema
def test_prometheus_metrics_count_requests(arts) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    c = TestClient(create_app(Settings(artifact=arts["ease"])))
    for _ in range(3):
        assert c.get("/recommend/0?k=3").status_code == 200
    assert c.get("/recommend/0?k=0").status_code == 422
    assert c.get("/recommend/ghost?k=3").status_code == 200
    assert c.get("/similar/777").status_code == 404
    fams = {f.name: f for f in text_string_to_metric_families(c.get("/metrics").text)}
    reqs = {(s.labels["route"], s.labels["status"]): s.value for s in fams["recforge_requests"].samples
            if s.name == "recforge_requests_total"}
    assert reqs[("/recommend/{user_id}", "200")] == 4
    assert reqs[("/recommend/{user_id}", "422")] == 1
    assert reqs[("/similar/{item_id}", "404")] == 1
    hist = {s.labels.get("route"): s.value for s in fams["recforge_request_duration_seconds"].samples
            if s.name.endswith("_count")}
    assert hist["/recommend/{user_id}"] == 5
    fb = [s.value for s in fams["recforge_fallbacks"].samples if s.name == "recforge_fallbacks_total"]
    assert fb == [1.0]


def test_openapi_schema_is_valid(clients) -> None:
    from openapi_spec_validator import validate

    schema = clients["ease"].get("/openapi.json").json()
    validate(schema)
    assert {"/recommend/{user_id}", "/recommend", "/similar/{item_id}", "/health", "/metadata",
            "/metrics"} <= set(schema["paths"])
    k = [p for p in schema["paths"]["/recommend/{user_id}"]["get"]["parameters"] if p["name"] == "k"][0]
    assert k["schema"]["maximum"] == 50 and k["schema"]["minimum"] == 1


# ---------------------------------------------------------------------------- overload
def test_overload_answers_503_then_recovers(arts) -> None:
    import httpx

    app = create_app(Settings(artifact=arts["ease"], max_concurrency=2, scoring_thread=True))
    engine = app.state.engine
    release, entered = threading.Event(), threading.Event()
    original = engine.recommend_users

    def slow(jobs):  # type: ignore[no-untyped-def]
        entered.set()
        assert release.wait(10)
        return original(jobs)

    engine.recommend_users = slow

    async def scenario() -> tuple[list[int], list[int], int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            first = [asyncio.create_task(c.get(f"/recommend/{u}?k=3")) for u in (0, 10)]
            while not entered.is_set():
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.05)
            rejected = await asyncio.gather(*[c.get("/recommend/20?k=3") for _ in range(5)])
            health = (await c.get("/health")).status_code  # exempt from the limit
            release.set()
            done = await asyncio.gather(*first)
            return [r.status_code for r in rejected], [r.status_code for r in done], health

    rejected, done, health = asyncio.run(scenario())
    assert rejected == [503] * 5 and done == [200, 200] and health == 200
    c = TestClient(app)
    assert c.get("/recommend/20?k=3").status_code == 200  # recovered
    text = c.get("/metrics").text
    assert "recforge_overload_rejections_total 5.0" in text


def test_worker_exception_is_500_and_service_survives(arts) -> None:
    app = create_app(Settings(artifact=arts["ease"]))
    engine = app.state.engine
    original = engine.recommend_users
    calls = {"n": 0}

    def flaky(jobs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("simulated scoring bug")
        return original(jobs)

    engine.recommend_users = flaky
    c = TestClient(app, raise_server_exceptions=False)
    assert c.get("/recommend/0").status_code == 500  # a server bug, not bad input
    assert c.get("/recommend/0").status_code == 200


# ---------------------------------------------------------------------------- retrieval paths
def test_stored_index_is_used_and_verified(tmp_path: Path, data: Interactions) -> None:
    import shutil

    from recforge.errors import ArtifactError
    from recforge.serve.index import INDEX_FILE, attach

    src = rf.save(registry.create("als", {"factors": 8, "iterations": 3}).fit(data), tmp_path / "a")
    info = attach(str(src), kind="hnsw")
    manifest = rf.load(src).artifact_manifest_
    assert manifest["metadata"]["index"]["kind"] == "hnsw" and INDEX_FILE in manifest["files"]
    stored = manifest["metadata"]["index"]
    assert 0.0 <= stored["recall@10"] <= 1.0
    tried = stored["recall_by_ef_search"]  # smallest efSearch reaching 0.95, or the largest tried
    assert stored["recall@10"] == tried[str(stored["ef_search"])]
    assert stored["recall@10"] >= 0.95 or stored["ef_search"] == 1024
    assert info["recall@10"] == manifest["metadata"]["index"]["recall@10"]
    app = create_app(Settings(artifact=src))
    meta = TestClient(app).get("/metadata").json()
    assert meta["index"]["source"] == "artifact" and meta["index"]["kind"] == "hnsw"
    bad = tmp_path / "b"
    shutil.copytree(src, bad)
    blob = bytearray((bad / INDEX_FILE).read_bytes())
    blob[100] ^= 0xFF
    (bad / INDEX_FILE).write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="SHA-256"):
        create_app(Settings(artifact=bad))


@pytest.mark.parametrize(("name", "retrieval", "cache_mb"),
                         [("als", "torch", 0), ("als", "torch", 256), ("als", "model", 256), ("als", "faiss", 256),
                          ("ease", "torch", 0), ("ease", "torch", 256), ("ease", "model", 256)])
def test_retrieval_paths_agree(arts, name: str, retrieval: str, cache_mb: int) -> None:
    model = rf.load(arts[name])
    c = TestClient(create_app(Settings(artifact=arts[name], retrieval=retrieval, score_cache_mb=cache_mb)))
    meta = c.get("/metadata").json()
    assert meta["retrieval"] == retrieval
    # the score cache is used exactly when asked for and on a torch path
    assert (meta["score_cache"] is not None) == (cache_mb > 0 and retrieval == "torch")
    body = c.post("/recommend", json={"users": [0, 10, 20, 30], "k": 8}).json()
    expect = model.recommend([0, 10, 20, 30], k=8)
    for j, r in enumerate(body["results"]):
        assert r["items"] == expect.items[j].tolist()


def test_embedding_retrieval_for_non_embedding_model_is_config_error(arts) -> None:
    from recforge.errors import ConfigError

    with pytest.raises(ConfigError, match="needs an embedding model"):
        create_app(Settings(artifact=arts["ease"], retrieval="faiss"))
    with pytest.raises(ConfigError, match="no torch path for most-popular"):
        create_app(Settings(artifact=arts["most-popular"], retrieval="torch"))


def test_hnsw_recall_measurement_is_exact_on_a_known_case() -> None:
    from recforge.serve.index import FaissRetriever, build, measure_recall

    rng = np.random.default_rng(0)
    V = rng.normal(size=(50, 4)).astype(np.float32)
    U = rng.normal(size=(30, 4)).astype(np.float32)
    assert measure_recall(build(V, kind="flat"), U, V, k=10)["recall@10"] == 1.0

    class HalfRight(FaissRetriever):
        def search(self, queries, k):  # type: ignore[no-untyped-def]
            exact = np.argsort(-(queries @ V.T), axis=1, kind="stable")[:, :k]
            worst = np.argsort(queries @ V.T, axis=1, kind="stable")[:, :k]
            half = k // 2
            return np.hstack([exact[:, :half], worst[:, : k - half]]), np.zeros((len(queries), k), np.float32)

    assert measure_recall(HalfRight(None, "flat", 1.0), U, V, k=10)["recall@10"] == 0.5
    # HNSW on inner products through the extra coordinate: same answers as exact here
    h = build(V, kind="hnsw")
    idx, _ = h.search(U, 5)
    exact = np.argsort(-(U @ V.T), axis=1, kind="stable")[:, :5]
    assert np.mean([len(set(a) & set(b)) / 5 for a, b in zip(idx, exact, strict=True)]) >= 0.95


def test_batching_gathers_concurrent_requests(arts) -> None:
    import httpx

    app = create_app(Settings(artifact=arts["als"]))

    async def burst() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            rs = await asyncio.gather(*[c.get(f"/recommend/{10 * (u % 60)}?k=5") for u in range(40)])
            return [r.status_code for r in rs]

    assert asyncio.run(burst()) == [200] * 40
    b = app.state.batcher
    assert b.jobs == 40 and b.batches < 40  # several requests shared a scoring batch


def test_overload_inline_scoring_only_200_or_503(arts) -> None:
    import httpx

    app = create_app(Settings(artifact=arts["ease"], max_concurrency=2))

    async def burst() -> list[int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            rs = await asyncio.gather(*[c.get(f"/recommend/{10 * (u % 60)}?k=5") for u in range(60)])
            return [r.status_code for r in rs]

    codes = asyncio.run(burst())
    assert set(codes) <= {200, 503} and codes.count(200) >= 2 and codes.count(503) >= 1, codes
    text = TestClient(app).get("/metrics").text
    assert f"recforge_overload_rejections_total {float(codes.count(503))}" in text


def test_mult_vae_torch_scorer_matches_model(tmp_path: Path, data: Interactions) -> None:
    # the compiled variant (same function through torch.compile) is checked against this eager
    # one in benchmarks/serve_compiled.py: a cold compile takes minutes on a busy 2-core box
    compiled = False
    pytest.importorskip("torch")
    from recforge.serve.compiled import make_scorer

    model = registry.create("mult-vae", {"epochs": 2, "hidden": 16, "latent": 8, "batch_size": 32}).fit(data)
    scorer = make_scorer(model, compile=compiled)
    users = np.arange(data.n_users)
    exp_i, exp_v = model.recommend_codes(users, 10)
    got_i, got_v = scorer.topk(users, 10)
    np.testing.assert_allclose(got_v, exp_v, rtol=1e-4, atol=1e-5)
    assert (got_i == exp_i).mean() > 0.99  # equal up to near-ties in float rounding
    if not compiled:
        art = rf.save(model, tmp_path / "vae")
        c = TestClient(create_app(Settings(artifact=art, retrieval="torch")))
        body = c.post("/recommend", json={"history": [100, 101, 102], "k": 5}).json()["results"][0]
        expect, _ = model.recommend_history([[100, 101, 102]], k=5)
        assert body["items"] == expect.items[0].tolist()
        assert c.get("/recommend/10?k=5").json()["items"] == model.recommend([10], k=5).items[0].tolist()


# ---------------------------------------------------------------------------- fuzzing
def _json_values():  # type: ignore[no-untyped-def]
    from hypothesis import strategies as st

    leaves = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20)
    return st.recursive(leaves, lambda ch: st.lists(ch, max_size=5) | st.dictionaries(st.text(max_size=8), ch, max_size=4),
                        max_leaves=12)


def test_fuzzed_bodies_never_500(clients) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    keys = st.sampled_from(["users", "history", "k", "x"])
    body = _json_values() | st.dictionaries(keys, _json_values(), max_size=3)

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(body)
    def check(b: Any) -> None:
        r = clients["ease"].post("/recommend", content=json.dumps(b), headers={"content-type": "application/json"})
        assert r.status_code in (200, 422), (b, r.status_code, r.text)

    check()


def test_fuzzed_paths_and_k_never_500(clients) -> None:
    from urllib.parse import quote

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.text(min_size=1, max_size=300), st.text(max_size=12))
    def check(uid: str, k: str) -> None:
        for route in ("recommend", "similar"):
            r = clients["als"].get(f"/{route}/{quote(uid, safe='')}", params={"k": k})
            assert r.status_code in (200, 404, 422), (route, uid, k, r.status_code, r.text)

    check()


# ---------------------------------------------------------------------------- every model
#: small settings per model (as in tests/models/test_protocol.py); other models use defaults
_FAST: dict[str, dict[str, Any]] = {
    "item-knn": {"neighbours": 10}, "rp3beta": {"neighbours": 10}, "ease": {"l2": 10.0},
    "als": {"factors": 8, "iterations": 3}, "bpr": {"factors": 8, "iterations": 5},
    "two-stage": {"retriever": "most-popular", "n_candidates": 10, "ranker": "lr",
                  "ranker_params": '{"epochs": 2, "batch_size": 256, "threads": 1}'},
    "mult-vae": {"epochs": 2, "hidden": 16, "latent": 8, "batch_size": 16},
    "lightgcn": {"epochs": 2, "dim": 8, "n_layers": 2, "batch_size": 64, "lr": 0.01},
    "sasrec": {"epochs": 2, "dim": 8, "max_len": 5, "n_layers": 1, "batch_size": 16},
    "two-tower": {"epochs": 2, "dim": 8, "hidden": "16", "batch_size": 32},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names("topk"))
def test_every_registered_model_serves_its_own_lists(name: str, tmp_path: Path) -> None:
    cls = registry.get(name)
    if "neural" in cls.tags:
        pytest.importorskip("torch")
    r = np.random.default_rng(5)
    n = 480
    df = pl.DataFrame({"user": r.integers(0, 40, n) * 10, "item": r.integers(0, 30, n) + 100,
                       "timestamp": np.arange(n) + 1_000_000})
    data = Interactions.from_frame(df, user="user", item="item", timestamp="timestamp", duplicates="keep_last")
    model = cls(**_FAST.get(name, {})).fit(data)
    c = TestClient(create_app(Settings(artifact=rf.save(model, tmp_path / name))))
    users = data.user_ids[:4].tolist()
    body = c.post("/recommend", json={"users": users, "k": 5}).json()
    expect = model.recommend(users, k=5)
    for j, res in enumerate(body["results"]):
        assert res["items"] == expect.items[j][expect.item_codes[j] >= 0].tolist(), (name, res)
        np.testing.assert_allclose(res["scores"], expect.scores[j][expect.item_codes[j] >= 0], rtol=1e-4, atol=1e-5)


def test_score_cache_respects_its_memory_cap(arts, data: Interactions) -> None:
    need_mib = data.n_users * data.n_items * 4 / 2**20  # 60 x 45 floats: well under 1 MiB
    on = create_app(Settings(artifact=arts["ease"], score_cache_mb=1)).state.engine
    assert on.score_cache == {"users": data.n_users, "mib": round(need_mib, 1), "build_seconds": on.score_cache["build_seconds"]}
    assert tuple(on.score_rows.shape) == (data.n_users, data.n_items)
    off = create_app(Settings(artifact=arts["ease"], score_cache_mb=0)).state.engine
    assert off.score_rows is None and off.score_cache is None


@pytest.mark.parametrize("width", [100, 20_000, 40_981])
def test_fast_topk_equals_torch_topk(width: int) -> None:
    import torch

    from recforge.serve.compiled import fast_topk

    g = torch.Generator().manual_seed(width)
    s = torch.randn(33, width, generator=g)
    s[0, :] = float("-inf")  # a row with nothing left
    s[1, : width - 3] = float("-inf")  # fewer finite scores than k
    s[2, -5:] = 100.0 + torch.arange(5.0)  # the best items in the ragged tail
    if width > 256:
        s[3, 128:256] = 50.0 + torch.arange(128.0)  # all of the top-k in one chunk
    for k in (1, 10, 37):
        want = torch.topk(s, k, dim=1)
        got = fast_topk(s, k)
        torch.testing.assert_close(got[0], want.values)
        finite = torch.isfinite(want.values)
        assert torch.equal(got[1][finite], want.indices[finite])


def test_long_lived_objects_are_frozen_out_of_the_gc_while_serving(arts) -> None:
    import gc

    before = gc.get_freeze_count()
    with TestClient(create_app(Settings(artifact=arts["ease"]))) as c:  # runs the lifespan
        assert c.get("/recommend/0").status_code == 200
        assert gc.get_freeze_count() > before  # the model and the framework, at least
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("name", ["ease", "als"])
def test_plain_get_fast_path_answers_like_the_fastapi_route(clients, name: str) -> None:
    c = clients[name]
    for path in ("/recommend/0", "/recommend/70?k=7", "/recommend/590?k=50", "/recommend/nobody?k=3"):
        fast = c.get(path)
        # an extra query parameter is not the plain shape: FastAPI's route answers (and ignores it)
        slow = c.get(path + ("&" if "?" in path else "?") + "x=1")
        assert fast.status_code == slow.status_code == 200
        assert fast.json() == slow.json()
        assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
    assert len(c.get("/recommend/0").json()["items"]) == 10  # the default k
    # what the fast path does not take is validated by FastAPI as before
    assert c.get("/recommend/0?k=51").status_code == 422  # max_k=50 in these clients
    assert c.get("/recommend/0?k=0").status_code == 422
    assert c.get("/recommend/0?k=007").status_code == 200  # pydantic's integer parsing
    assert c.get("/recommend/" + "u" * 257).status_code == 422
