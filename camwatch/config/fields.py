"""A setting's bounds, choices and description; raw values coerced and checked, naming the key."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any, TypeVar, get_type_hints

T = TypeVar("T")

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(I)?)?B?\s*$", re.IGNORECASE)


class ConfigError(ValueError):
    """A setting is missing, unknown or out of range; the message names the key."""


def setting(
    default: Any,
    description: str,
    *,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] | None = None,
    pattern: re.Pattern[str] | None = None,
    validate: Callable[[Any, str], Any] | None = None,
    parse: Callable[[Any], Any] | None = None,
    allowed: str | None = None,
    secret: bool = False,
) -> Any:
    """A dataclass field carrying its bounds and description for validation and docs.

    `validate(value, key)` checks and normalises a structured value (raising ConfigError);
    `parse(value)` turns a scalar into the field's type (raising TypeError or ValueError), and
    `allowed` then describes what it accepts.
    A `secret` never appears in a repr or an error message.
    """
    meta = {
        "description": description,
        "low": low,
        "high": high,
        "choices": choices,
        "pattern": pattern,
        "validate": validate,
        "parse": parse,
        "allowed": allowed,
        "secret": secret,
    }
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta, repr=not secret)
    return field(default=default, metadata=meta, repr=not secret)


def parse_size(text: str | int) -> int:
    """'20GB' -> 20_000_000_000; '512MiB' -> 536_870_912; 0 means no limit."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"not a size: {text!r}")
    number, prefix, binary = float(match.group(1)), (match.group(2) or "").upper(), match.group(3)
    power = "KMGT".index(prefix) + 1 if prefix else 0
    factor = (1024 if binary else 1000) ** power
    return int(number * factor)


def size_setting(default: int, description: str) -> Any:
    """A byte count written as a number or a size such as "20GB"."""
    return setting(
        default,
        description,
        low=0,
        parse=parse_size,
        allowed='a size such as "20GB", "500MiB" or 0',
    )


def _describe_allowed(f: dataclasses.Field[Any], kind: type) -> str:
    meta = f.metadata
    if meta.get("choices"):
        return "one of " + ", ".join(meta["choices"])
    if meta.get("pattern") is not None:
        return f"a string matching {meta['pattern'].pattern}"
    if kind is bool:
        return "true or false"
    low, high = meta.get("low"), meta.get("high")
    noun = {int: "an integer", float: "a number", str: "a string"}.get(kind, kind.__name__)
    if low is not None and high is not None:
        return f"{noun} from {low:g} to {high:g}"
    if low is not None:
        return f"{noun} >= {low:g}"
    return noun


def _coerce(value: Any, kind: type, key: str, f: dataclasses.Field[Any]) -> Any:
    validate = f.metadata.get("validate")
    if validate is None:
        return _coerce_value(value, kind, key, f)
    try:
        return validate(value, key)
    except ConfigError:
        if f.metadata.get("secret"):  # a validator's message may quote the value
            raise ConfigError(f"{key}: not a valid value (not shown: it is secret)") from None
        raise


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError
    return value


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError
    return value


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError
    if not math.isfinite(value):
        raise ValueError
    return float(value)


def _as_str(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise TypeError
    return value


_PARSERS: dict[type, Callable[[Any], Any]] = {
    bool: _as_bool,
    int: _as_int,
    float: _as_float,
    str: _as_str,
}


def _coerce_value(value: Any, kind: type, key: str, f: dataclasses.Field[Any]) -> Any:
    meta = f.metadata
    allowed = meta.get("allowed") or _describe_allowed(f, kind)
    got = "" if meta.get("secret") else f", got {value!r}"  # never echo a secret
    parse = meta.get("parse") or _PARSERS.get(kind, lambda v: v)
    try:
        parsed = parse(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"{key}: expected {allowed}{got}") from None
    low, high = meta.get("low"), meta.get("high")
    out_of_range = (low is not None and parsed < low) or (high is not None and parsed > high)
    not_a_choice = bool(meta.get("choices")) and parsed not in meta["choices"]
    no_match = meta.get("pattern") is not None and not meta["pattern"].match(parsed)
    if out_of_range or not_a_choice or no_match:  # the value as written: 300, not 300.0
        raise ConfigError(f"{key}: expected {allowed}{got}")
    return parsed


def key_text(name: str) -> str:
    """A key as TOML writes it: bare if it can be, else quoted (so "" or "a b" stay visible)."""
    return name if _BARE_KEY.match(name) else json.dumps(name)


def build(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    """Make a settings dataclass from a mapping, naming the key of any bad value."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a table")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{prefix}{key_text(unknown[0])}: unknown key; allowed keys: {', '.join(fields)}"
        )
    values: dict[str, Any] = {}
    for name, value in data.items():
        key, kind = prefix + name, hints[name]
        if dataclasses.is_dataclass(kind):
            values[name] = build(kind, value, key + ".")  # type: ignore[arg-type]
        else:
            values[name] = _coerce(value, kind, key, fields[name])
    return cls(**values)


def set_value(obj: Any, name: str, value: Any, key: str) -> None:
    """Validate and set one field of a settings dataclass (used by CLI overrides and PATCH)."""
    fields = {f.name: f for f in dataclasses.fields(obj)}
    if name not in fields:
        raise ConfigError(f"{key}: unknown key; allowed keys: {', '.join(fields)}")
    kind = get_type_hints(type(obj))[name]
    setattr(obj, name, _coerce(value, kind, key, fields[name]))


def describe(cls: type) -> dict[str, dict[str, Any]]:
    """Bounds and descriptions of a settings dataclass, for the UI and the docs."""
    hints = get_type_hints(cls)
    out: dict[str, dict[str, Any]] = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            continue
        out[f.name] = {
            "type": getattr(kind, "__name__", str(kind)),
            "description": f.metadata.get("description", ""),
            "min": f.metadata.get("low"),
            "max": f.metadata.get("high"),
        }
    return out
