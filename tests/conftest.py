"""Shared fixtures (seeded randomness, WAV factories) and the ``shared`` marker.

Helpers live in :mod:`tests.support`; this file holds fixtures only.
"""

from __future__ import annotations

import functools
import inspect
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def _reads_shared(func: object, seen: set[int] | None = None) -> bool:
    """Whether ``func``, or a test helper it calls (followed through the names its code uses),
    reads ../shared/data."""
    seen = set() if seen is None else seen
    if id(func) in seen or not inspect.isfunction(func) or not func.__module__.startswith("tests"):
        return False
    seen.add(id(func))
    if _mentions_shared(func):
        return True
    names = set(func.__code__.co_names) | {n for c in func.__code__.co_consts if inspect.iscode(c) for n in c.co_names}
    return any(_reads_shared(func.__globals__.get(n), seen) for n in names)


@functools.cache
def _mentions_shared(func: object) -> bool:
    try:
        source = inspect.getsource(func)  # type: ignore[arg-type]
    except (OSError, TypeError):
        return False
    return "shared_path(" in source or "SHARED_REAL" in source


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``shared`` every test that reads ../shared/data, itself or through any fixture it
    uses (``pytest -m "not shared"`` runs what a fresh clone can; those tests skip there
    anyway, saying why)."""
    for item in items:
        funcs = [getattr(item, "function", None)]
        info = getattr(item, "_fixtureinfo", None)
        if info is not None:
            funcs += [d.func for defs in info.name2fixturedefs.values() for d in defs]
        if any(f is not None and _reads_shared(f) for f in funcs):
            item.add_marker(pytest.mark.shared)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261121)


@pytest.fixture
def write_audio(tmp_path):
    """Factory: write samples (n,) or (n, channels) to ``tmp_path/name``; returns the path."""

    def write(
        name: str, samples: np.ndarray, sample_rate: int, subtype: str = "PCM_16", folder: Path | None = None
    ) -> Path:
        path = (folder or tmp_path) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), samples, sample_rate, subtype=subtype)
        return path

    return write


@pytest.fixture(autouse=True, scope="session")
def _umask_022():
    """Key files the tests write must not be group-writable (edge refuses those), whatever
    umask the developer's shell has (Debian and Ubuntu users often have 002)."""
    old = os.umask(0o022)
    yield
    os.umask(old)
