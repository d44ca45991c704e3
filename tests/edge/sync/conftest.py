"""Factories for telemetry tests: seeded synthetic detections like a buoy's."""

from __future__ import annotations

import pytest

from tests.support.telemetry import make_detections


@pytest.fixture
def detections():
    return make_detections
