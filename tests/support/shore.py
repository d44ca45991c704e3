"""Frames for the shore tests: packed from seeded synthetic detections with the test key."""

from __future__ import annotations

from edge.sync.frames import pack_all
from tests.support.telemetry import make_detections

KEY = bytes(range(32))


def frames(n=200, **kw):
    return pack_all(list(enumerate(make_detections(n), 1)), deployment="buoy-1", key=KEY, **kw)
