"""Helpers that turn YAML mappings into frozen config objects, naming whatever is wrong.

Config classes validate their own values in ``__post_init__`` with :func:`require`; this
module rejects unknown keys (a typo must not be silently ignored) and prefixes every
message with where the mapping came from (file and section).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from edge.errors import ConfigError

T = TypeVar("T")


def require(ok: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``ok``."""
    if not ok:
        raise ConfigError(message)


def number(name: str, value: Any, *, minimum: float | None = None, exclusive: bool = False,
           allow_none: bool = False) -> None:
    """Check that ``value`` is a finite real number (not a bool), optionally bounded below."""
    if value is None and allow_none:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    require(ok, f"{name}={value!r} is not a number")
    if minimum is not None:
        if exclusive:
            require(value > minimum, f"{name}={value!r} must be > {minimum}")
        else:
            require(value >= minimum, f"{name}={value!r} must be >= {minimum}")


def integer(name: str, value: Any, *, minimum: int | None = None, allow_none: bool = False) -> None:
    """Check that ``value`` is an int (not a bool), optionally >= ``minimum``."""
    if value is None and allow_none:
        return
    require(isinstance(value, int) and not isinstance(value, bool), f"{name}={value!r} is not an integer")
    if minimum is not None:
        require(value >= minimum, f"{name}={value!r} must be >= {minimum}")


def build(cls: type[T], data: Any, where: str, **extra: Any) -> T:
    """Construct dataclass ``cls`` from mapping ``data``; unknown keys and bad values raise
    :class:`ConfigError` naming ``where`` and the key."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known keys: {', '.join(sorted(known))})")
    try:
        return cls(**{**data, **extra})
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except TypeError as exc:  # e.g. a list where a scalar belongs
        raise ConfigError(f"{where}: {exc}") from None


def read_yaml(path: str | Path, what: str) -> Any:
    """Parsed YAML of ``path``; unreadable or malformed files raise :class:`ConfigError`
    naming the file (``what`` says what it was meant to be)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
