"""Exceptions raised by recforge.

One root, :class:`RecforgeError`; every message names the thing that is wrong, the rule it
breaks, the offending value and the fix.
"""

from __future__ import annotations


class RecforgeError(Exception):
    """Root of every error recforge raises on purpose."""


class DataError(RecforgeError, ValueError):
    """Input data breaks a rule (missing column, bad value, empty after filtering, ...)."""


class ConfigError(RecforgeError, ValueError):
    """A configuration, option or parameter is invalid."""


class NotFittedError(RecforgeError, RuntimeError):
    """A model was used before ``fit`` was called."""


class ArtifactError(RecforgeError):
    """A saved artifact is missing, corrupted, tampered with or of an unknown kind."""


class MissingExtraError(RecforgeError, ImportError):
    """An optional dependency is not installed."""


def require(module: str, extra: str) -> object:
    """Import an optional dependency or raise a :class:`MissingExtraError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(
            f"{module!r} is not installed; install it with: pip install 'recforge[{extra}]'"
        ) from exc
