"""The identity/status frame body (kind 2, ``docs/reference/frames.md``): what produced the records.

Record frames carry no model, config hash, hydrophone or calibration (they would cost more
than the records).  An identity frame names them once, with the first log sequence they
apply to, so shore can give every record the identity of what produced it (ARCHITECTURE.md
contract 4).  A buoy sends one before the first record and again whenever the identity
changes; a status request is answered with the current identity plus the outbox counters.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from edge.sync.bits import leb128, read_leb128, read_text, text
from edge.types import Detection

CAL_MISSING = -32768  # int16 code of an unknown calibration
STATUS_FIELDS = ("records", "frames_pending", "bytes_pending", "frames_acked", "bytes_today", "credits_today")


@dataclass(frozen=True)
class Identity:
    """What produced a run of records; ``calibration_db`` to 0.01 dB, None when unknown."""

    model: str = ""
    config_hash: str = ""
    hydrophone: str = ""
    calibration_db: float | None = None
    software: str = ""

    @classmethod
    def of(cls, detection: Detection, software: str) -> Identity:
        raw = detection.calibration_db
        cal = None if raw is None or (isinstance(raw, float) and math.isnan(raw)) else round(float(raw), 2)
        return cls(detection.model or "", detection.config_hash or "", detection.hydrophone or "", cal, software)


@dataclass(frozen=True)
class IdentityFrame:
    identity: Identity
    from_seq: int  # first log sequence the identity applies to (0: no record yet)
    time_s: int  # UTC epoch seconds the frame was made
    status: tuple[tuple[str, int], ...] = ()  # outbox counters of a status answer, in STATUS_FIELDS order


def encode(frame: IdentityFrame) -> bytes:
    ident = frame.identity
    cal = CAL_MISSING if ident.calibration_db is None else round(ident.calibration_db * 100)
    if ident.calibration_db is not None and not CAL_MISSING < cal < 1 << 15:
        raise ValueError(f"calibration_db={ident.calibration_db} is outside +-327.67 dB")
    out = bytearray(struct.pack(">I", frame.time_s)) + leb128(frame.from_seq)
    for what in ("model", "config_hash", "hydrophone"):
        out += text(getattr(ident, what), what)
    out += struct.pack(">h", cal) + text(ident.software, "software")
    names = [name for name, _ in frame.status]
    if names != list(STATUS_FIELDS[: len(names)]):
        raise ValueError(f"status counters {names} are not a prefix of {STATUS_FIELDS}")
    out += bytes((len(frame.status),))
    for _, value in frame.status:
        out += leb128(value)
    return bytes(out)


def decode(body: bytes) -> IdentityFrame:
    """Strict: :class:`ValueError` for anything not made by :func:`encode`."""
    if len(body) < 5:
        raise ValueError("identity body too short")
    time_s = struct.unpack_from(">I", body)[0]
    from_seq, pos = read_leb128(body, 4)
    model, pos = read_text(body, pos, "model")
    config_hash, pos = read_text(body, pos, "config_hash")
    hydrophone, pos = read_text(body, pos, "hydrophone")
    if pos + 2 > len(body):
        raise ValueError("identity body too short")
    cal = struct.unpack_from(">h", body, pos)[0]
    software, pos = read_text(body, pos + 2, "software")
    if pos >= len(body) or body[pos] > len(STATUS_FIELDS):
        raise ValueError("bad status counter count")
    n, pos = body[pos], pos + 1
    status: list[tuple[str, int]] = []
    for name in STATUS_FIELDS[:n]:
        count, pos = read_leb128(body, pos)
        status.append((name, count))
    if pos != len(body):
        raise ValueError("trailing bytes after the status counters")
    identity = Identity(model, config_hash, hydrophone, None if cal == CAL_MISSING else cal / 100, software)
    return IdentityFrame(identity, from_seq, time_s, tuple(status))
