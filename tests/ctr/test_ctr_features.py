"""FeatureLog: validation, train-only vocabularies with an OOV bucket, numeric transforms,
splits, readers (Criteo TSV, libfm, CSV with a field spec, MovieLens-100K as CTR)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recforge.data.ctr_readers import (
    read_criteo,
    read_feature_table,
    read_frappe,
    read_libfm,
    read_movielens_ctr,
)
from recforge.data.features import FeatureLog, FeatureVocab, Field, parse_spec
from recforge.errors import ConfigError, DataError


def _log(df: pl.DataFrame, **kw: object) -> FeatureLog:
    return FeatureLog.from_frame(df, label="y", **kw)  # type: ignore[arg-type]


def test_vocab_is_fitted_on_train_only_and_oov_bucket_is_used_on_test() -> None:
    train = _log(pl.DataFrame({"y": [1, 0, 1, 0], "c": ["a", "b", "a", "rare"]}), categorical=[Field("c", min_count=2)])
    test = _log(pl.DataFrame({"y": [1, 0, 1], "c": ["a", "b", "zzz"]}), categorical=[Field("c", min_count=2)])
    vocab = train.fit_vocab()
    assert vocab.vocabs["c"].tolist() == ["a"]  # "b" and "rare" seen once: below min_count
    assert vocab.sizes == [2]  # OOV + "a"
    enc = vocab.transform(test)
    assert enc.index[:, 0].tolist() == [1, 0, 0]  # "a" known; "b" rare in train; "zzz" unseen -> OOV
    # fitting on the test log instead would have given "zzz" a code: the train vocab did not
    assert "zzz" not in vocab.vocabs["c"].tolist()


def test_group_ids_keep_unseen_users_apart() -> None:
    train = _log(pl.DataFrame({"y": [1, 0], "u": ["a", "a"]}), categorical=["u"], group="u")
    test = _log(pl.DataFrame({"y": [1, 0, 1], "u": ["new1", "new2", "new1"]}), categorical=["u"], group="u")
    enc = train.fit_vocab().transform(test)
    assert enc.index[:, 0].tolist() == [0, 0, 0]  # both unseen: OOV code
    assert enc.group is not None and enc.group.tolist() == [0, 1, 0]  # but distinct groups


def test_offsets_fuse_fields_into_one_table_and_missing_is_a_value() -> None:
    df = pl.DataFrame({"y": [1, 0, 1], "a": ["x", None, "x"], "b": [3, 4, 3]})
    log = _log(df, categorical=["a", "b"])
    v = log.fit_vocab()
    assert v.sizes == [3, 3]  # OOV + {<missing>, x}; OOV + {3, 4}
    assert v.offsets.tolist() == [0, 3]
    enc = v.transform(log)
    assert enc.index.tolist() == [[2, 4], [1, 5], [2, 4]]
    assert enc.index.dtype == np.int32 and enc.value.dtype == np.float32


def test_numeric_log_and_bucket_transforms() -> None:
    df = pl.DataFrame({"y": [1, 0, 1, 0], "x": [0.0, np.e - 1, None, -3.0], "q": [1.0, 2.0, 3.0, 4.0]})
    log = _log(df, numeric=["x", Field("q", "numeric", transform="bucket", n_buckets=2)])
    v = log.fit_vocab()
    enc = v.transform(log)
    np.testing.assert_allclose(enc.value[:, 0], [0.0, 1.0, 0.0, -np.log(4.0)], rtol=1e-6)
    assert v.boundaries["q"].tolist() == [2.5]
    assert (enc.index[:, 1] - v.offsets[1]).tolist() == [1, 1, 2, 2]


def test_bad_values_name_line_column_value_and_fix() -> None:
    with pytest.raises(DataError, match=r"line 2, column 'x'.*'abc'.*not a number"):
        _log(pl.DataFrame({"y": [1, 0], "x": ["1.5", "abc"]}), numeric=["x"])
    with pytest.raises(DataError, match=r"line 1, column 'y'.*'yes'.*binarise"):
        _log(pl.DataFrame({"y": ["yes", "0"], "c": ["a", "b"]}), categorical=["c"])
    with pytest.raises(DataError, match=r"column\(s\) \['nope'\] not found"):
        _log(pl.DataFrame({"y": [1], "c": ["a"]}), categorical=["nope"])
    with pytest.raises(ConfigError, match="label"):
        parse_spec("cat=a,b")


def test_random_and_temporal_splits() -> None:
    n = 1000
    df = pl.DataFrame({"y": np.arange(n) % 2, "c": np.arange(n) % 7, "t": np.arange(n)[::-1]})
    log = _log(df, categorical=["c"], time="t")
    a = log.random_split((0.8, 0.1, 0.1), seed=3)
    b = log.random_split((0.8, 0.1, 0.1), seed=3)
    assert [x.n_rows for x in a] == [800, 100, 100]
    assert a[1].frame.equals(b[1].frame)
    tr, va, te = log.temporal_split((0.8, 0.1, 0.1))
    assert tr.frame["t"].max() < va.frame["t"].min() <= va.frame["t"].max() < te.frame["t"].min()


def test_vocab_roundtrip_through_numeric_arrays() -> None:
    df = pl.DataFrame({"y": [1, 0, 1], "c": ["é", "b", None], "q": [1.0, 5.0, 9.0]})
    log = _log(df, categorical=["c"], numeric=[Field("q", "numeric", transform="bucket", n_buckets=3)])
    v = log.fit_vocab()
    arrays = v.to_arrays()
    assert all(a.dtype != object for a in arrays.values())
    v2 = FeatureVocab.from_arrays(arrays)
    np.testing.assert_array_equal(v2.transform(log).index, v.transform(log).index)


def test_read_criteo_tsv_with_empty_fields(tmp_path: Path) -> None:
    row1 = ["1", "5", "", *["0"] * 11, "abc", "", *["x"] * 24]
    row2 = ["0", "", "2", *["1"] * 11, "abc", "def", *["y"] * 24]
    p = tmp_path / "train.txt"
    p.write_text("\t".join(row1) + "\n" + "\t".join(row2) + "\n")
    log = read_criteo(p)
    assert log.n_rows == 2 and len(log.fields) == 39
    assert log.frame["C2"].to_list() == ["<missing>", "def"]
    assert log.frame["I1"].to_list() == [5.0, None]
    p.write_text("\t".join(row1[:30]) + "\n")
    with pytest.raises(DataError, match="line 1: expected 40"):
        read_criteo(p)


def test_read_libfm_maps_kth_feature_to_field_k(tmp_path: Path) -> None:
    p = tmp_path / "a.libfm"
    p.write_text("1 3:1 10:1\n-1 4:1 10:1\n")
    log = read_libfm(p, fields=["user", "item"])
    assert log.labels.tolist() == [1.0, 0.0]
    assert log.frame["user"].to_list() == ["3", "4"] and log.frame["item"].to_list() == ["10", "10"]
    p.write_text("1 3:1 10:1\n1 3:1\n")
    with pytest.raises(DataError, match="line 2: expected a label and 2 features"):
        read_libfm(p)
    p.write_text("1 3:1 foo\n")
    with pytest.raises(DataError, match="line 1, feature 2: 'foo'"):
        read_libfm(p)


def test_read_feature_table_csv_with_spec(tmp_path: Path) -> None:
    p = tmp_path / "clicks.csv"
    p.write_text("click,user,price\n1,u1,3.5\n0,u2,\n1,u1,2\n")
    log = read_feature_table(p, "label=click;cat=user;num=price:log;group=user")
    assert log.field_names == ["user", "price"] and log.group == "user"
    p.write_text("click,user,price\n1,u1,3.5\n0,u2,cheap\n")
    with pytest.raises(DataError, match=r"clicks.csv, line 3, column 'price': value 'cheap'"):
        read_feature_table(p, "label=click;cat=user;num=price")


@pytest.mark.realdata
def test_frappe_and_movielens_ctr_real_files(shared_datasets: Path) -> None:
    fr = read_frappe(shared_datasets / "frappe" / "nfm-libfm")
    assert fr.n_rows == 57722 + 28860
    assert int(fr.labels.sum()) == 19063 + 9536  # positives stated in the dataset README
    ml = read_movielens_ctr(shared_datasets / "ml-100k")
    assert ml.n_rows == 100_000
    assert int(ml.labels.sum()) == 34174 + 21201  # ratings 4 and 5 (README histogram)
    assert {"user", "item", "age", "gender", "occupation", "year", "g_Action"} <= set(ml.field_names)
    years = ml.frame["year"].filter(ml.frame["year"] != "<missing>")  # item 267 has no date
    assert years.str.len_chars().min() == 4 and years.str.len_chars().max() == 4
