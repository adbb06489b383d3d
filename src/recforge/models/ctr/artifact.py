"""Save and load fitted CTR models: safetensors (weights + vocabularies) + a JSON manifest.

Layout::

    manifest.json       format "recforge-ctr-artifact", model name, config, field spec,
                        library versions, SHA-256 of every file
    state.safetensors   CTRModel.get_state(): "net.*" weights and "vocab.*" vocabularies

No pickle anywhere; loading verifies every checksum before reading a byte of state, and the
write is atomic (temporary directory renamed into place).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from recforge.data.store import sha256_file as _sha256
from recforge.errors import ArtifactError

FORMAT = "recforge-ctr-artifact"
FORMAT_VERSION = 1
STATE_FILE = "state.safetensors"
MANIFEST = "manifest.json"



def is_ctr_artifact(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` holds a manifest of this format (checksums are not verified here)."""
    try:
        return json.loads((Path(path) / MANIFEST).read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def save_ctr(model: Any, path: str | os.PathLike[str], *, metadata: dict[str, Any] | None = None) -> Path:
    """Save a fitted :class:`~recforge.models.ctr.base.CTRModel` (atomically)."""
    from safetensors.numpy import save_file

    from recforge import artifacts

    model._check_fitted()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        state = {k: np.ascontiguousarray(v) for k, v in model.get_state().items()}
        save_file(state, str(tmp / STATE_FILE))
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "model": model.name,
            "config": model.config.to_dict(),
            "tags": sorted(model.tags),
            "fields": [f.to_dict() for f in model.vocab_.fields],
            "n_features": model.vocab_.n_features,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": artifacts._versions(),
            "metadata": metadata or {},
            "files": {STATE_FILE: _sha256(tmp / STATE_FILE)},
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


def load_ctr(path: str | os.PathLike[str]) -> Any:
    """Load a CTR model saved by :func:`save_ctr`, verifying checksums first."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from recforge import registry
    from recforge.errors import RecforgeError

    root = Path(path)
    mpath = root / MANIFEST
    try:
        manifest = json.loads(mpath.read_text())
    except FileNotFoundError as exc:
        raise ArtifactError(f"{mpath}: missing manifest; is {root} a recforge CTR artifact?") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{mpath}: unreadable or corrupted manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArtifactError(f"{mpath}: not a recforge CTR artifact manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{mpath}: unsupported format_version {manifest.get('format_version')!r}")
    files = manifest.get("files")
    if not isinstance(files, dict) or STATE_FILE not in files:
        raise ArtifactError(f"{mpath}: manifest lists no state file")
    for name, digest in files.items():
        f = root / name
        if Path(name).name != name:
            raise ArtifactError(f"{mpath}: file name {name!r} is not allowed")
        if not f.is_file():
            raise ArtifactError(f"{f}: listed in the manifest but missing")
        if _sha256(f) != digest:
            raise ArtifactError(f"{f}: SHA-256 mismatch; the file was modified or corrupted")
    try:
        cls = registry.get(str(manifest.get("model")))
        model = cls(**manifest.get("config", {}))
    except RecforgeError as exc:
        raise ArtifactError(f"{mpath}: cannot rebuild model {manifest.get('model')!r} ({exc})") from exc
    try:
        state = load_file(str(root / STATE_FILE))
    except (SafetensorError, OSError) as exc:  # pragma: no cover - checksum catches first
        raise ArtifactError(f"{root / STATE_FILE}: unreadable ({exc})") from exc
    model.set_state(state)
    return model
