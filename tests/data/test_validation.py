"""Bad input: every rule raises DataError naming file, line (header = line 1), column,
value and the fix. CSV cases are real files written to tmp_path, so the line numbers are
checked against the file itself; frame cases name the 0-based row."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest

from recforge.data import Interactions, filter_rating, k_core, read_interactions
from recforge.errors import DataError

HEADER = "user,item,rating,timestamp\n"
GOOD = ["1,10,4.0,100", "1,11,3.0,101", "2,10,5.0,102", "2,12,1.0,103", "3,11,2.0,104"]


def write(tmp_path: Path, rows: list[str], name: str = "log.csv", header: str = HEADER) -> Path:
    p = tmp_path / name
    p.write_text(header + "".join(r + "\n" for r in rows))
    return p


def read(p: Path, **kw):
    opts = {"rating": "rating", "timestamp": "timestamp"} | kw
    return read_interactions(p, user="user", item="item", **opts)


def line_of(p: Path, needle: str) -> int:
    """1-based line number of the first line containing ``needle`` (independent of recforge)."""
    for n, line in enumerate(p.read_text().splitlines(), start=1):
        if needle in line:
            return n
    raise AssertionError(needle)


def assert_names(msg: str, p: Path | None, line: int | None, column: str | None, value: str | None) -> None:
    if p is not None:
        assert str(p) in msg, msg
    if line is not None:
        assert re.search(rf"\bline {line}\b", msg), msg
    if column is not None:
        assert f"'{column}'" in msg, msg
    if value is not None:
        assert value in msg, msg


# ------------------------------------------------------------------ files
def test_good_file_reads(tmp_path):
    data = read(write(tmp_path, GOOD))
    assert (data.n_users, data.n_items, len(data)) == (3, 3, 5)


def test_missing_column(tmp_path):
    p = write(tmp_path, GOOD)
    with pytest.raises(DataError) as exc:
        read(p, rating="stars")
    msg = str(exc.value)
    assert_names(msg, p, None, "stars", None)
    assert "available columns" in msg and "rating" in msg


@pytest.mark.parametrize(("bad_row", "value"), [("2,12,abc,103", "'abc'"), ("2,12,4..5,103", "'4..5'")])
def test_unparsable_number(tmp_path, bad_row, value):
    p = write(tmp_path, GOOD[:3] + [bad_row] + GOOD[4:])
    with pytest.raises(DataError, match="is not a number") as exc:
        read(p)
    assert_names(str(exc.value), p, line_of(p, bad_row), "rating", value)


def test_unparsable_number_beyond_type_inference_window(tmp_path):
    rows = [f"{u},{u % 97},{1 + u % 5}.0,{1000 + u}" for u in range(12_000)]
    rows[11_000] = "11000,3,x5,12000"
    p = write(tmp_path, rows)
    with pytest.raises(DataError) as exc:
        read(p)
    assert_names(str(exc.value), p, 11_002, "rating", "'x5'")
    assert line_of(p, "11000,3,x5") == 11_002


@pytest.mark.parametrize(("token", "shown"), [("nan", "nan"), ("inf", "inf"), ("-inf", "-inf"), ("NaN", "nan")])
def test_nan_and_inf(tmp_path, token, shown):
    row = f"2,12,{token},103"
    p = write(tmp_path, GOOD[:3] + [row])
    with pytest.raises(DataError, match="NaN and infinity are not allowed") as exc:
        read(p)
    assert_names(str(exc.value), p, line_of(p, row), "rating", shown)


def test_negative_weight(tmp_path):
    p = write(tmp_path, GOOD[:4] + ["3,11,-2.5,104"])
    with pytest.raises(DataError, match="weights must be >= 0") as exc:
        read(p)
    assert_names(str(exc.value), p, 6, "rating", "-2.5")


def test_missing_value(tmp_path):
    p = write(tmp_path, GOOD[:2] + ["2,10,,102"] + GOOD[3:])
    with pytest.raises(DataError, match="missing rating value") as exc:
        read(p)
    assert_names(str(exc.value), p, 4, "rating", None)


@pytest.mark.parametrize(("row", "column", "value", "rule"), [
    ("-1,10,4.0,100", "user", "-1", "negative user id"),
    ("1,-7,4.0,100", "item", "-7", "negative item id"),
    (",10,4.0,100", "user", None, "missing user id"),
])
def test_bad_ids(tmp_path, row, column, value, rule):
    p = write(tmp_path, GOOD[:3] + [row] + GOOD[3:])
    with pytest.raises(DataError, match=rule) as exc:
        read(p)
    assert_names(str(exc.value), p, 5, column, value)


def test_non_integer_float_id(tmp_path):
    p = write(tmp_path, ["1.0,10,4.0,100", "2.5,11,3.0,101"])
    with pytest.raises(DataError, match="is not an integer") as exc:
        read(p)
    assert_names(str(exc.value), p, 3, "user", "2.5")


def test_pre_encoded_ids_out_of_range(tmp_path):
    p = write(tmp_path, ["0,0,4.0,100", "1,2,3.0,101", "2,5,3.0,102"])
    ok = read(p, n_users=3, n_items=6)
    assert ok.n_items == 6 and ok.item.tolist() == [0, 2, 5] and ok.item_ids.tolist() == list(range(6))
    with pytest.raises(DataError, match=r"out of range for n_items=5 .*\[0, 5\)") as exc:
        read(p, n_users=3, n_items=5)
    assert_names(str(exc.value), p, 4, "item", "5")


def test_unparsable_timestamp(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("user,item,timestamp\n1,2,2020-01-01T00:00:00\n1,3,yesterday\n")
    with pytest.raises(DataError, match="neither a number nor a date") as exc:
        read_interactions(p, timestamp="timestamp")
    assert_names(str(exc.value), p, 3, "timestamp", "'yesterday'")


def test_ragged_line(tmp_path):
    p = write(tmp_path, GOOD[:2] + ["2,10,5.0,102,extra"] + GOOD[3:])
    with pytest.raises(DataError, match="expected 4 fields") as exc:
        read(p)
    assert_names(str(exc.value), p, 4, None, None)


def test_empty_file_and_header_only(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="file is empty"):
        read(empty)
    header_only = write(tmp_path, [], name="h.csv")
    with pytest.raises(DataError, match="no data rows"):
        read(header_only)


def test_empty_after_filtering(tmp_path):
    data = read(write(tmp_path, GOOD))
    with pytest.raises(DataError, match=r"no interactions left after rating >= 6.*lower the threshold"):
        filter_rating(data, 6)
    with pytest.raises(DataError, match=r"no interactions left after 3/3-core.*lower k"):
        k_core(data, user_k=3, item_k=3)


# ------------------------------------------------------------------ duplicates
DUPS = ["1,10,4.0,100", "2,10,5.0,101", "1,11,1.0,102", "1,10,2.0,99", "1,10,3.0,105"]


def test_duplicates_error_names_both_lines(tmp_path):
    p = write(tmp_path, DUPS)
    with pytest.raises(DataError, match=r"duplicate \(user, item\) pair \(1, 10\)") as exc:
        read(p)
    msg = str(exc.value)
    assert_names(msg, p, 5, "user", None)
    assert "'item'" in msg and "first seen at" in msg and "line 2" in msg
    assert "keep_last" in msg and "sum" in msg


def test_duplicates_keep_last_is_latest_by_time(tmp_path):
    data = read(write(tmp_path, DUPS), duplicates="keep_last")
    frame = data.to_frame().sort(["user", "item"])
    # (1, 10) at times 100, 99, 105 -> the one at 105 (rating 3.0) survives
    assert frame.rows() == [(1, 10, 3.0, 105), (1, 11, 1.0, 102), (2, 10, 5.0, 101)]
    assert data.report.steps[-1] == {"step": "deduplicate", "policy": "keep_last", "removed": 2}


def test_duplicates_keep_last_without_time_uses_row_order(tmp_path):
    data = read(write(tmp_path, DUPS), timestamp=None, duplicates="keep_last")
    assert sorted(data.to_frame().rows()) == [(1, 10, 3.0), (1, 11, 1.0), (2, 10, 5.0)]


def test_duplicates_sum(tmp_path):
    data = read(write(tmp_path, DUPS), duplicates="sum")
    assert sorted(data.to_frame().rows()) == [(1, 10, 9.0, 105), (1, 11, 1.0, 102), (2, 10, 5.0, 101)]
    counted = read(write(tmp_path, DUPS), rating=None, timestamp=None, duplicates="sum")
    assert sorted(counted.to_frame().rows()) == [(1, 10, 3.0), (1, 11, 1.0), (2, 10, 1.0)]
    assert counted.report.steps[-1]["removed"] == 2


def test_duplicates_keep_all_and_unknown_policy(tmp_path):
    p = write(tmp_path, DUPS)
    assert len(read(p, duplicates="keep_all")) == 5
    with pytest.raises(DataError, match="duplicates must be one of"):
        read(p, duplicates="first")


# ------------------------------------------------------------------ frames
@pytest.mark.parametrize("kind", ["pandas", "polars"])
def test_frame_errors_name_row_and_column(kind):
    def make(**cols):
        base = {"u": [1, 1, 2, 3], "i": [10, 11, 10, 12], "r": [4.0, 3.0, 5.0, 1.0]}
        base.update(cols)
        return pd.DataFrame(base) if kind == "pandas" else pl.DataFrame(base)

    cases = [
        (make(r=[4.0, 3.0, -1.0, 1.0]), "negative rating/weight", "row 2", "r", "-1.0"),
        (make(r=[4.0, 3.0, 5.0, math.inf]), "NaN and infinity", "row 3", "r", "inf"),
        (make(r=["4", "3", "five", "1"]), "is not a number", "row 2", "r", "'five'"),
        (make(u=[1, -4, 2, 3]), "negative user id", "row 1", "u", "-4"),
        (make(i=[10, 11, 10, 10], u=[1, 1, 2, 2]), "duplicate", "row 3", "u", "(2, 10)"),
    ]
    for df, rule, row, col, value in cases:
        with pytest.raises(DataError, match=rule) as exc:
            Interactions.from_frame(df, user="u", item="i", rating="r")
        msg = str(exc.value)
        assert re.search(rf"\b{row}\b", msg), msg
        assert f"'{col}'" in msg and value in msg, msg


def test_pandas_nan_becomes_missing_value_error():
    df = pd.DataFrame({"u": [1, 2], "i": [1, 2], "r": [1.0, np.nan]})
    with pytest.raises(DataError, match=r"row 1, column 'r': (missing rating value|rating is nan)"):
        Interactions.from_frame(df, user="u", item="i", rating="r")


def test_polars_nan_is_rejected():
    df = pl.DataFrame({"u": [1, 2], "i": [1, 2], "r": [1.0, float("nan")]})
    with pytest.raises(DataError, match=r"row 1, column 'r': rating is nan; NaN and infinity"):
        Interactions.from_frame(df, user="u", item="i", rating="r")


def test_empty_frame_and_missing_frame_column():
    with pytest.raises(DataError, match="no interactions"):
        Interactions.from_frame(pl.DataFrame({"u": [], "i": []}), user="u", item="i")
    with pytest.raises(DataError, match=r"missing item column 'item'.*available columns"):
        Interactions.from_frame(pd.DataFrame({"u": [1], "i": [2]}), user="u")
    with pytest.raises(DataError, match="must be a pandas or polars DataFrame"):
        Interactions.from_frame([(1, 2)], user="u", item="i")


def test_string_and_integer_ids_encode_to_sorted_vocabularies():
    df = pl.DataFrame({"u": ["b", "a", "c", "a"], "i": [30, 10, 20, 30]})
    data = Interactions.from_frame(df, user="u", item="i")
    assert data.user_ids.tolist() == ["a", "b", "c"] and data.item_ids.tolist() == [10, 20, 30]
    assert data.user.tolist() == [1, 0, 2, 0] and data.item.tolist() == [2, 0, 1, 2]
    big = Interactions.from_frame(pl.DataFrame({"u": [10**12, 5], "i": [1, 2]}), user="u", item="i")
    assert big.user_ids.tolist() == [5, 10**12] and big.user.tolist() == [1, 0]


def test_rating_too_large_for_float32_names_line_and_column(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from recforge.data import read_interactions
    from recforge.errors import DataError

    p = tmp_path / "big.csv"
    p.write_text("user,item,rating\n1,10,4\n2,11,1e39\n")
    with pytest.raises(DataError, match=r"big.csv, line 3, column 'rating'.*too large"):
        read_interactions(p, rating="rating")
