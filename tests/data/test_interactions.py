"""Interactions container: codes <-> raw ids, CSR views, time-ordered sequences."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from recforge.data import Interactions
from recforge.errors import DataError


@pytest.fixture
def data() -> Interactions:
    df = pl.DataFrame({"u": ["x", "y", "x", "x", "y"], "i": [30, 10, 10, 30, 20],
                       "r": [1.0, 2.0, 3.0, 4.0, 5.0], "t": [5, 1, 2, 9, 3]})
    return Interactions.from_frame(df, user="u", item="i", rating="r", timestamp="t", duplicates="keep_all")


def test_round_trip_of_ids(data):
    assert data.user_ids.tolist() == ["x", "y"] and data.item_ids.tolist() == [10, 20, 30]
    assert data.decode_users(data.user).tolist() == ["x", "y", "x", "x", "y"]
    assert data.decode_items(data.item).tolist() == [30, 10, 10, 30, 20]
    assert data.encode_items(["20", 30]).tolist() == [1, 2]  # CLI/JSON ids arrive as strings
    assert data.encode_users(["z", "y"], missing="mask").tolist() == [-1, 1]
    with pytest.raises(DataError, match=r"unknown user id\(s\) \['z'\]"):
        data.encode_users(["z"])


def test_csr_views(data):
    # x: items 30 (twice: 1.0 + 4.0) and 10 (3.0); y: 10 (2.0), 20 (5.0)
    assert data.to_csr("rating").toarray().tolist() == [[3.0, 0.0, 5.0], [2.0, 5.0, 0.0]]
    assert data.to_csr("count").toarray().tolist() == [[1.0, 0.0, 2.0], [1.0, 1.0, 0.0]]
    assert data.to_csr("binary").toarray().tolist() == [[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]]


def test_sequences_are_time_ordered(data):
    indptr, items = data.sequences()
    assert indptr.tolist() == [0, 3, 5]
    assert data.decode_items(items).tolist() == [10, 30, 30, 10, 20]  # x at t=2,5,9; y at t=1,3


def test_subset_and_concat_keep_vocabularies(data):
    a = data.subset(data.timestamp < 4)
    b = data.subset(data.timestamp >= 4)
    assert a.n_items == b.n_items == 3 and len(a) + len(b) == 5
    both = a.concat(b)
    assert sorted(both.timestamp.tolist()) == [1, 2, 3, 5, 9]
    s = data.summary()
    assert (s["n_users"], s["n_items"], s["n_interactions"], s["n_unique_pairs"]) == (2, 3, 5, 4)
    assert s["time_range"] == {"min": 1, "max": 9}


def test_codes_out_of_range_are_rejected():
    with pytest.raises(DataError, match=r"user codes must lie in \[0, 2\)"):
        Interactions(np.array([0, 2]), np.array([0, 0]), user_ids=np.array([1, 2]), item_ids=np.array([1]))


def test_side_features_align_to_the_vocabulary():
    df = pl.DataFrame({"u": [2, 1, 2], "i": ["b", "a", "c"]})
    items = pl.DataFrame({"id": ["c", "a", "z"], "genre": ["x", "y", "w"]})
    data = Interactions.from_frame(df, user="u", item="i", item_features=items)
    assert data.item_features["id"].to_list() == ["a", "b", "c"]
    assert data.item_features["genre"].to_list() == ["y", None, "x"]  # 'b' has no row; 'z' unused
    with pytest.raises(DataError, match=r"item_features row 1, column 'id': duplicate item id 'a'"):
        Interactions.from_frame(df, user="u", item="i",
                                item_features=pl.DataFrame({"id": ["a", "a"], "g": [1, 2]}))


def test_parquet_and_tsv_and_gzip_inputs(tmp_path):
    import gzip

    from recforge.data import read_interactions

    frame = pl.DataFrame({"user": [1, 2, 2], "item": [5, 5, 6], "rating": [1.0, 2.0, 3.0]})
    frame.write_parquet(tmp_path / "a.parquet")
    frame.write_csv(tmp_path / "a.tsv", separator="\t")
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(frame.write_csv().encode()))
    (tmp_path / "a.dat").write_text("1::5::1.0\n2::5::2.0\n2::6::3.0\n")
    for name, kw in (("a.parquet", {}), ("a.tsv", {}), ("a.csv.gz", {}),
                     ("a.dat", {"has_header": False, "columns": ["user", "item", "rating"]})):
        data = read_interactions(tmp_path / name, rating="rating", **kw)
        assert sorted(data.to_frame().rows()) == [(1, 5, 1.0), (2, 5, 2.0), (2, 6, 3.0)], name
    (tmp_path / "bad.dat").write_text("1::5::1.0\n2::5\n")
    with pytest.raises(DataError, match=r"bad\.dat, line 2: expected 3 fields separated by '::', found 2"):
        read_interactions(tmp_path / "bad.dat", has_header=False, columns=["user", "item", "rating"])
