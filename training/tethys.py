"""Tethys Detections documents as annotations: the detections another tool or analyst exported
to (or from) a Tethys server, each ``OnEffort/Detection`` with its UTC ``Start`` and ``End``,
``SpeciesId`` and ``Call``, and its band where ``Parameters`` give ``MinFreq_Hz`` and
``MaxFreq_Hz`` (edge-detect's ``--outputs tethys`` writes such documents).

Each detection becomes the annotations of the recordings holding its times
(:func:`training.annotations.utc_annotation`).  Its label is ``SPECIES:CALL`` (``180537:Upcall``,
the species as the document names it, an ITIS number in Tethys), or the species alone when it
names no call; a recipe's ``labels:`` may map either.  Off-effort detections (incidental ones
of what the effort did not seek) are left out, and said in one note per document; the
recordings the ``Effort`` spans are scored (and trained on) though they hold no detection.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

from training.annotations import _check, need_start_times, species_call_label, utc_annotation, utc_or_none
from training.types import Annotation, AnnotationError, AnnotationNote, Stretch

NAMESPACE = "http://tethys.sdsu.edu/schema/1.0"
_MAX_BYTES = 256 << 20  # a Detections document of a year's calls is tens of MB


def is_tethys_detections(path: Path) -> bool:
    """An XML file, read as a Tethys ``Detections`` document (another one is refused by name)."""
    return path.suffix.lower() == ".xml" and not path.is_dir()


def read_tethys(
    path: str | Path,
    *,
    timeline: Sequence[Stretch],
    labels: Mapping[str, str] | None = None,
    durations: Mapping[str, float] | None = None,
    on_effort: set[str] | None = None,
) -> list[Annotation]:
    """Annotations from a Tethys Detections document (module docstring); ``timeline``: the
    recordings' stretches in UTC (:func:`training.sources.timeline`).  ``on_effort`` gets the
    recordings the document's ``Effort`` spans: those without a detection are what the analyst
    looked at and found nothing in, negatives to score and train on."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > _MAX_BYTES:
            raise AnnotationError(f"{path}: {size} bytes, more than a Detections document holds")
        root = ET.parse(path).getroot()
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot read: {exc.strerror}") from None
    except ET.ParseError as exc:
        raise AnnotationError(f"{path}: not well-formed XML ({exc})") from None
    ns = root.tag[1 : root.tag.index("}")] if root.tag.startswith("{") else ""
    if root.tag != _tag(ns, "Detections"):
        raise AnnotationError(f"{path}: the root element is {root.tag!r}, not a Tethys Detections document")
    need_start_times(path, timeline)
    effort = root.find(_tag(ns, "Effort"))
    if effort is not None and on_effort is not None:
        start = _time(effort, ns, "Start", f"{path}: Effort")
        end = _time(effort, ns, "End", f"{path}: Effort")
        on_effort.update(s.file for s in timeline if s.start < end and s.end > start)
    out: list[Annotation] = []
    for k, det in enumerate(root.iterfind(f"{_tag(ns, 'OnEffort')}/{_tag(ns, 'Detection')}"), start=1):
        where = f"{path}: OnEffort detection {k}"
        start, end = _time(det, ns, "Start", where), _time(det, ns, "End", where)
        low, high = _band(det, ns, where)
        parts = utc_annotation(start, end, low, high, _label(det, ns, labels, where), timeline, where)
        out += [_check(a, where, durations) for a in parts]
    off = sum(1 for _ in root.iterfind(f"{_tag(ns, 'OffEffort')}/{_tag(ns, 'Detection')}"))
    if off:
        warnings.warn(
            AnnotationNote(f"{path}: {off} off-effort detection(s) left out (incidental: not what the effort sought)"),
            stacklevel=2,
        )
    return out


def _tag(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}" if ns else name


def _text(det: ET.Element, ns: str, name: str) -> str:
    el = det.find(_tag(ns, name))
    return (el.text or "").strip() if el is not None else ""


def _time(det: ET.Element, ns: str, name: str, where: str) -> dt.datetime:
    text = _text(det, ns, name)
    t = utc_or_none(text)
    if t is None:
        said = f"{text!r} is no ISO 8601 time" if text else "missing (a detection without an extent in time)"
        raise AnnotationError(f"{where}: {name} {said}")
    return t


def _band(det: ET.Element, ns: str, where: str) -> tuple[float, float]:
    """``Parameters``' ``MinFreq_Hz`` and ``MaxFreq_Hz``; the whole band where it gives none."""
    params = det.find(_tag(ns, "Parameters"))
    band = []
    for name, default in (("MinFreq_Hz", 0.0), ("MaxFreq_Hz", math.inf)):
        text = _text(params, ns, name) if params is not None else ""
        try:
            value = float(text) if text else default
        except ValueError:
            raise AnnotationError(f"{where}: {name} {text!r} is not a number") from None
        if not math.isfinite(value) and text:
            raise AnnotationError(f"{where}: {name} {text!r} is not a finite number")
        band.append(value)
    return band[0], band[1]


def _label(det: ET.Element, ns: str, labels: Mapping[str, str] | None, where: str) -> str:
    species = _text(det, ns, "SpeciesId")
    if not species:
        raise AnnotationError(f"{where}: no SpeciesId")
    return species_call_label(species, _text(det, ns, "Call"), labels, where)
