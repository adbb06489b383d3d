"""BanditLog construction and validation (frames, files, compressed files)."""

from __future__ import annotations

import lzma

import numpy as np
import pandas as pd
import polars as pl
import pytest

from recforge.data import BanditLog
from recforge.data.bandit import read_bandit_log
from recforge.errors import DataError

MAP = {"action": "item", "reward": "click", "pscore": "p", "position": "slot"}


def frame(**over) -> pl.DataFrame:
    cols = {"item": [3, 5, 5, 7], "slot": [1, 2, 1, 3], "click": [0, 1, 0, 1],
            "p": [0.5, 0.25, 0.5, 1.0], "age": [0.1, 0.2, 0.3, 0.4],
            "gender": ["m", "f", "x", "f"], "user": ["u1", "u2", "u1", "u3"]}
    cols.update(over)
    return pl.DataFrame(cols)


def test_codes_vocabularies_and_one_hot() -> None:
    log = BanditLog.from_frame(frame(), **MAP, context=["age"], categorical_context=["gender"],
                               user="user")
    assert log.action.tolist() == [0, 1, 1, 2]
    assert log.action_ids.tolist() == [3, 5, 7]
    assert log.position.tolist() == [0, 1, 0, 2]
    assert log.len_list == 3
    # pandas.get_dummies(drop_first=True) is the reference for the one-hot columns
    ref = pd.get_dummies(frame().to_pandas()[["gender"]], drop_first=True).to_numpy(float)
    np.testing.assert_array_equal(log.context[:, 1:], ref)
    np.testing.assert_array_equal(log.context[:, 0], [0.1, 0.2, 0.3, 0.4])
    assert log.context_names == ["age", "gender_m", "gender_x"]
    assert log.user.tolist() == ["u1", "u2", "u1", "u3"]
    assert log.on_policy_value() == 0.5


def test_pandas_input_and_n_actions_and_action_context() -> None:
    items = pd.DataFrame({"item": list(range(8)), "cat": list("bbaabbab"),
                          "price": np.arange(8) * 1.5})
    log = BanditLog.from_frame(frame().to_pandas(), **MAP, n_actions=8, action_context=items)
    assert log.n_actions == 8 and log.action.tolist() == [3, 5, 5, 7]
    # categorical columns label-encoded (sorted categories) first, numeric columns after
    np.testing.assert_array_equal(log.action_context[:, 0], [1, 1, 0, 0, 1, 1, 0, 1])
    np.testing.assert_array_equal(log.action_context[:, 1], np.arange(8) * 1.5)


@pytest.mark.parametrize("over, mapping, match", [
    ({"p": [0.5, 0.0, 0.5, 1.0]}, {}, r"row 1, column 'p': propensity 0.0 is outside \(0, 1\]"),
    ({"p": [0.5, 1.2, 0.5, 1.0]}, {}, r"propensity 1.2 is outside"),
    ({"p": [0.5, float("nan"), 0.5, 1.0]}, {}, "NaN"),
    ({"p": [0.5, float("inf"), 0.5, 1.0]}, {}, "infinity"),
    ({"click": [0, 2, 0, 1]}, {}, r"row 1, column 'click': reward 2.0 is not 0 or 1"),
    ({"click": [0, None, 0, 1]}, {}, "missing reward"),
    ({"item": [3, None, 5, 7]}, {}, "missing action id"),
    ({}, {"reward": "clicked"}, "missing reward column 'clicked'"),
    ({}, {"context": ["income"]}, r"missing context\[0\] column 'income'"),
    ({"age": ["0.1", "old", "0.3", "0.4"]}, {"context": ["age"]}, "'old' is not a number"),
])
def test_bad_input_names_row_column_value(over, mapping, match) -> None:
    kw = {**MAP, **mapping}
    with pytest.raises(DataError, match=match):
        BanditLog.from_frame(frame(**over), **kw)


def test_action_outside_declared_range() -> None:
    with pytest.raises(DataError, match=r"action id 7 is outside \[0, 6\)"):
        BanditLog.from_frame(frame(), **MAP, n_actions=6)


def test_non_binary_reward_allowed_when_asked() -> None:
    log = BanditLog.from_frame(frame(click=[0.0, 2.5, 1.0, 0.0]), **MAP, binary_reward=False)
    assert log.reward.tolist() == [0.0, 2.5, 1.0, 0.0]


def test_csv_and_xz_files_report_file_and_line(tmp_path) -> None:
    df = frame(p=[0.5, 0.25, -0.1, 1.0])
    csv = tmp_path / "log.csv"
    df.write_csv(csv)
    with pytest.raises(DataError, match=r"log.csv, line 4, column 'p': propensity -0.1"):
        read_bandit_log(csv, **MAP)
    good = tmp_path / "good.csv.xz"
    good.write_bytes(lzma.compress(frame().write_csv().encode()))
    log = read_bandit_log(good, **MAP, context=["age"])
    assert log.n_rounds == 4 and log.name == "good"
    pq = tmp_path / "log.parquet"
    frame().write_parquet(pq)
    assert read_bandit_log(pq, **MAP).n_rounds == 4


def test_sort_by_keeps_line_numbers_of_the_file(tmp_path) -> None:
    df = frame(p=[0.5, 0.25, 0.0, 1.0]).with_columns(pl.Series("ts", [4, 3, 2, 1]))
    csv = tmp_path / "log.csv"
    df.write_csv(csv)
    with pytest.raises(DataError, match="line 4, column 'p'"):
        read_bandit_log(csv, **MAP, sort_by="ts")
    df.with_columns(pl.Series("p", [0.5, 0.25, 0.2, 1.0])).write_csv(csv)
    log = read_bandit_log(csv, **MAP, sort_by="ts")
    assert log.action_ids[log.action].tolist() == [7, 5, 5, 3]


def test_empty_and_missing_files(tmp_path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_bandit_log(tmp_path / "nope.csv", **MAP)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        read_bandit_log(tmp_path / "empty.csv", **MAP)
    (tmp_path / "header.csv").write_text("item,slot,click,p\n")
    with pytest.raises(DataError, match="no data rows|no rows"):
        read_bandit_log(tmp_path / "header.csv", **MAP)


def test_from_arrays_round_trip() -> None:
    log = BanditLog.from_arrays(action=[0, 2, 1], reward=[1, 0, 1], pscore=[0.2, 0.3, 0.5],
                                position=[0, 1, 1], context=np.eye(3), n_actions=4, len_list=3)
    assert (log.n_rounds, log.n_actions, log.len_list, log.dim_context) == (3, 4, 3, 3)
    assert log.position.tolist() == [0, 1, 1]
