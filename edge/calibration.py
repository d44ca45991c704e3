"""Hydrophone calibration: from a serial number to dB re 1 uPa.

Sign convention.  pamedge works internally with the *full-scale SPL*: the sound pressure
level, in dB re 1 uPa, that produces a full-scale (+-1.0) sample.  Tables in the field use
both signs for the same physical number: SoundTrap's "end-to-end calibration" is often
quoted positive (176.2 dB re 1 uPa, full-scale SPL) and as a negative *sensitivity*
(-177.6 dB re 1 FS/uPa in the beluga pipeline).  ``hydrophones.yaml`` therefore declares its
``convention`` (``sensitivity``: negative values; ``full_scale_spl``: positive values), per
file and optionally per entry, and a value whose sign contradicts it is rejected rather than
guessed.  Then

    SPL (dB re 1 uPa) = 20 log10(rms(x)) + full_scale_spl - gain_db - response(f)

where ``gain_db`` is any gain between hydrophone and ADC not already in the end-to-end
value, and ``response(f)`` the optional frequency-dependent deviation (dB, linear
interpolation between table points, held constant beyond them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge import _validate as v
from edge._hashing import stable_hash
from edge.errors import CalibrationError, ConfigError

CONVENTIONS = ("sensitivity", "full_scale_spl")
DEFAULT_SENSITIVITY_DB = -170.0  # the beluga pipeline's fallback


def to_full_scale_spl(value: float, convention: str, where: str) -> float:
    """Normalise an end-to-end value to full-scale SPL (positive), checking its sign."""
    if convention not in CONVENTIONS:
        raise CalibrationError(f"{where}: convention={convention!r} is not one of {', '.join(CONVENTIONS)}")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise CalibrationError(f"{where}: end-to-end value {value!r} is not a number")
    if convention == "sensitivity" and value >= 0:
        raise CalibrationError(
            f"{where}: {value} is positive but the convention is 'sensitivity' (dB re 1 FS/uPa, "
            "negative); write it negated or declare convention: full_scale_spl"
        )
    if convention == "full_scale_spl" and value <= 0:
        raise CalibrationError(
            f"{where}: {value} is negative but the convention is 'full_scale_spl' (dB re 1 uPa, "
            "positive); write it negated or declare convention: sensitivity"
        )
    spl = abs(float(value))
    if not 80.0 <= spl <= 260.0:
        raise CalibrationError(f"{where}: |{value}| dB is outside the plausible range 80..260 dB")
    return spl


@dataclass(frozen=True)
class Calibration:
    """The calibration applied to one recording."""

    hydrophone: str  # serial, or "default"
    full_scale_spl_db: float
    gain_db: float = 0.0
    response: tuple[tuple[float, float], ...] = ()
    source: str = "default"  # the table it came from, or "default"

    def bin_gain_db(self, freqs: np.ndarray) -> np.ndarray:
        """dB to add to full-scale-normalised power at each frequency, shape of ``freqs``."""
        gain = np.full(np.shape(freqs), self.full_scale_spl_db - self.gain_db)
        if self.response:
            pts = np.asarray(self.response, dtype=float)
            gain -= np.interp(freqs, pts[:, 0], pts[:, 1])
        return gain

    def as_dict(self) -> dict[str, Any]:
        return {
            "hydrophone": self.hydrophone,
            "full_scale_spl_db": self.full_scale_spl_db,
            "gain_db": self.gain_db,
            "response": [list(p) for p in self.response],
            "source": self.source,
        }

    @property
    def hash(self) -> str:
        return stable_hash(self.as_dict())


@dataclass(frozen=True)
class CalibrationSettings:
    """The ``calibration:`` section of a deployment."""

    table: str | None = None  # hydrophones.yaml, relative to the deployment file
    hydrophone: str | None = None  # serial for recordings whose name carries none
    default_db: float = DEFAULT_SENSITIVITY_DB
    default_convention: str = "sensitivity"
    gain_db: float = 0.0

    def __post_init__(self) -> None:
        v.require(self.table is None or isinstance(self.table, str), f"table={self.table!r} is not a path")
        if self.hydrophone is not None:
            object.__setattr__(self, "hydrophone", str(self.hydrophone))
        v.number("gain_db", self.gain_db)
        try:
            to_full_scale_spl(self.default_db, self.default_convention, "default_db")
        except CalibrationError as exc:
            raise ConfigError(str(exc)) from None


@dataclass(frozen=True)
class HydrophoneTable:
    """Serial -> calibration, loaded from ``hydrophones.yaml``."""

    path: str
    entries: dict[str, Calibration] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> HydrophoneTable:
        path = Path(path)
        try:
            text = path.read_bytes().decode("utf-8")
        except OSError as exc:
            raise CalibrationError(f"{path}: cannot read hydrophone table: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise CalibrationError(
                f"{path}: cannot read hydrophone table: not UTF-8 text (offset {exc.start})"
            ) from None
        return cls.from_text(text, path)

    @classmethod
    def from_text(cls, text: str, path: str | Path) -> HydrophoneTable:
        """The table held by ``text``, the contents of the file at ``path`` (a worker that
        receives the table with its task, not the file)."""
        from edge._validate import parse_yaml
        from edge.errors import ConfigError

        try:
            data = parse_yaml(text, path)
        except ConfigError as exc:
            raise CalibrationError(str(exc)) from None
        if not isinstance(data, dict):
            raise CalibrationError(f"{path}: expected a mapping with 'convention' and 'hydrophones'")
        unknown = set(data) - {"convention", "hydrophones"}
        if unknown:
            raise CalibrationError(f"{path}: unknown key {sorted(unknown)[0]!r} (known keys: convention, hydrophones)")
        convention = data.get("convention")
        if convention not in CONVENTIONS:
            raise CalibrationError(
                f"{path}: 'convention' must be one of {', '.join(CONVENTIONS)} (got {convention!r}); "
                "it says which sign the values carry"
            )
        hydrophones = data.get("hydrophones") or {}
        if not isinstance(hydrophones, dict):
            raise CalibrationError(
                f"{path}: 'hydrophones' must be a mapping of serial -> value, got {type(hydrophones).__name__}"
            )
        entries = {}
        for serial, entry in hydrophones.items():
            entries[str(serial)] = _entry(entry, convention, f"{path}: hydrophones.{serial}", str(serial), str(path))
        return cls(str(path), entries)


def _entry(entry: Any, convention: str, where: str, serial: str, source: str) -> Calibration:
    if not isinstance(entry, dict):
        entry = {"end_to_end_db": entry}
    unknown = set(entry) - {"end_to_end_db", "convention", "gain_db", "response"}
    if unknown:
        raise CalibrationError(
            f"{where}: unknown key {sorted(unknown)[0]!r} (known keys: convention, end_to_end_db, gain_db, response)"
        )
    if "end_to_end_db" not in entry:
        raise CalibrationError(f"{where}: missing end_to_end_db")
    spl = to_full_scale_spl(entry["end_to_end_db"], entry.get("convention", convention), where)
    gain = entry.get("gain_db", 0.0)
    if not isinstance(gain, (int, float)) or isinstance(gain, bool) or not math.isfinite(gain):
        raise CalibrationError(f"{where}: gain_db={gain!r} is not a number")
    response = entry.get("response") or []
    try:
        pts = tuple((float(f), float(db)) for f, db in response)
    except (TypeError, ValueError):
        raise CalibrationError(f"{where}: response must be a list of [frequency_hz, dB] pairs") from None
    if not all(math.isfinite(x) for p in pts for x in p):
        raise CalibrationError(f"{where}: response holds a value that is not a finite number")
    if any(b[0] <= a[0] for a, b in zip(pts, pts[1:])):
        raise CalibrationError(f"{where}: response frequencies must increase")
    return Calibration(serial, spl, float(gain), pts, source)


def resolve(
    serial: str | None, settings: CalibrationSettings, table: HydrophoneTable | None
) -> tuple[Calibration, str | None]:
    """The calibration for a recording, and a warning when the default had to be used."""
    serial = serial or settings.hydrophone
    if table is not None and serial is not None and serial in table.entries:
        cal = table.entries[serial]
        if settings.gain_db:
            cal = Calibration(
                cal.hydrophone, cal.full_scale_spl_db, cal.gain_db + settings.gain_db, cal.response, cal.source
            )
        return cal, None
    spl = to_full_scale_spl(settings.default_db, settings.default_convention, "default_db")
    why = (
        f"hydrophone {serial} is not in {table.path if table else 'any hydrophone table'}"
        if serial
        else "no hydrophone serial in the file name or deployment"
    )
    warning = f"{why}; using the default {settings.default_db:g} dB, received levels are not exact"
    return Calibration("default", spl, settings.gain_db, (), "default"), warning
