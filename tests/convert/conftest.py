"""Tiny trained runs and their bundles, built once per session, for the converter's tests.

Each is a 2-class (3 for multi-output) ResNet trained for a few seconds on synthetic upcalls
at 2 kHz with the narw-upcall deployment's frontend (multi-output: beluga-like whistles and
pulsed calls at 32 kHz, two named heads), converted by ``convert_run``; skipped when the
convert extra is missing.

How well a model trained for seconds survives INT8 depends on the CPU it was trained and
quantised on, so these conversions run the gate with limits no model can fail
(:data:`GATE_OPEN`): the tests here check what the converter writes, the gate's decisions are
tested on their own (test_gate.py, test_cli.py), and the runtime's tests use the committed bundles in
tests/fixtures/bundles (``tests/fixtures/make_bundles.py`` rebuilds them with the real gate).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tiny_models import (
    tiny_bundle,
    tiny_run,
    without_emulated_path,
)


@pytest.fixture(scope="session")
def single_run(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory, "single")


@pytest.fixture(scope="session")
def bundle(tmp_path_factory) -> Path:
    return tiny_bundle(tmp_path_factory, "single")


@pytest.fixture
def no_emulated_path():
    """The gate without its emulated AVX2 path: for tests of what the gate decides, not of which
    kernel paths it reaches (test_kernels.py, test_bundle.py)."""
    with without_emulated_path():
        yield
