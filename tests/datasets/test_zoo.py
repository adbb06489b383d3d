"""Dataset zoo: readers on the real files, and the download path against a local HTTP server."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import recforge as rf
from recforge.datasets import _zoo
from recforge.datasets._download import Remote, extract
from recforge.errors import ConfigError, DataError

# --------------------------------------------------------------------------- real files
# Expected figures: the dataset authors' published statistics, as checked in
# shared/datasets/README.md.


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "folder", "files", "users", "items", "rows"),
    [
        ("ml-100k", "ml-100k", None, 943, 1682, 100_000),
        ("lastfm-2k", "hetrec2011-lastfm-2k", None, 1892, 17632, 92_834),
        ("gowalla", "lightgcn-gowalla", None, 29_858, 40_981, 810_128),
        ("gowalla", "lightgcn-gowalla", ["train.txt", "test.txt"], 29_858, 40_981, 1_027_370),
        ("citeulike-a", "citeulike-a", None, 5551, 16_980, 204_986),
        ("ml-latest-small", "ml-latest-small", None, 610, 9724, 100_836),
    ],
)
def test_reader_on_real_files(shared_datasets, name, folder, files, users, items, rows):
    data = rf.datasets.load(name, path=shared_datasets / folder, files=files)
    s = data.summary()
    assert (s["n_users"], s["n_items"], s["n_interactions"]) == (users, items, rows)


@pytest.mark.realdata
def test_ml100k_rating_histogram_and_official_split_files(shared_datasets):
    data = rf.datasets.load("ml-100k", path=shared_datasets / "ml-100k")
    assert data.summary()["rating_histogram"] == {"1": 6110, "2": 11370, "3": 27145, "4": 34174, "5": 21201}
    both = rf.datasets.load("ml-100k", path=shared_datasets / "ml-100k", files=["u1.base", "u1.test"])
    assert both.origin_names == ["u1.base", "u1.test"]
    assert np.bincount(both.origin).tolist() == [80_000, 20_000]
    train, valid, test = rf.split.given(both, train="u1.base", test="u1.test", unseen="keep")
    assert valid is None and len(train) == 80_000 and len(test) == 20_000


@pytest.mark.realdata
def test_lastfm_weight_is_play_count(shared_datasets):
    data = rf.datasets.load("lastfm-2k", path=shared_datasets / "hetrec2011-lastfm-2k")
    # first data line of user_artists.dat: "2\t51\t13883"
    u = data.encode_users([2])[0]
    i = data.encode_items([51])[0]
    row = np.flatnonzero((data.user == u) & (data.item == i))
    assert data.rating is not None and data.rating[row].tolist() == [13883.0]


@pytest.mark.realdata
def test_ml1m_reader_on_the_cs100_subset(shared_datasets):
    """NOT the official ratings.dat (see shared/datasets README): the CS100.1x subset of
    ML-1M (users 1-2,999), '::' format, gzip-compressed, read through files=."""
    data = rf.datasets.load("ml-1m", path=shared_datasets / "ml-1m",
                            files=["subset-cs100/ratings.dat.gz"])
    s = data.summary()
    assert (s["n_users"], s["n_items"], s["n_interactions"]) == (2999, 3615, 487_650)
    assert s["rating_histogram"] == {"1": 27472, "2": 53838, "3": 127216, "4": 170579, "5": 108545}


def test_every_entry_has_official_url_and_licence():
    for name in rf.datasets.names():
        info = rf.datasets.info(name)
        if info["embedded"] or not info["files"]:
            continue
        assert info["licence"], name
        for f in info["files"]:
            assert f["url"].startswith("https://"), name
            if f["sha256"] or f["md5"] or f["git_blob"]:
                assert f["checksum_source"], f"{name}: a pinned checksum must say where it comes from"


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ConfigError, match="valid names are: .*ml-100k"):
        rf.datasets.load("ml-99k")


# --------------------------------------------------------------------------- local HTTP server
class _Server:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncate: dict[str, int] = {}
        self.hits: list[str] = []
        files, truncate, hits = self.files, self.truncate, self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                hits.append(self.path)
                body = files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: truncate.get(self.path, len(body))])
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "cache"
    monkeypatch.setenv("RECFORGE_CACHE", str(d))
    return d


U_DATA = b"1\t10\t5\t881250949\n1\t20\t3\t881250950\n2\t10\t4\t881250951\n3\t30\t1\t881250952\n"


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, body in members.items():
            zf.writestr(name, body)
    return buf.getvalue()


def _leftovers(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*")) if d.exists() else []


@pytest.fixture
def ml100k_zip(server) -> bytes:
    body = _zip({"ml-100k/u.data": U_DATA, "ml-100k/README": b"test archive"})
    server.files["/ml-100k.zip"] = body
    return body


def _patch_remote(monkeypatch, name: str, remote: Remote) -> None:
    monkeypatch.setitem(_zoo.ZOO, name, dataclasses.replace(_zoo.ZOO[name], remotes=(remote,)))


def test_download_verifies_extracts_and_caches(server, cache, ml100k_zip, monkeypatch):
    sha = hashlib.sha256(ml100k_zip).hexdigest()
    _patch_remote(monkeypatch, "ml-100k", Remote(server.url("/ml-100k.zip"), "ml-100k.zip",
                                                 sha256=sha, extract=True))
    data = rf.datasets.load("ml-100k")
    assert (data.n_users, data.n_items, len(data)) == (3, 3, 4)
    assert (cache / "ml-100k" / "ml-100k.zip").read_bytes() == ml100k_zip
    assert (cache / "ml-100k" / "files" / "ml-100k" / "u.data").read_bytes() == U_DATA
    again = rf.datasets.load("ml-100k")  # from the cache: no second request
    assert len(again) == 4 and server.hits == ["/ml-100k.zip"]
    assert not [p for p in _leftovers(cache) if ".part-" in p or ".extract-" in p]


def test_checksum_mismatch_is_an_error_and_poisons_no_cache(server, cache, ml100k_zip, monkeypatch):
    _patch_remote(monkeypatch, "ml-100k", Remote(server.url("/ml-100k.zip"), "ml-100k.zip",
                                                 sha256="0" * 64, extract=True))
    with pytest.raises(DataError, match="checksum mismatch: sha256 [0-9a-f]{64} != expected 0{64}"):
        rf.datasets.load("ml-100k")
    assert [p for p in _leftovers(cache) if p != "ml-100k"] == []
    # a later load with the right checksum works (nothing stale was cached)
    _patch_remote(monkeypatch, "ml-100k", Remote(server.url("/ml-100k.zip"), "ml-100k.zip",
                                                 sha256=hashlib.sha256(ml100k_zip).hexdigest(), extract=True))
    assert len(rf.datasets.load("ml-100k")) == 4


def test_truncated_download_is_an_error_and_leaves_nothing(server, cache, ml100k_zip, monkeypatch):
    server.truncate["/ml-100k.zip"] = len(ml100k_zip) // 2
    _patch_remote(monkeypatch, "ml-100k", Remote(server.url("/ml-100k.zip"), "ml-100k.zip",
                                                 sha256=hashlib.sha256(ml100k_zip).hexdigest(), extract=True))
    with pytest.raises(DataError, match=r"truncated download \(\d+ of \d+ bytes\)|interrupted"):
        rf.datasets.load("ml-100k")
    assert [p for p in _leftovers(cache) if p != "ml-100k"] == []


def test_corrupted_byte_fails_md5_and_git_blob_checks(server, cache):
    body = b"0 1 2 3\n1 2 5\n"
    server.files["/train.txt"] = body
    blob = hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()
    md5 = hashlib.md5(body).hexdigest()
    ok = _zoo.Entry("t", "t", _zoo._gowalla, remotes=(
        Remote(server.url("/train.txt"), "train.txt", git_blob=blob),), main_file="train.txt")
    data = ok.load()
    assert len(data) == 5 and data.n_items == 4
    corrupt = body[:-2] + b"6\n"
    server.files["/bad.txt"] = corrupt
    for remote in (Remote(server.url("/bad.txt"), "b1.txt", git_blob=blob),
                   Remote(server.url("/bad.txt"), "b2.txt", git_blob=blob, size=len(body)),
                   Remote(server.url("/bad.txt"), "b3.txt", md5=md5)):
        with pytest.raises(DataError, match="checksum mismatch"):
            _zoo.Entry("bad", "bad", _zoo._gowalla, remotes=(remote,)).fetch()
    assert not (cache / "bad").exists() or _leftovers(cache / "bad") == []


def test_unverifiable_file_is_not_downloaded_without_consent(server, cache, ml100k_zip, monkeypatch):
    _patch_remote(monkeypatch, "ml-100k", Remote(server.url("/ml-100k.zip"), "ml-100k.zip", extract=True))
    with pytest.raises(ConfigError, match="no independently published checksum"):
        rf.datasets.load("ml-100k")
    assert server.hits == []
    assert len(rf.datasets.load("ml-100k", allow_unverified=True)) == 4


def test_network_failure_names_url_and_fix(cache, monkeypatch):
    _patch_remote(monkeypatch, "ml-100k", Remote("http://127.0.0.1:9/ml-100k.zip", "ml-100k.zip",
                                                 sha256="0" * 64, extract=True))
    with pytest.raises(DataError, match=r"127\.0\.0\.1:9/ml-100k\.zip: download failed .*path="):
        rf.datasets.load("ml-100k")


def test_path_may_be_the_official_archive(tmp_path, cache, monkeypatch):
    body = _zip({"ml-100k/u.data": U_DATA})
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(body)
    _patch_remote(monkeypatch, "ml-100k", Remote("https://example.invalid/ml-100k.zip", "ml-100k.zip",
                                                 sha256=hashlib.sha256(body).hexdigest(), extract=True))
    assert len(rf.datasets.load("ml-100k", path=archive)) == 4
    flipped = bytearray(body)
    flipped[40] ^= 0xFF  # one byte inside the compressed member
    archive.write_bytes(bytes(flipped))
    (cache / "ml-100k").rename(cache / "old")
    with pytest.raises(DataError, match="checksum mismatch"):
        rf.datasets.load("ml-100k", path=archive)


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt"])
def test_extract_refuses_path_traversal(tmp_path, member):
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip({"ok.txt": b"ok", member: b"evil"}))
    dest = tmp_path / "out" / "files"
    with pytest.raises(DataError, match="outside the target directory"):
        extract(archive, dest)
    assert not dest.exists()
    assert not list(tmp_path.rglob("evil.txt"))
    assert [p.name for p in (tmp_path / "out").iterdir()] == []  # temp dir removed


def test_reader_hook_registration(tmp_path, monkeypatch):
    monkeypatch.setattr(_zoo, "_REGISTERED", {})
    monkeypatch.setitem(_zoo.ZOO, "open-bandit", dataclasses.replace(_zoo.ZOO["open-bandit"], reader=None))
    with pytest.raises(ConfigError, match="no reader is installed .*register_reader"):
        rf.datasets.load("open-bandit", path=tmp_path)
    seen = {}

    def reader(root, *, files=None, **options):
        seen.update(root=root, files=files, options=options)
        return "ok"

    rf.datasets.register_reader("open-bandit", reader)
    assert rf.datasets.load("open-bandit", path=tmp_path, files=["a.csv"], campaign="all") == "ok"
    assert seen == {"root": tmp_path, "files": ["a.csv"], "options": {"campaign": "all"}}
    rf.datasets.register_reader("open-bandit", "recforge.datasets._zoo:_gowalla")
    assert _zoo._REGISTERED["open-bandit"] is _zoo._gowalla
    with pytest.raises(ConfigError, match="cannot be imported"):
        rf.datasets.register_reader("open-bandit", "recforge.nope:func")
    with pytest.raises(ConfigError, match="unknown dataset"):
        rf.datasets.register_reader("nope", reader)


def test_bad_adjacency_and_citeulike_lines_are_named(tmp_path):
    (tmp_path / "train.txt").write_text("0 1 2\n1 x 3\n")
    with pytest.raises(DataError, match=r"train\.txt, line 2: 'x' is not an integer id"):
        rf.datasets.load("gowalla", path=tmp_path)
    (tmp_path / "users.dat").write_text("2 5 6\n3 1 2\n")
    with pytest.raises(DataError, match=r"users\.dat, line 2: the count '3' does not match the 2 item ids"):
        rf.datasets.load("citeulike-a", path=tmp_path)


def test_missing_file_under_path_names_it(tmp_path):
    with pytest.raises(DataError, match=r"u\.data not found"):
        rf.datasets.load("ml-100k", path=tmp_path)
    with pytest.raises(DataError, match=r"u9\.base not found"):
        rf.datasets.load("ml-100k", path=tmp_path, files=["u9.base"])


def test_download_with_progress_bar_enabled(server, cache, ml100k_zip, monkeypatch):
    from recforge import _progress

    monkeypatch.setattr(_progress, "enabled", lambda: True)
    _patch_remote(monkeypatch, "ml-100k", Remote(server.url("/ml-100k.zip"), "ml-100k.zip",
                                                 sha256=hashlib.sha256(ml100k_zip).hexdigest(), extract=True))
    assert len(rf.datasets.load("ml-100k")) == 4
