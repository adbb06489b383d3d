"""FAISS retrieval for embedding models (``user_factors_`` / ``item_factors_``).

Scores are inner products, as in the models themselves. Small catalogues get an exact
``IndexFlatIP``; beyond a size threshold an HNSW graph. HNSW in FAISS works on L2 distances,
so item vectors get one extra coordinate ``sqrt(M^2 - |v|^2)`` (M = the largest norm) and
queries a zero there: then ``|q - v|^2 = |q|^2 + M^2 - 2 q.v`` and the L2 order *is* the
inner-product order (Bachrach et al., 2014). The recall@k of the index against exact search
is measured when the index is built and stored with it.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

INDEX_FILE = "index.faiss"


@dataclass
class FaissRetriever:
    """Top-k items by inner product, seen items excluded, through a FAISS index."""

    index: Any
    kind: str  # "flat" | "hnsw"
    max_norm: float
    info: dict[str, Any] = field(default_factory=dict)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(codes, inner products) of the ``k`` best items per query row; -1 pads."""
        q = np.ascontiguousarray(queries, dtype=np.float32)
        if self.kind == "hnsw":
            faiss: Any = importlib.import_module("faiss")

            q = np.hstack([q, np.zeros((q.shape[0], 1), np.float32)])
            params = faiss.SearchParametersHNSW(efSearch=max(int(self.info.get("ef_search", 128)), k))
            dist, idx = self.index.search(q, k, params=params)
            sq = (q * q).sum(axis=1, keepdims=True)
            scores = (sq + self.max_norm**2 - dist) / 2.0
        else:
            scores, idx = self.index.search(q, k)
        scores = np.where(idx >= 0, scores, -np.inf).astype(np.float32)
        return idx.astype(np.int64), scores

    def topk_excluding(self, queries: np.ndarray, k: int, seen: Any, rows: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`search` but drops each row's seen items (``seen[rows[j]]``): asks the
        index for ``k`` + (largest number of seen items in the batch), then filters."""
        n_items = self.index.ntotal
        n = queries.shape[0]
        if rows is None:
            extra = 0
        else:
            lens = seen.indptr[rows + 1] - seen.indptr[rows]
            extra = int(lens.max()) if lens.size else 0
        fetch = min(n_items, k + extra)
        idx, val = self.search(queries, fetch)
        out_idx = np.full((n, k), -1, np.int64)
        out_val = np.full((n, k), -np.inf, np.float32)
        for j in range(n):
            ii, vv = idx[j], val[j]
            if rows is not None and extra:
                s = seen.indices[seen.indptr[rows[j]]:seen.indptr[rows[j] + 1]]
                keep = (ii >= 0) & ~np.isin(ii, s)
            else:
                keep = ii >= 0
            ii, vv = ii[keep][:k], vv[keep][:k]
            out_idx[j, : ii.size] = ii
            out_val[j, : ii.size] = vv
        return out_idx, out_val

    def to_bytes(self) -> bytes:
        import faiss

        return bytes(faiss.serialize_index(self.index))


def build(item_factors: np.ndarray, *, kind: str = "auto", hnsw_threshold: int = 200_000,
          m: int = 32, ef_construction: int = 200, ef_search: int = 128) -> FaissRetriever:
    """Build an exact (``flat``) or HNSW index over item vectors; ``auto`` picks by size."""
    faiss: Any = importlib.import_module("faiss")

    V = np.ascontiguousarray(item_factors, dtype=np.float32)
    n, d = V.shape
    if kind == "auto":
        kind = "hnsw" if n >= hnsw_threshold else "flat"
    start = time.perf_counter()
    norms = np.linalg.norm(V, axis=1)
    max_norm = float(norms.max()) if n else 0.0
    if kind == "flat":
        index: Any = faiss.IndexFlatIP(d)
        index.add(V)
        info: dict[str, Any] = {"kind": "flat", "exact": True}
    elif kind == "hnsw":
        aug = np.hstack([V, np.sqrt(np.maximum(max_norm**2 - norms**2, 0.0))[:, None].astype(np.float32)])
        index = faiss.IndexHNSWFlat(d + 1, m)
        index.hnsw.efConstruction = ef_construction
        index.add(aug)
        info = {"kind": "hnsw", "exact": False, "m": m, "ef_construction": ef_construction,
                "ef_search": ef_search}
    else:
        raise ValueError(f"index kind must be 'auto', 'flat' or 'hnsw', got {kind!r}")
    info.update({"metric": "inner_product", "n_items": n, "dim": d,
                 "build_seconds": round(time.perf_counter() - start, 4),
                 "max_norm": max_norm, "faiss": faiss.__version__})
    return FaissRetriever(index=index, kind=kind, max_norm=max_norm, info=info)


def measure_recall(retriever: FaissRetriever, user_factors: np.ndarray, item_factors: np.ndarray, *,
                   k: int = 10, n_queries: int = 1000, seed: int = 0) -> dict[str, Any]:
    """recall@k of the index against exact (numpy brute-force) inner-product search on a
    seeded sample of users; the fraction of the exact top-k that the index returns."""
    from recforge.models.base import topk_rows

    rng = np.random.default_rng(seed)
    n_users = user_factors.shape[0]
    rows = rng.choice(n_users, size=min(n_queries, n_users), replace=False)
    Q = np.ascontiguousarray(user_factors[rows], dtype=np.float32)
    k = min(k, item_factors.shape[0])
    exact, _ = topk_rows((Q @ item_factors.T).astype(np.float32), k)
    start = time.perf_counter()
    got, _ = retriever.search(Q, k)
    secs = time.perf_counter() - start
    hits = [np.intersect1d(exact[j], got[j]).size for j in range(len(rows))]
    return {f"recall@{k}": float(np.mean(hits) / k), "recall_queries": int(len(rows)),
            "recall_seed": seed, "batch_search_ms_per_query": round(1000 * secs / max(len(rows), 1), 4)}


def tune_ef_search(retriever: FaissRetriever, user_factors: np.ndarray, item_factors: np.ndarray, *,
                   k: int = 10, target: float = 0.95, candidates: tuple[int, ...] = (64, 128, 256, 512, 1024),
                   n_queries: int = 1000) -> dict[str, Any]:
    """For HNSW: the smallest ``efSearch`` among ``candidates`` whose measured recall@k reaches
    ``target`` (else the largest); records the recall of every value tried in ``info``."""
    if retriever.kind != "hnsw":
        exact = measure_recall(retriever, user_factors, item_factors, k=k, n_queries=n_queries)
        retriever.info.update(exact)
        return exact
    tried: dict[str, float] = {}
    out: dict[str, Any] = {}
    for ef in candidates:
        retriever.info["ef_search"] = ef
        out = measure_recall(retriever, user_factors, item_factors, k=k, n_queries=n_queries)
        tried[str(ef)] = out[f"recall@{k}"]
        if out[f"recall@{k}"] >= target:
            break
    out = {**out, "ef_search": retriever.info["ef_search"], "recall_by_ef_search": tried, "recall_target": target}
    retriever.info.update(out)
    return out


def from_bytes(blob: bytes, info: dict[str, Any]) -> FaissRetriever:
    """Rebuild a retriever from :meth:`FaissRetriever.to_bytes` output and its stored info
    (FAISS's own binary format, not pickle; the artifact checksum is verified before)."""
    import faiss

    index = faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))
    return FaissRetriever(index=index, kind=str(info["kind"]), max_norm=float(info["max_norm"]), info=dict(info))


def attach(artifact: str, *, kind: str = "auto", hnsw_threshold: int = 200_000, k: int = 10) -> dict[str, Any]:
    """Build the index for an embedding-model artifact, measure its recall@k (for HNSW: pick
    the smallest efSearch reaching recall 0.95, see :func:`tune_ef_search`) and store both in
    the artifact (``index.faiss`` + ``metadata.index`` in the manifest), atomically."""
    from recforge import artifacts
    from recforge.errors import ArtifactError

    model = artifacts.load(artifact)
    if not hasattr(model, "item_factors_"):
        raise ArtifactError(f"{artifact}: {model.name} has no item vectors; FAISS indexes need an embedding model")
    r = build(model.item_factors_, kind=kind, hnsw_threshold=hnsw_threshold)
    tune_ef_search(r, model.user_factors_, model.item_factors_, k=k)
    artifacts.add_files(artifact, {INDEX_FILE: r.to_bytes()}, {"index": r.info})
    return r.info
