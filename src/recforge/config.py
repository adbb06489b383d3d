"""Typed, frozen, validated configuration objects.

Every model (and the search engine) keeps its settings in a frozen dataclass derived from
:class:`Config`.  ``Config`` adds what plain dataclasses lack: type coercion from JSON/CLI
strings, range validation through field metadata, and rejection of unknown keys (RecBole's
silent-``None`` pitfall).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, ClassVar, Self

from recforge.errors import ConfigError


def param(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[Any, ...] | None = None,
    doc: str = "",
) -> Any:
    """Declare a config field with optional bounds (inclusive) or allowed choices."""
    meta = {"low": low, "high": high, "choices": choices, "doc": doc}
    return dataclasses.field(default=default, metadata=meta)


def _base_type(tp: Any) -> tuple[Any, bool]:
    """Return (inner type, optional?) for ``X | None`` annotations."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        return (args[0] if len(args) == 1 else tp), optional
    return tp, False


def _coerce(name: str, value: Any, tp: Any, owner: str) -> Any:
    inner, optional = _base_type(tp)
    if value is None or (optional and isinstance(value, str) and value.lower() == "none"):
        if optional:
            return None
        raise ConfigError(f"{owner}.{name} may not be None; give a value of type {inner}")
    try:
        if inner is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("true", "1", "yes"):
                    return True
                if low in ("false", "0", "no"):
                    return False
                raise ValueError(value)
            if isinstance(value, (bool, int)) and value in (0, 1):
                return bool(value)
            raise ValueError(value)
        if inner is int:
            if isinstance(value, bool):
                raise ValueError(value)
            if isinstance(value, float):
                if not value.is_integer():
                    raise ValueError(value)
                return int(value)
            return int(value)
        if inner is float:
            if isinstance(value, bool):
                raise ValueError(value)
            out = float(value)
            if out != out or out in (float("inf"), float("-inf")):
                raise ValueError(value)
            return out
        if inner is str:
            if not isinstance(value, str):
                raise ValueError(value)
            return value
        if typing.get_origin(inner) is tuple:
            if isinstance(value, str):
                value = [v for v in value.replace("(", "").replace(")", "").split(",") if v]
            (elem, *_rest) = typing.get_args(inner) or (Any,)
            return tuple(_coerce(name, v, elem, owner) for v in value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{owner}.{name} must be of type {getattr(inner, '__name__', inner)}, got {value!r}"
        ) from exc
    return value


@dataclasses.dataclass(frozen=True)
class Config:
    """Base class of frozen configuration dataclasses.

    Subclasses declare fields with :func:`param` to get bounds checking::

        @dataclasses.dataclass(frozen=True)
        class EASEConfig(Config):
            l2: float = param(500.0, low=0.0, doc="L2 regularisation")
    """

    _owner: ClassVar[str] = "config"

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        owner = type(self).__name__
        for f in dataclasses.fields(self):
            value = _coerce(f.name, getattr(self, f.name), hints[f.name], owner)
            object.__setattr__(self, f.name, value)
            meta = f.metadata
            if value is None:
                continue
            low, high, choices = meta.get("low"), meta.get("high"), meta.get("choices")
            if choices is not None and value not in choices:
                raise ConfigError(
                    f"{owner}.{f.name} must be one of {list(choices)}, got {value!r}"
                )
            if low is not None and value < low:
                raise ConfigError(f"{owner}.{f.name} must be >= {low}, got {value!r}")
            if high is not None and value > high:
                raise ConfigError(f"{owner}.{f.name} must be <= {high}, got {value!r}")
        self.validate()

    def validate(self) -> None:
        """Hook for cross-field rules; raise :class:`ConfigError`."""

    # -- (de)serialisation -------------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build from a mapping; unknown keys are an error that lists the valid ones."""
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__} expects a mapping, got {type(data).__name__}")
        valid = cls.field_names()
        unknown = sorted(set(data) - set(valid))
        if unknown:
            raise ConfigError(
                f"unknown {cls.__name__} field(s) {unknown}; valid fields are {valid}"
            )
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{cls.__name__}: invalid JSON ({exc})") from exc
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> Self:
        return self.from_dict({**self.to_dict(), **changes})


def parse_params(items: list[str] | None) -> dict[str, str]:
    """Parse CLI ``K=V`` strings into a dict (values stay strings; the config coerces)."""
    out: dict[str, str] = {}
    for raw in items or []:
        if "=" not in raw:
            raise ConfigError(f"--param expects KEY=VALUE, got {raw!r} (e.g. --param l2=500)")
        key, value = raw.split("=", 1)
        key = key.strip()
        if not key:
            raise ConfigError(f"--param expects KEY=VALUE, got {raw!r}")
        out[key] = value.strip()
    return out


def build_config(owner: type, config_class: type[Config], config: Config | None,
                 params: dict[str, Any]) -> Config:
    """The config of a model: ``config`` as given, or one built from keyword ``params``.

    Shared by every model base class (top-K and CTR): exactly one of the two may be given,
    and a given config must be of the model's config class.
    """
    if config is not None and params:
        raise ConfigError(f"{owner.__name__}: pass either a config or parameters, not both")
    if config is not None and not isinstance(config, config_class):
        raise ConfigError(
            f"{owner.__name__} expects a {config_class.__name__}, got {type(config).__name__}"
        )
    return config if config is not None else config_class.from_dict(params)
