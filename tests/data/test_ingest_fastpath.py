"""The fast ingestion path (typed CSV read + one fused validation pass) must behave exactly
like the rule-by-rule path it short-cuts: same codes, vocabularies, values and the same
error messages (line numbers included), for clean files and for every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recforge.data import _validate, read_interactions, readers
from recforge.errors import DataError

ROWS = [(u, i, ((u * 7 + i) % 10) / 2 + 0.5, 1_000_000 + u * 31 + i)
        for u in range(12) for i in range(0, 60, 7)]


def _write(path: Path, rows: list[tuple[object, ...]], header: str = "user,item,rating,timestamp") -> Path:
    path.write_text(header + "\n" + "".join(",".join(str(x) for x in r) + "\n" for r in rows))
    return path


CASES = {
    "clean": ROWS,
    "string_ids": [(f"u{u}", i, r, t) for u, i, r, t in ROWS],
    "late_string_id": ROWS + [("zz", 1, 1.0, 5)],
    "float_timestamps": [(u, i, r, t + 0.5) for u, i, r, t in ROWS],
    "iso_timestamps": [(u, i, r, f"2020-01-01T00:00:{i % 60:02d}") for u, i, r, t in ROWS],
    "integer_ratings": [(u, i, int(r), t) for u, i, r, t in ROWS],
    "nan_rating": ROWS[:30] + [(99, 1, "NaN", 5)] + ROWS[30:],
    "inf_rating": ROWS[:30] + [(99, 1, "inf", 5)] + ROWS[30:],
    "negative_rating": ROWS[:40] + [(99, 1, -1.5, 5)] + ROWS[40:],
    "missing_user": ROWS[:40] + [("", 1, 1.5, 5)] + ROWS[40:],
    "missing_rating": ROWS[:40] + [(98, 1, "", 5)] + ROWS[40:],
    "missing_timestamp": ROWS[:40] + [(98, 1, 1.0, "")] + ROWS[40:],
    "negative_item": ROWS[:5] + [(3, -2, 1.0, 5)] + ROWS[5:],
    "fractional_user": ROWS[:9] + [(1.5, 2, 1.0, 5)] + ROWS[9:],
    "duplicate_pair": ROWS + [ROWS[17]],
    "ragged": ROWS[:20] + [(1, 2, 3)] + ROWS[20:],
}


def _outcome(path: Path) -> tuple[object, ...]:
    try:
        d = read_interactions(path, rating="rating", timestamp="timestamp")
    except DataError as exc:
        return ("error", str(exc))
    return ("ok", d.user.tolist(), d.item.tolist(), d.user_ids.tolist(), d.user_ids.dtype.kind,
            d.item_ids.tolist(), d.rating.tolist(), d.timestamp.tolist())


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_path_matches_rule_by_rule_path(tmp_path, monkeypatch, case):
    p = _write(tmp_path / f"{case}.csv", CASES[case])
    fast = _outcome(p)
    monkeypatch.setattr(readers, "_interaction_types", lambda *a, **k: None)
    monkeypatch.setattr(_validate, "_clean_stats", lambda *a, **k: None)
    slow = _outcome(p)
    assert fast == slow
    if case == "clean":
        assert fast[0] == "ok"
    if case in ("nan_rating", "negative_rating", "missing_user", "duplicate_pair", "negative_item"):
        assert fast[0] == "error"


def test_clean_file_codes_against_numpy_reference(tmp_path):
    p = _write(tmp_path / "clean.csv", CASES["clean"])
    d = read_interactions(p, rating="rating", timestamp="timestamp")
    ref = pd.read_csv(p)
    for col, codes, vocab in (("user", d.user, d.user_ids), ("item", d.item, d.item_ids)):
        uniq, inverse = np.unique(ref[col].to_numpy(), return_inverse=True)
        np.testing.assert_array_equal(vocab, uniq)
        np.testing.assert_array_equal(codes, inverse)
    np.testing.assert_array_equal(d.rating, ref["rating"].to_numpy(np.float32))
    np.testing.assert_array_equal(d.timestamp, ref["timestamp"].to_numpy())


def test_error_line_numbers_on_fast_path(tmp_path):
    p = _write(tmp_path / "neg.csv", CASES["negative_rating"])
    with pytest.raises(DataError, match=r"line 42, column 'rating': negative rating/weight -1.5"):
        read_interactions(p, rating="rating", timestamp="timestamp")
    p = _write(tmp_path / "dup.csv", CASES["duplicate_pair"])
    with pytest.raises(DataError, match=rf"line {len(ROWS) + 2}, .*first seen at .*line 19;"):
        read_interactions(p, rating="rating", timestamp="timestamp")
