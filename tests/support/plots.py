"""What the plotted NARW run of tests/edge/conftest.py is made of, and a PNG header reader."""

from __future__ import annotations

NARW_FILES = ("NOPP6_EST_20090328_000000.wav", "NOPP6_EST_20090328_001500.wav")


FAILED_NAME = "NOPP6_EST_20090328_004500.wav"  # zero bytes; its name still places it in time


PER_LABEL = 4


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """``(width, height)`` from a PNG's IHDR chunk, checking the signature on the way."""
    import struct

    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])
