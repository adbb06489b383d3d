"""Safe model artifacts: safetensors for arrays + a JSON manifest; never pickle.

Layout of an artifact directory::

    manifest.json       model name, config, library versions, sizes, SHA-256 of every file
    state.safetensors   the model's learned arrays ("model.*") and training-seen CSR ("seen.*")
    vocab.json          raw user and item ids, in code order

Loading verifies every checksum first: a truncated, emptied, bit-flipped or replaced file, an
unknown model name or a manifest from another format raises :class:`ArtifactError`.
Writes are atomic: everything goes to a temporary directory that is renamed into place.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from recforge.errors import ArtifactError, RecforgeError

FORMAT = "recforge-artifact"
FORMAT_VERSION = 1
STATE_FILE = "state.safetensors"
VOCAB_FILE = "vocab.json"
MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("recforge", "numpy", "scipy", "implicit", "torch", "safetensors"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _vocab_to_json(ids: np.ndarray) -> dict[str, Any]:
    if ids.dtype.kind in "iu":
        return {"type": "int", "ids": ids.astype(np.int64).tolist()}
    return {"type": "str", "ids": [str(x) for x in ids.tolist()]}


def _vocab_from_json(obj: dict[str, Any]) -> np.ndarray:
    if obj.get("type") == "int":
        return np.asarray(obj["ids"], dtype=np.int64)
    return np.asarray(obj["ids"], dtype=object)


def save(model: Any, path: str | os.PathLike[str], *, metadata: dict[str, Any] | None = None,
         extra_files: dict[str, bytes] | None = None) -> Path:
    """Save a fitted model as an artifact directory (atomically replaced if it exists).

    Example:
        >>> rf.save(model, "artifacts/best")   # doctest: +SKIP
    """
    from safetensors.numpy import save_file

    model._check_fitted()
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
        for name, blob in (extra_files or {}).items():
            (tmp / name).write_bytes(blob)
        files = {p.name: _sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": model.name,
            "config": model.config.to_dict(),
            "tags": sorted(model.tags),
            "n_users": train.n_users,
            "n_items": train.n_items,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": _versions(),
            "metadata": metadata or {},
            "files": files,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check an artifact's manifest and every file's SHA-256."""
    root = Path(path)
    mpath = root / MANIFEST
    if not root.is_dir():
        raise ArtifactError(f"{root}: not an artifact directory")
    try:
        manifest = json.loads(mpath.read_text())
    except FileNotFoundError as exc:
        raise ArtifactError(f"{mpath}: missing manifest; is {root} a recforge artifact?") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{mpath}: unreadable or corrupted manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{mpath}: not a recforge artifact manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{mpath}: unsupported format_version {manifest.get('format_version')!r}")
    files = manifest.get("files")
    if not isinstance(files, dict) or STATE_FILE not in files or VOCAB_FILE not in files:
        raise ArtifactError(f"{mpath}: manifest lists no state/vocab files")
    for name, digest in files.items():
        f = root / name
        if Path(name).name != name:
            raise ArtifactError(f"{mpath}: file name {name!r} is not allowed")
        if not f.is_file():
            raise ArtifactError(f"{f}: listed in the manifest but missing")
        if _sha256(f) != digest:
            raise ArtifactError(f"{f}: SHA-256 mismatch (file corrupted or tampered with)")
    return manifest


def load(path: str | os.PathLike[str]) -> Any:
    """Load an artifact saved by :func:`save`, verifying every checksum first.

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
    try:
        cls = registry.get(manifest["model"])
    except RecforgeError as exc:
        raise ArtifactError(f"{root}: unknown model {manifest.get('model')!r} in manifest") from exc
    try:
        config = cls.config_class.from_dict(manifest["config"])
    except RecforgeError as exc:
        raise ArtifactError(f"{root}: invalid model config in manifest ({exc})") from exc
    try:
        state = load_file(str(root / STATE_FILE))
        vocab = json.loads((root / VOCAB_FILE).read_text())
    except (SafetensorError, OSError, ValueError) as exc:
        raise ArtifactError(f"{root}: unreadable state ({exc})") from exc
    users = _vocab_from_json(vocab["users"])
    items = _vocab_from_json(vocab["items"])
    if len(users) != manifest["n_users"] or len(items) != manifest["n_items"]:
        raise ArtifactError(f"{root}: vocabulary sizes do not match the manifest")
    indptr, indices = state.pop("seen.indptr"), state.pop("seen.indices")
    seen = sp.csr_matrix((np.ones(indices.size, np.float32), indices, indptr),
                         shape=(len(users), len(items)))
    coo = seen.tocoo()
    model = cls(config)
    model.train_ = Interactions(coo.row, coo.col, user_ids=users, item_ids=items, name="artifact")
    model._seen_ = seen
    model.set_state({k[len("model."):]: v for k, v in state.items() if k.startswith("model.")})
    model.artifact_manifest_ = manifest
    return model
