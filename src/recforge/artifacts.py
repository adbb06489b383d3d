"""Safe model artifacts: safetensors for arrays + a JSON manifest; never pickle.

Layout of an artifact directory::

    manifest.json       model name, config, library versions, sizes, SHA-256 of every file,
                        and the SHA-256 of the manifest's own canonical JSON ("digest")
    state.safetensors   the model's learned arrays ("model.*") and training-seen CSR ("seen.*")
    vocab.json          raw user and item ids, in code order
    <extra files>       optional blobs added by ``save(..., extra_files=...)`` or
                        :func:`add_files` (e.g. a FAISS index for serving)

Loading verifies the manifest's digest and every file's checksum before anything is parsed:
a truncated, emptied, bit-flipped, replaced or missing file, an edited manifest, an unknown
model name, an invalid config or inconsistent arrays raise :class:`ArtifactError`.
Nothing is ever unpickled: arrays are read with ``safetensors.numpy``, the rest is JSON.
Writes are atomic: everything goes to a temporary directory that is renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from recforge.data.store import sha256_file as _sha256
from recforge.errors import ArtifactError, RecforgeError

FORMAT = "recforge-artifact"
FORMAT_VERSION = 1
STATE_FILE = "state.safetensors"
VOCAB_FILE = "vocab.json"
MANIFEST = "manifest.json"
_RESERVED = {STATE_FILE, VOCAB_FILE, MANIFEST}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")

__all__ = ["ArtifactError", "add_files", "load", "read_extra", "read_manifest", "save"]



def _manifest_digest(manifest: dict[str, Any]) -> str:
    """SHA-256 of the manifest's canonical JSON without its own ``digest`` field.

    The checksums of the other files live in the manifest, so an edit of the manifest itself
    (say, a changed model name or config) is caught by this digest.
    """
    body = {k: v for k, v in manifest.items() if k != "digest"}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canon.encode()).hexdigest()


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("recforge", "numpy", "scipy", "implicit", "torch", "safetensors", "faiss-cpu"):
        with contextlib.suppress(md.PackageNotFoundError):
            out[pkg] = md.version(pkg)
    return out


def _vocab_to_json(ids: np.ndarray) -> dict[str, Any]:
    if ids.dtype.kind in "iu":
        return {"type": "int", "ids": ids.astype(np.int64).tolist()}
    return {"type": "str", "ids": [str(x) for x in ids.tolist()]}


def _vocab_from_json(obj: Any, what: str, root: Path) -> np.ndarray:
    if not isinstance(obj, dict) or obj.get("type") not in ("int", "str") or not isinstance(obj.get("ids"), list):
        raise ArtifactError(f"{root / VOCAB_FILE}: {what} vocabulary is malformed")
    ids = obj["ids"]
    if obj["type"] == "int":
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in ids):
            raise ArtifactError(f"{root / VOCAB_FILE}: {what} ids must all be integers")
        arr = np.asarray(ids, dtype=np.int64)
        ordered = bool(np.all(arr[1:] > arr[:-1]))
    else:
        if not all(isinstance(x, str) for x in ids):
            raise ArtifactError(f"{root / VOCAB_FILE}: {what} ids must all be strings")
        arr = np.asarray(ids, dtype=object)
        ordered = all(a < b for a, b in zip(ids, ids[1:], strict=False))
    if not ordered:
        raise ArtifactError(f"{root / VOCAB_FILE}: {what} ids must be unique and sorted")
    return arr


def _check_extra_names(extra_files: dict[str, bytes]) -> None:
    for name, blob in extra_files.items():
        if not isinstance(name, str) or not _NAME_RE.match(name) or name in _RESERVED:
            raise ArtifactError(
                f"extra file name {name!r} is not allowed: use letters, digits, '.', '_' or '-' "
                f"(not starting with '.'), and none of {sorted(_RESERVED)}"
            )
        if not isinstance(blob, (bytes, bytearray, memoryview)):
            raise ArtifactError(f"extra file {name!r} must be bytes, got {type(blob).__name__}")


def _finish(tmp: Path, manifest: dict[str, Any], target: Path) -> None:
    """Checksum every file in ``tmp``, write the manifest, swap ``tmp`` into ``target``."""
    manifest["files"] = {p.name: _sha256(p) for p in sorted(tmp.iterdir()) if p.is_file() and p.name != MANIFEST}
    manifest["digest"] = _manifest_digest(manifest)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)


def save(model: Any, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None, *,
         extra_files: dict[str, bytes] | None = None) -> Path:
    """Save a fitted model as an artifact directory (atomically replaced if it exists).

    Args:
        model: a fitted recommender implementing ``get_state``.
        path: the artifact directory to write.
        metadata: JSON-serialisable information stored in the manifest under ``"metadata"``.
        extra_files: more files (name -> bytes) stored and checksummed alongside the state,
            e.g. a FAISS index; read them back with :func:`read_extra`.

    Returns:
        The artifact directory.

    Example:
        >>> rf.save(model, "artifacts/best", metadata={"data": "ml-latest-small"})  # doctest: +SKIP
    """
    from safetensors.numpy import save_file

    model._check_fitted()
    extra = dict(extra_files or {})
    _check_extra_names(extra)
    try:
        json.dumps(metadata or {})
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"metadata must be JSON-serialisable ({exc})") from exc
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        state = {f"model.{k}": np.ascontiguousarray(v) for k, v in model.get_state().items()}
        seen = model._seen_
        state["seen.indptr"] = np.ascontiguousarray(seen.indptr.astype(np.int64))
        state["seen.indices"] = np.ascontiguousarray(seen.indices.astype(np.int32))
        for k, v in state.items():
            if v.dtype == object:
                raise ArtifactError(f"state array {k!r} has dtype object; only numeric arrays can be saved")
        save_file(state, str(tmp / STATE_FILE))
        train = model.train_
        (tmp / VOCAB_FILE).write_text(json.dumps({
            "users": _vocab_to_json(train.user_ids),
            "items": _vocab_to_json(train.item_ids),
        }))
        for name, blob in extra.items():
            (tmp / name).write_bytes(bytes(blob))
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": model.name,
            "config": model.config.to_dict(),
            "tags": sorted(model.tags),
            "n_users": int(train.n_users),
            "n_items": int(train.n_items),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": _versions(),
            "metadata": metadata or {},
        }
        _finish(tmp, manifest, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an artifact's manifest and verify its digest and every listed file's SHA-256.

    Raises:
        ArtifactError: the directory, manifest or a file is missing, unreadable, edited,
            truncated or otherwise corrupted.
    """
    root = Path(path)
    mpath = root / MANIFEST
    if not root.is_dir():
        raise ArtifactError(f"{root}: not an artifact directory (it does not exist or is a file)")
    try:
        manifest = json.loads(mpath.read_bytes().decode("utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"{mpath}: missing manifest; is {root} a recforge artifact?") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{mpath}: unreadable or corrupted manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{mpath}: not a recforge artifact manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{mpath}: unsupported format_version {manifest.get('format_version')!r} "
            f"(this recforge reads version {FORMAT_VERSION})"
        )
    if manifest.get("digest") != _manifest_digest(manifest):
        raise ArtifactError(f"{mpath}: manifest digest mismatch (the manifest was edited or corrupted)")
    files = manifest.get("files")
    if not isinstance(files, dict) or STATE_FILE not in files or VOCAB_FILE not in files:
        raise ArtifactError(f"{mpath}: manifest lists no state/vocab files")
    for key in ("model", "config", "n_users", "n_items"):
        if key not in manifest:
            raise ArtifactError(f"{mpath}: manifest has no {key!r} field")
    for name, digest in files.items():
        if not isinstance(name, str) or not _NAME_RE.match(name) or name == MANIFEST:
            raise ArtifactError(f"{mpath}: file name {name!r} is not allowed")
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise ArtifactError(f"{mpath}: checksum of {name!r} is not a SHA-256 hex digest")
        f = root / name
        if f.is_symlink() or not f.is_file():
            raise ArtifactError(f"{f}: listed in the manifest but missing (or not a regular file)")
        if _sha256(f) != digest:
            raise ArtifactError(f"{f}: SHA-256 mismatch (file truncated, corrupted or tampered with)")
    return manifest


def read_extra(path: str | os.PathLike[str], name: str, manifest: dict[str, Any] | None = None) -> bytes:
    """Bytes of an extra file of an artifact, checked against the manifest's SHA-256.

    Raises:
        ArtifactError: the file is not listed, missing or does not match its checksum.
    """
    root = Path(path)
    manifest = manifest if manifest is not None else read_manifest(root)
    digest = manifest["files"].get(name)
    if digest is None:
        raise ArtifactError(f"{root}: the artifact has no file {name!r}")
    try:
        blob = (root / name).read_bytes()
    except OSError as exc:
        raise ArtifactError(f"{root / name}: unreadable ({exc})") from exc
    if hashlib.sha256(blob).hexdigest() != digest:
        raise ArtifactError(f"{root / name}: SHA-256 mismatch (file truncated, corrupted or tampered with)")
    return blob


def add_files(path: str | os.PathLike[str], files: dict[str, bytes], metadata: dict[str, Any] | None = None) -> Path:
    """Add (or replace) extra files and merge ``metadata`` into an existing artifact, atomically.

    The artifact is verified first; the new version is written to a temporary directory
    with a fresh manifest and renamed into place.
    """
    root = Path(path)
    manifest = read_manifest(root)
    _check_extra_names(files)
    try:
        json.dumps(metadata or {})
    except (TypeError, ValueError) as exc:
        raise ArtifactError(f"metadata must be JSON-serialisable ({exc})") from exc
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        for name in manifest["files"]:
            if name not in files:
                shutil.copy2(root / name, tmp / name)
        for name, blob in files.items():
            (tmp / name).write_bytes(bytes(blob))
        new = {k: v for k, v in manifest.items() if k not in ("files", "digest")}
        new["metadata"] = {**(manifest.get("metadata") or {}), **(metadata or {})}
        _finish(tmp, new, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return root


def load(path: str | os.PathLike[str]) -> Any:
    """Load an artifact saved by :func:`save`, verifying every checksum first.

    The returned model has ``artifact_manifest_`` (the verified manifest) and
    ``artifact_path_`` set.

    Raises:
        ArtifactError: see :func:`read_manifest`; also for an unknown model name, an invalid
            config, inconsistent vocabularies or arrays the model cannot accept.

    Example:
        >>> model = rf.load("artifacts/best")   # doctest: +SKIP
    """
    import scipy.sparse as sp
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from recforge import registry
    from recforge.data.interactions import Interactions

    root = Path(path)
    manifest = read_manifest(root)
    name = manifest["model"]
    if not isinstance(name, str):
        raise ArtifactError(f"{root}: model name in manifest must be a string, got {name!r}")
    try:
        cls = registry.get(name)
    except RecforgeError as exc:
        raise ArtifactError(
            f"{root}: unknown model {name!r} in manifest; registered models: {', '.join(registry.names())}"
        ) from exc
    if not isinstance(manifest["config"], dict):
        raise ArtifactError(f"{root}: model config in manifest must be an object")
    try:
        config = cls.config_class.from_dict(manifest["config"])
    except RecforgeError as exc:
        raise ArtifactError(f"{root}: invalid model config in manifest ({exc})") from exc
    try:
        state = load_file(str(root / STATE_FILE))
        vocab = json.loads((root / VOCAB_FILE).read_bytes().decode("utf-8"))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"{root}: unreadable state ({exc})") from exc
    if not isinstance(vocab, dict):
        raise ArtifactError(f"{root / VOCAB_FILE}: must hold an object with 'users' and 'items'")
    users = _vocab_from_json(vocab.get("users"), "user", root)
    items = _vocab_from_json(vocab.get("items"), "item", root)
    if len(users) != manifest["n_users"] or len(items) != manifest["n_items"]:
        raise ArtifactError(f"{root}: vocabulary sizes do not match the manifest")
    if "seen.indptr" not in state or "seen.indices" not in state:
        raise ArtifactError(f"{root / STATE_FILE}: no seen.indptr / seen.indices arrays")
    indptr, indices = state.pop("seen.indptr"), state.pop("seen.indices")
    if (indptr.ndim != 1 or indptr.size != len(users) + 1 or indptr[0] != 0
            or np.any(np.diff(indptr) < 0) or indptr[-1] != indices.size
            or (indices.size and (indices.min() < 0 or indices.max() >= len(items)))):
        raise ArtifactError(f"{root / STATE_FILE}: the seen-items matrix is inconsistent with the vocabularies")
    seen = sp.csr_matrix((np.ones(indices.size, np.float32), indices, indptr),
                         shape=(len(users), len(items)))
    coo = seen.tocoo()
    model = cls(config)
    model.train_ = Interactions(coo.row, coo.col, user_ids=users, item_ids=items, name="artifact")
    model._seen_ = seen
    try:
        model.set_state({k[len("model."):]: v for k, v in state.items() if k.startswith("model.")})
    except (KeyError, ValueError, TypeError, IndexError, RecforgeError) as exc:
        raise ArtifactError(f"{root}: {name} cannot accept the stored state ({type(exc).__name__}: {exc})") from exc
    model.artifact_manifest_ = manifest
    model.artifact_path_ = root
    return model
