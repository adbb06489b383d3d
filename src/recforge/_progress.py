"""Progress bars on stderr (rich), quiet when stderr is not a terminal or when asked."""

from __future__ import annotations

import os
import sys
from typing import Any

_QUIET = False


def set_quiet(quiet: bool) -> None:
    """Silence every progress bar (``--json``, tests)."""
    global _QUIET
    _QUIET = quiet


def enabled() -> bool:
    if _QUIET or os.environ.get("RECFORGE_QUIET"):
        return False
    return sys.stderr.isatty()


def make_progress(description: str = "") -> Any:
    """A rich Progress on stderr, or None when progress is disabled."""
    if not enabled():
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(f"[bold]{description}" if description else "{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def log(message: str) -> None:
    """One status line on stderr (unless quiet)."""
    if _QUIET or os.environ.get("RECFORGE_QUIET"):
        return
    print(message, file=sys.stderr, flush=True)
