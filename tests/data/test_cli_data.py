"""``recforge data import`` and ``recforge data info``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from recforge.cli import app

runner = CliRunner()


def _csv(tmp_path, rows):
    p = tmp_path / "log.csv"
    p.write_text("u,i,r,t\n" + "".join(r + "\n" for r in rows))
    return p


def test_import_bad_file_exits_2_one_line_no_output(tmp_path):
    p = _csv(tmp_path, ["1,10,4,100", "1,11,x,101", "2,10,3,102"])
    out = tmp_path / "ds"
    res = runner.invoke(app, ["data", "import", str(p), "--user", "u", "--item", "i",
                              "--rating", "r", "--timestamp", "t", "--out", str(out)])
    assert res.exit_code == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and "line 3" in lines[0] and "'r'" in lines[0] and "'x'" in lines[0]
    assert res.stdout == ""
    assert not out.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["log.csv"]  # no temp dir left behind


def test_import_failure_keeps_an_existing_output_intact(tmp_path):
    good = _csv(tmp_path, ["1,10,4,100", "2,11,3,101"])
    out = tmp_path / "ds"
    args = ["--user", "u", "--item", "i", "--rating", "r", "--out", str(out)]
    assert runner.invoke(app, ["data", "import", str(good), *args]).exit_code == 0
    before = (out / "manifest.json").read_text()
    bad = tmp_path / "bad.csv"
    bad.write_text("u,i,r\n1,10,-1\n")
    res = runner.invoke(app, ["data", "import", str(bad), *args])
    assert res.exit_code == 2 and "negative rating" in res.stderr
    assert (out / "manifest.json").read_text() == before


def test_import_then_info_json(tmp_path):
    p = _csv(tmp_path, ["1,10,4,100", "1,11,5,101", "2,10,3,102", "2,12,1,103", "3,10,5,104",
                        "3,10,2,105"])
    out = tmp_path / "ds"
    res = runner.invoke(app, ["data", "import", str(p), "--user", "u", "--item", "i", "--rating", "r",
                              "--timestamp", "t", "--duplicates", "keep_last", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.stderr
    manifest = json.loads(res.stdout)
    assert manifest["summary"]["n_interactions"] == 5
    assert manifest["preprocessing"][-1] == {"step": "deduplicate", "policy": "keep_last", "removed": 1}
    assert (out / "interactions.parquet").exists()
    info = runner.invoke(app, ["data", "info", str(out), "--json"])
    assert info.exit_code == 0, info.stderr
    s = json.loads(info.stdout)
    assert (s["n_users"], s["n_items"], s["n_interactions"]) == (3, 3, 5)
    assert s["density"] == pytest.approx(5 / 9)
    assert s["time_range"] == {"min": 100, "max": 105}
    assert s["rating_histogram"] == {"1": 1, "2": 1, "3": 1, "4": 1, "5": 1}
    assert s["user_degree"]["max"] == 2 and s["item_degree"]["max"] == 3


def test_info_on_a_tampered_import_is_an_error(tmp_path):
    p = _csv(tmp_path, ["1,10,4,100", "2,11,3,101"])
    out = tmp_path / "ds"
    assert runner.invoke(app, ["data", "import", str(p), "--user", "u", "--item", "i",
                               "--out", str(out)]).exit_code == 0
    pq = out / "interactions.parquet"
    pq.write_bytes(pq.read_bytes()[:-10] + b"0123456789")
    res = runner.invoke(app, ["data", "info", str(out), "--json"])
    assert res.exit_code == 2 and "checksum mismatch" in res.stderr and res.stdout == ""


@pytest.mark.realdata
@pytest.mark.parametrize(("name", "folder", "expected"), [
    ("ml-100k", "ml-100k", (943, 1682, 100_000)),
    ("lastfm-2k", "hetrec2011-lastfm-2k", (1892, 17632, 92_834)),
    ("gowalla", "lightgcn-gowalla", (29_858, 40_981, 810_128)),
])
def test_info_json_on_real_datasets(shared_datasets, name, folder, expected):
    res = runner.invoke(app, ["data", "info", name, "--path", str(shared_datasets / folder), "--json"])
    assert res.exit_code == 0, res.stderr
    s = json.loads(res.stdout)
    assert (s["n_users"], s["n_items"], s["n_interactions"]) == expected


def test_info_unknown_name_is_one_line(tmp_path):
    res = runner.invoke(app, ["data", "info", "no-such-dataset"])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1


@pytest.mark.realdata
def test_info_files_option_reads_the_ml1m_subset(shared_datasets):
    """The CS100.1x subset of ML-1M, not the official ratings.dat (see the shared README)."""
    res = runner.invoke(app, ["data", "info", "ml-1m", "--path", str(shared_datasets / "ml-1m"),
                              "--files", "subset-cs100/ratings.dat.gz", "--json"])
    assert res.exit_code == 0, res.stderr
    s = json.loads(res.stdout)
    assert (s["n_users"], s["n_items"], s["n_interactions"]) == (2999, 3615, 487_650)
    missing = runner.invoke(app, ["data", "info", "ml-1m", "--path", str(shared_datasets / "ml-1m")])
    assert missing.exit_code == 2 and "ratings.dat not found" in missing.stderr
