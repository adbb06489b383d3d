"""Peak-memory helpers (Linux): reset and read the process's peak RSS (VmHWM)."""

from __future__ import annotations

import os


def _status(field: str) -> int:
    with open(f"/proc/{os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def rss() -> int:
    """Current resident set size in bytes."""
    return _status("VmRSS")


def reset_peak() -> bool:
    """Reset the peak RSS counter (``echo 5 > /proc/PID/clear_refs``); False if not allowed."""
    try:
        with open(f"/proc/{os.getpid()}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak() -> int:
    """Peak resident set size (bytes) since start or the last :func:`reset_peak`."""
    return _status("VmHWM")
