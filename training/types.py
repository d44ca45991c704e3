"""Shared records and the training error."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from edge.errors import PamedgeError

# the lossy codecs a clip library can also be rendered through (data.codecs), and the sample
# rates each holds (MPEG-1, -2 and -2.5 layer III)
CODECS = {"mp3": (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)}


class AnnotationError(PamedgeError, ValueError):
    """An annotation file is malformed; the message names the file and the line."""


class AnnotationNote(UserWarning):
    """Something an annotation file holds that was left out, said once per file (edge-train
    prints it as a warning line)."""


class TrainConfigError(PamedgeError, ValueError):
    """An ``edge-train`` config holds an unknown key or a bad value."""


@dataclass(frozen=True)
class Annotation:
    """One labelled event of a recording (seconds from its start, Hz)."""

    file: str
    start_s: float
    end_s: float
    low_hz: float
    high_hz: float
    label: str

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Stretch:
    """A stretch of a recording in UTC (the whole of it, or one period of a duty-cycled one):
    what a table of UTC times is matched against (``offset_s``: where it starts in the file)."""

    start: dt.datetime
    end: dt.datetime
    file: str
    offset_s: float


@dataclass(frozen=True)
class WindowRef:
    """Where a dataset window came from."""

    source: str  # recording or clip path
    group: str  # split unit: the recording (or site/deployment when known)
    offset_s: float  # window start in the source
    label: str
    kind: str  # "positive", "negative", "hard_negative", "clip"
