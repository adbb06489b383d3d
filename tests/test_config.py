"""Config base: coercion, bounds, unknown keys, JSON round-trip; --param parsing."""

from __future__ import annotations

import dataclasses

import pytest

from recforge.config import Config, param, parse_params
from recforge.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Demo(Config):
    l2: float = param(1.0, low=0.0)
    k: int = param(10, low=1, high=100)
    mode: str = param("a", choices=("a", "b"))
    flag: bool = param(False)
    opt: int | None = param(None)
    dims: tuple[int, ...] = param((8, 4))


def test_defaults_and_round_trip() -> None:
    c = Demo()
    assert Demo.from_json(c.to_json()) == c
    assert c.to_dict()["dims"] == [8, 4]


def test_string_coercion_as_from_cli() -> None:
    c = Demo.from_dict({"l2": "2.5", "k": "3", "flag": "true", "opt": "none", "dims": "16,8"})
    assert (c.l2, c.k, c.flag, c.opt, c.dims) == (2.5, 3, True, None, (16, 8))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"l2": -1.0}, "l2 must be >= 0.0"),
        ({"k": 0}, "k must be >= 1"),
        ({"k": 101}, "k must be <= 100"),
        ({"mode": "c"}, "mode must be one of"),
        ({"k": 2.5}, "k must be of type int"),
        ({"l2": "abc"}, "l2 must be of type float"),
        ({"l2": float("nan")}, "l2 must be of type float"),
        ({"flag": "maybe"}, "flag must be of type bool"),
    ],
)
def test_invalid_values_name_field_and_value(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        Demo(**kwargs)


def test_unknown_key_lists_valid_fields() -> None:
    with pytest.raises(ConfigError, match=r"unknown Demo field\(s\) \['lr'\]; valid fields are"):
        Demo.from_dict({"lr": 0.1})


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Demo().l2 = 3.0  # type: ignore[misc]


def test_parse_params() -> None:
    assert parse_params(["a=1", "b = x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_params(["novalue"])
