"""Artifact safety: every corruption case raises ArtifactError; nothing is unpickled.

The round trip of every registered model is in tests/models/test_protocol.py; here the
format's own guarantees are checked on the most-popular baseline (plus extra files).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from recforge import artifacts
from recforge.artifacts import MANIFEST, STATE_FILE, VOCAB_FILE, add_files, load, read_extra, save
from recforge.errors import ArtifactError
from recforge.models.baselines import MostPopular


@pytest.fixture
def fitted(small_data):
    return MostPopular().fit(small_data)


@pytest.fixture
def art(tmp_path: Path, fitted) -> Path:
    return save(fitted, tmp_path / "art", {"note": "test"}, extra_files={"index.bin": b"\x00\x01abc"})


def _manifest(p: Path) -> dict:
    return json.loads((p / MANIFEST).read_text())


def _reseal(p: Path, manifest: dict | None = None) -> None:
    """Recompute every checksum and the digest: a deliberate tamper that passes the hashes,
    so the checks behind them are exercised."""
    m = manifest if manifest is not None else _manifest(p)
    m["files"] = {name: hashlib.sha256((p / name).read_bytes()).hexdigest() for name in m["files"]}
    m["digest"] = artifacts._manifest_digest(m)
    (p / MANIFEST).write_text(json.dumps(m))


# ---------------------------------------------------------------------------- round trip
def test_round_trip_same_recommendations_and_metadata(art: Path, fitted, small_data) -> None:
    model = load(art)
    users = small_data.user_ids[:7]
    a, b = fitted.recommend(users, k=5), model.recommend(users, k=5)
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_array_equal(a.scores, b.scores)
    m = model.artifact_manifest_
    assert m["model"] == "most-popular" and m["metadata"] == {"note": "test"}
    assert m["n_users"] == small_data.n_users and m["n_items"] == small_data.n_items
    assert set(m["files"]) == {STATE_FILE, VOCAB_FILE, "index.bin"}
    assert "numpy" in m["versions"] and "safetensors" in m["versions"]
    for name, digest in m["files"].items():
        assert hashlib.sha256((art / name).read_bytes()).hexdigest() == digest
    assert read_extra(art, "index.bin") == b"\x00\x01abc"


def test_string_ids_round_trip(tmp_path: Path) -> None:
    import polars as pl

    from recforge.data import Interactions

    df = pl.DataFrame({"u": ["b", "a", "a", "c"], "i": ["x", "y", "x", "z"]})
    data = Interactions.from_frame(df, user="u", item="i")
    model = load(save(MostPopular().fit(data), tmp_path / "s"))
    assert model.train_.user_ids.tolist() == ["a", "b", "c"]
    assert model.recommend(["c"], k=2).items[0].tolist() == ["x", "y"]


def test_add_files_merges_metadata_and_keeps_checks(art: Path) -> None:
    add_files(art, {"extra.json": b"{}"}, {"index": {"recall@10": 0.97}})
    m = load(art).artifact_manifest_
    assert m["metadata"] == {"note": "test", "index": {"recall@10": 0.97}}
    assert read_extra(art, "extra.json") == b"{}" and read_extra(art, "index.bin") == b"\x00\x01abc"
    (art / "extra.json").write_bytes(b"[]")
    with pytest.raises(ArtifactError, match="SHA-256 mismatch"):
        load(art)


def test_overwrite_is_atomic_and_failed_save_keeps_old(tmp_path: Path, fitted) -> None:
    target = save(fitted, tmp_path / "a")
    before = (target / MANIFEST).read_bytes()

    class Broken(MostPopular):
        def get_state(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("boom")

    broken = Broken().fit(fitted.train_)
    with pytest.raises(RuntimeError, match="boom"):
        save(broken, target)
    assert (target / MANIFEST).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]  # no temporary leftovers
    save(fitted, target, {"v": 2})
    assert load(target).artifact_manifest_["metadata"] == {"v": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]


@pytest.mark.parametrize("name", ["../evil", ".hidden", "a/b", MANIFEST, STATE_FILE, ""])
def test_bad_extra_file_names_rejected(tmp_path: Path, fitted, name: str) -> None:
    with pytest.raises(ArtifactError, match="not allowed"):
        save(fitted, tmp_path / "x", extra_files={name: b"1"})
    assert not (tmp_path / "x").exists()


def test_unserialisable_metadata_rejected(tmp_path: Path, fitted) -> None:
    with pytest.raises(ArtifactError, match="JSON"):
        save(fitted, tmp_path / "x", {"f": object()})


# ---------------------------------------------------------------------------- corrupted files
@pytest.mark.parametrize("victim", [STATE_FILE, VOCAB_FILE, "index.bin"])
@pytest.mark.parametrize("damage", ["truncate", "empty", "bitflip", "append", "delete"])
def test_file_damage_detected(art: Path, victim: str, damage: str) -> None:
    f = art / victim
    data = f.read_bytes()
    if damage == "truncate":
        f.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        f.write_bytes(b"")
    elif damage == "bitflip":
        b = bytearray(data)
        b[len(b) // 2] ^= 0x01
        f.write_bytes(bytes(b))
    elif damage == "append":
        f.write_bytes(data + b"\x00")
    else:
        f.unlink()
    expected = "missing" if damage == "delete" else "SHA-256 mismatch"
    with pytest.raises(ArtifactError, match=expected):
        load(art)


def test_bitflip_in_state_would_load_silently_without_checksum(art: Path) -> None:
    """The reason for the manifest (MACHINE.md): safetensors itself accepts a flipped data byte."""
    from safetensors.numpy import load_file

    f = art / STATE_FILE
    b = bytearray(f.read_bytes())
    b[-1] ^= 0x40
    f.write_bytes(bytes(b))
    load_file(str(f))  # no error from safetensors
    with pytest.raises(ArtifactError, match="SHA-256 mismatch"):
        load(art)


def test_state_replaced_by_other_artifact(tmp_path: Path, art: Path, fitted) -> None:
    other = save(MostPopular(weighting="rating").fit(fitted.train_), tmp_path / "other")
    swapped = (other / STATE_FILE).read_bytes()
    assert swapped != (art / STATE_FILE).read_bytes()  # a valid state file of another model
    (art / STATE_FILE).write_bytes(swapped)
    with pytest.raises(ArtifactError, match="SHA-256 mismatch"):
        load(art)


# ---------------------------------------------------------------------------- manifest
def test_missing_directory_and_manifest(tmp_path: Path, art: Path) -> None:
    with pytest.raises(ArtifactError, match="not an artifact directory"):
        load(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArtifactError, match="not an artifact directory"):
        load(tmp_path / "file")
    (art / MANIFEST).unlink()
    with pytest.raises(ArtifactError, match="missing manifest"):
        load(art)


@pytest.mark.parametrize("content", [b"", b"{", b"\xff\xfe\x00", b"[1, 2]", b'{"format": "other"}'])
def test_unreadable_manifest(art: Path, content: bytes) -> None:
    (art / MANIFEST).write_bytes(content)
    with pytest.raises(ArtifactError, match="manifest"):
        load(art)


def test_manifest_edit_without_resealing_is_caught(art: Path) -> None:
    m = _manifest(art)
    m["config"]["weighting"] = "rating"
    (art / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="digest mismatch"):
        load(art)


def test_manifest_naming_unknown_model(art: Path) -> None:
    m = _manifest(art)
    m["model"] = "definitely-not-a-model"
    _reseal(art, m)
    with pytest.raises(ArtifactError, match="unknown model 'definitely-not-a-model'.*most-popular"):
        load(art)


@pytest.mark.parametrize("edit", [
    {"config": {"weighting": "bogus"}},
    {"config": {"weighting": "count", "unknown_key": 1}},
    {"config": "not-a-dict"},
    {"format_version": 99},
    {"n_users": 3},
    {"model": 42},
])
def test_manifest_semantic_tampering(art: Path, edit: dict) -> None:
    m = _manifest(art)
    m.update(edit)
    _reseal(art, m)
    with pytest.raises(ArtifactError):
        load(art)


@pytest.mark.parametrize("bad", ["../state.safetensors", "/etc/passwd", "sub/x", MANIFEST])
def test_manifest_file_names_cannot_escape(art: Path, bad: str) -> None:
    m = _manifest(art)
    m["files"][bad] = "0" * 64
    m["digest"] = artifacts._manifest_digest(m)
    (art / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="not allowed"):
        load(art)


def test_manifest_checksum_not_hex(art: Path) -> None:
    m = _manifest(art)
    m["files"][STATE_FILE] = "abc"
    m["digest"] = artifacts._manifest_digest(m)
    (art / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="not a SHA-256"):
        load(art)


def test_symlinked_file_rejected(art: Path, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere"
    real.write_bytes((art / VOCAB_FILE).read_bytes())
    (art / VOCAB_FILE).unlink()
    (art / VOCAB_FILE).symlink_to(real)
    with pytest.raises(ArtifactError, match="not a regular file"):
        load(art)


# ---------------------------------------------------------------------------- resealed payloads
def test_pickle_payload_is_never_executed(art: Path, tmp_path: Path) -> None:
    sentinel = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (open, (str(sentinel), "w"))

    (art / STATE_FILE).write_bytes(pickle.dumps(Payload()))
    _reseal(art)
    with pytest.raises(ArtifactError, match="unreadable state"):
        load(art)
    assert not sentinel.exists()


@pytest.mark.parametrize("vocab", [
    {"users": {"type": "int", "ids": [3, 1, 2]}},                 # unsorted
    {"users": {"type": "int", "ids": ["a"]}},                     # wrong type
    {"users": {"type": "float", "ids": []}},                      # unknown type
    {"items": None},
    [],
])
def test_vocab_tampering(art: Path, vocab) -> None:
    if isinstance(vocab, dict):
        v = json.loads((art / VOCAB_FILE).read_text())
        v.update(vocab)
    else:
        v = vocab
    (art / VOCAB_FILE).write_text(json.dumps(v))
    _reseal(art)
    with pytest.raises(ArtifactError):
        load(art)


@pytest.mark.parametrize("what", ["indices_out_of_range", "indptr_wrong_length", "no_seen", "no_model_state"])
def test_inconsistent_arrays(art: Path, what: str) -> None:
    from safetensors.numpy import load_file, save_file

    state = load_file(str(art / STATE_FILE))
    if what == "indices_out_of_range":
        state["seen.indices"] = state["seen.indices"].copy()
        state["seen.indices"][0] = 10_000
    elif what == "indptr_wrong_length":
        state["seen.indptr"] = state["seen.indptr"][:-1].copy()
    elif what == "no_seen":
        del state["seen.indptr"]
    else:
        del state["model.popularity"]
    save_file(state, str(art / STATE_FILE))
    _reseal(art)
    with pytest.raises(ArtifactError):
        load(art)


def test_read_extra_errors(art: Path) -> None:
    with pytest.raises(ArtifactError, match="no file 'nope'"):
        read_extra(art, "nope")
    m = load(art).artifact_manifest_
    (art / "index.bin").write_bytes(b"evil")
    with pytest.raises(ArtifactError, match="SHA-256 mismatch"):
        read_extra(art, "index.bin", m)  # a manifest read earlier still protects later reads
