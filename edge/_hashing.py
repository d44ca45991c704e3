"""Stable short hashes of settings, the identities written into cards, records and run.json."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def canonical(value: Any) -> Any:
    """``value`` with integral floats as ints, so YAML's ``10`` and ``10.0`` hash alike."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: canonical(x) for k, x in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(x) for x in value]
    return value


def stable_hash(value: Any) -> str:
    """16 hex digits of sha256 over the canonical, key-sorted JSON of ``value``."""
    text = json.dumps(canonical(value), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_sha256(path: str | Path) -> str:
    """sha256 (hex) of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
