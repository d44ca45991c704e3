"""Helpers that turn YAML mappings into frozen config objects, naming whatever is wrong.

Config classes validate their own values in ``__post_init__`` with :func:`require`; this
module rejects unknown keys (a typo must not be silently ignored) and prefixes every
message with where the mapping came from (file and section).
"""

from __future__ import annotations

import dataclasses
import math
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

import yaml

from edge.errors import ConfigError

T = TypeVar("T")


def require(ok: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``ok``."""
    if not ok:
        raise ConfigError(message)


IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def identifier(name: str, value: Any) -> None:
    """``value`` names files and frames (deployment names, key ids): letters, digits, ``.``,
    ``_`` and ``-``, at most 64, not starting with ``.`` (so never ``../`` or a path)."""
    require(
        isinstance(value, str) and IDENTIFIER.fullmatch(value) is not None,
        f"{name}={value!r} must be 1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-'",
    )


def number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    exclusive: bool = False,
    allow_none: bool = False,
    maximum: float | None = None,
    why: str = "",
) -> None:
    """Check that ``value`` is a finite real number (not a bool), optionally bounded below
    and above (``why`` says what the upper bound protects)."""
    if value is None and allow_none:
        return
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    require(ok, f"{name}={value!r} is not a number")
    if minimum is not None:
        if exclusive:
            require(value > minimum, f"{name}={value!r} must be > {minimum}")
        else:
            require(value >= minimum, f"{name}={value!r} must be >= {minimum}")
    _at_most(name, value, maximum, why)


def _at_most(name: str, value: Any, maximum: float | None, why: str) -> None:
    if maximum is not None:
        require(value <= maximum, f"{name}={value!r} must be <= {maximum:g}" + (f" ({why})" if why else ""))


def integer(
    name: str,
    value: Any,
    *,
    minimum: int | None = None,
    allow_none: bool = False,
    maximum: int | None = None,
    why: str = "",
) -> None:
    """Check that ``value`` is an int (not a bool), optionally within ``[minimum, maximum]``."""
    if value is None and allow_none:
        return
    require(isinstance(value, int) and not isinstance(value, bool), f"{name}={value!r} is not an integer")
    if minimum is not None:
        require(value >= minimum, f"{name}={value!r} must be >= {minimum}")
    _at_most(name, value, maximum, why)


SOURCE = {"yaml": False, "hash": False}  # field metadata of a config's source path: set by the loader, never hashed


def build(cls: type[T], data: Any, where: str, **extra: Any) -> T:
    """Construct dataclass ``cls`` from mapping ``data``; unknown keys and bad values raise
    :class:`ConfigError` naming ``where`` and the key.  Fields whose metadata says
    ``yaml: False`` (a source path) are set only through ``extra``."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cast(Any, cls)) if f.init and f.metadata.get("yaml", True)}
    for key in data:
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r} (known keys: {', '.join(sorted(known))})")
    try:
        return cls(**{**data, **extra})
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except TypeError as exc:  # e.g. a list where a scalar belongs
        raise ConfigError(f"{where}: {exc}") from None


_MAX_DEPTH = 100  # nested collections: a config holds a handful; thousands are an attack


class _ConfigLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML as pamedge's configs need it, through libyaml where PyYAML has it (several times
    faster than pure Python): no duplicate keys (the last one silently won); aliases and deep
    nesting are refused before it composes anything (:func:`_screen`)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue  # an unhashable key is the constructor's to refuse
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {str(key)[:60]!r}", key_node.start_mark
                )
            seen.add(key)
        return yaml.constructor.SafeConstructor.construct_mapping(self, node, deep)


def _screen(text: str) -> None:
    """Refuse aliases (``*name``: a few lines of them expand to gigabytes once something walks
    the result) and deep nesting, from the parser's event stream (iterative, no recursion)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_ConfigLoader):
            if isinstance(event, yaml.AliasEvent):
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not allowed in pamedge configs", cast(Any, event.start_mark)
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > _MAX_DEPTH:
                    raise RecursionError
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError as exc:
        if "nesting depth" in str(exc):  # libyaml's own limit (1000), met while scanning ahead
            raise RecursionError from None
        raise


def parse_yaml(text: str, where: str | Path) -> Any:
    """Parsed YAML ``text`` (:class:`_ConfigLoader`); any problem is a one-line
    :class:`ConfigError` naming ``where`` and the line."""
    try:
        _screen(text)
        return yaml.load(text, Loader=_ConfigLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML: {problem}{at}") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid YAML: nested too deeply") from None


def relative_path(value: str | Path, source: str | Path | None) -> Path:
    """The one path rule of every config: ``value`` as written, relative ones taken from the
    folder of the YAML file ``source`` (as written when there is none)."""
    p = Path(value)
    return p if p.is_absolute() or not source else Path(source).parent / p


def private_file(path: str | Path, what: str) -> None:
    """Refuse a secret (a key file, KEYS.yaml) that others may write: whoever can replace
    it can forge frames or commands."""
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return  # reading it will say why
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(
            f"{path}: {what} is writable by group or others (mode {stat.S_IMODE(mode):o}); chmod 600 {path}"
        )


def read_yaml(path: str | Path, what: str) -> Any:
    """Parsed YAML of ``path``; unreadable, non-UTF-8 or malformed files raise
    :class:`ConfigError` naming the file (``what`` says what it was meant to be)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: cannot read {what}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    return parse_yaml(text, path)
