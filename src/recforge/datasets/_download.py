"""Checksum-verified downloads into the cache directory, and safe archive extraction.

Nothing unverified ever takes a final name in the cache: a download streams into a temporary
file next to its destination (``.part-*``), its size and checksum are checked, and only then
is it renamed into place (``os.replace`` is atomic on one file system). A failed, truncated or
corrupted download deletes the temporary file and raises :class:`~recforge.errors.DataError`.
Archives are extracted into a temporary directory that is renamed into place when complete;
members that would land outside it (absolute paths, ``..``, links) are refused.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from recforge.errors import ConfigError, DataError

CHUNK = 1 << 20


def cache_dir() -> Path:
    """``$RECFORGE_CACHE`` or ``~/.cache/recforge``."""
    env = os.environ.get("RECFORGE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "recforge"


@dataclass(frozen=True)
class Remote:
    """One file of a dataset's official distribution.

    Attributes:
        url: the official download address.
        filename: name in the cache.
        sha256: expected SHA-256 of the file (preferred).
        md5: expected MD5, for files whose SHA-256 no independent source publishes.
        git_blob: expected git blob id (SHA-1 of ``"blob <size>\\0" + bytes``), for files
            only known by the id a git repository gives them.
        size: expected size in bytes, when known.
        checksum_source: where the expected checksum comes from (shown in errors).
        extract: unpack this archive (zip or tar) after verification.
    """

    url: str
    filename: str
    sha256: str | None = None
    md5: str | None = None
    git_blob: str | None = None
    size: int | None = None
    checksum_source: str = ""
    extract: bool = False

    @property
    def verifiable(self) -> bool:
        return bool(self.sha256 or self.md5 or self.git_blob)


class _Hashes:
    def __init__(self, remote: Remote, size: int | None) -> None:
        self.remote = remote
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5(usedforsecurity=False) if remote.md5 else None
        self.blob = None
        if remote.git_blob and size is not None:
            self.blob = hashlib.sha1(usedforsecurity=False)
            self.blob.update(f"blob {size}\0".encode())

    def update(self, block: bytes) -> None:
        self.sha256.update(block)
        if self.md5 is not None:
            self.md5.update(block)
        if self.blob is not None:
            self.blob.update(block)

    def mismatch(self, n_bytes: int) -> str | None:
        """A description of the first checksum that does not match, or None."""
        r = self.remote
        if r.sha256 and self.sha256.hexdigest() != r.sha256.lower():
            return f"sha256 {self.sha256.hexdigest()} != expected {r.sha256}"
        if r.md5 and self.md5 is not None and self.md5.hexdigest() != r.md5.lower():
            return f"md5 {self.md5.hexdigest()} != expected {r.md5}"
        if r.git_blob:
            if self.blob is None:  # size was unknown up front: hash the file again
                return None
            if self.blob.hexdigest() != r.git_blob.lower():
                return f"git blob id {self.blob.hexdigest()} != expected {r.git_blob} ({n_bytes} bytes)"
        return None


def _git_blob_of(path: Path) -> str:
    h = hashlib.sha1(usedforsecurity=False)
    h.update(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def verify_file(path: Path, remote: Remote) -> None:
    """Check a local copy of ``remote`` against its pinned checksum; DataError on mismatch."""
    hashes = _Hashes(remote, path.stat().st_size)
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            hashes.update(block)
    bad = hashes.mismatch(path.stat().st_size)
    if bad:
        raise DataError(
            f"{path}: checksum mismatch for {remote.url} ({bad}); the file is corrupted or a "
            "different version; delete it and download again"
        )


def download(remote: Remote, dest_dir: Path, *, allow_unverified: bool = False,
             timeout: float = 60.0) -> Path:
    """Download ``remote`` into ``dest_dir / remote.filename`` (verified, atomic).

    Returns the final path. An existing file of that name was verified when it was written
    and is reused.

    Raises:
        ConfigError: the entry has no pinned checksum and ``allow_unverified`` is false.
        DataError: network failure, truncated download or checksum mismatch (no file is left).
    """
    dest = dest_dir / remote.filename
    if dest.exists():
        return dest
    if not remote.verifiable and not allow_unverified:
        raise ConfigError(
            f"{remote.url}: recforge has no independently published checksum for this file, so "
            "it will not download it unverified; download it yourself and pass path=DIR "
            "(CLI: --path DIR), or pass allow_unverified=True"
        )
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".part-{remote.filename}-", dir=dest_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            n_bytes = _stream(remote, out, timeout)
        if remote.git_blob and not _blob_checked_inline(remote):
            got = _git_blob_of(tmp)
            if got != remote.git_blob:
                raise DataError(
                    f"{remote.url}: checksum mismatch (git blob id {got} != expected "
                    f"{remote.git_blob}, {n_bytes} bytes); the download is corrupted or the "
                    "file changed upstream; nothing was kept, try again or use path="
                )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _blob_checked_inline(remote: Remote) -> bool:
    return remote.size is not None


def _stream(remote: Remote, out: object, timeout: float) -> int:
    """Copy the URL into ``out`` with a progress bar; verify size and checksums."""
    from recforge import _progress

    try:
        resp = urllib.request.urlopen(remote.url, timeout=timeout)  # noqa: S310 - http(s) URLs of the zoo
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        raise DataError(
            f"{remote.url}: download failed ({exc}); check the network, or download the file "
            "yourself and pass path=DIR (CLI: --path DIR)"
        ) from exc
    with resp:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else remote.size
        hashes = _Hashes(remote, remote.size)
        n = 0
        progress = _download_progress() if _progress.enabled() else None
        task = None
        if progress is not None:
            progress.start()
            task = progress.add_task(remote.filename, total=total)
        try:
            while True:
                try:
                    block = resp.read(CHUNK)
                except (OSError, ValueError, http.client.HTTPException) as exc:  # reset, IncompleteRead
                    raise DataError(
                        f"{remote.url}: download interrupted after {n} bytes ({exc}); "
                        "nothing was kept, try again"
                    ) from exc
                if not block:
                    break
                hashes.update(block)
                out.write(block)  # type: ignore[attr-defined]
                n += len(block)
                if progress is not None:
                    progress.update(task, completed=n)
        finally:
            if progress is not None:
                progress.stop()
    expected = remote.size if remote.size is not None else total
    if expected is not None and n != expected:
        raise DataError(
            f"{remote.url}: truncated download ({n} of {expected} bytes); nothing was kept, try again"
        )
    bad = hashes.mismatch(n)
    if bad:
        src = f" (checksum from {remote.checksum_source})" if remote.checksum_source else ""
        raise DataError(
            f"{remote.url}: checksum mismatch: {bad}{src}; the download is corrupted or the "
            "file changed upstream; nothing was kept in the cache, try again or use path="
        )
    return n


def _download_progress() -> Any:
    """A rich progress bar on stderr showing bytes, speed and time left."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    return Progress(TextColumn("[bold]download {task.description}"), BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                    transient=True)


def _safe_target(root: Path, name: str) -> Path:
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        raise DataError(f"archive member {name!r} would be written outside the target directory; refusing to extract")
    target = (root / Path(*pure.parts)).resolve() if pure.parts else root.resolve()
    if not target.is_relative_to(root.resolve()):
        raise DataError(f"archive member {name!r} would be written outside the target directory; refusing to extract")
    return target


def extract(archive: Path, dest: Path) -> Path:
    """Unpack a zip or tar archive into ``dest`` (atomic; no path traversal, no links).

    Returns ``dest``. An existing ``dest`` is reused (it was completed before being renamed).
    """
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".extract-{dest.name}-", dir=dest.parent))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    target = _safe_target(tmp, info.filename)
                    mode = (info.external_attr >> 16) & 0o170000
                    if mode == 0o120000:
                        raise DataError(f"{archive}: member {info.filename!r} is a symbolic link; refusing to extract")
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst, CHUNK)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                for member in tf.getmembers():
                    _safe_target(tmp, member.name)
                    if not (member.isfile() or member.isdir()):
                        raise DataError(f"{archive}: member {member.name!r} is not a plain file; refusing to extract")
                tf.extractall(tmp, filter="data")
        else:
            raise DataError(f"{archive}: neither a zip nor a tar archive; delete it and download again")
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
