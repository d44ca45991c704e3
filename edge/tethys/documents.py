"""Tethys Deployment and Detections documents as ElementTrees (written by :func:`to_text`)."""

from __future__ import annotations

import datetime as dt
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from typing import Any

from edge.errors import PamedgeError
from edge.site import SiteSettings
from edge.tethys.types import EffortPeriod, Recording, Species
from edge.timestamps import CONTIGUOUS_S, parse_utc
from edge.types import Detection

NAMESPACE = "http://tethys.sdsu.edu/schema/1.0"
GRANULARITY = "call"  # one Detection per call (an ROI the model labelled)


class TethysError(PamedgeError):
    """A run that cannot be written as Tethys documents (no site, a label without a species)."""


def _time(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


ET.register_namespace("", NAMESPACE)  # written as the default namespace, as Tethys documents are


def _q(tag: str) -> str:
    return f"{{{NAMESPACE}}}{tag}"


def _sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    el = ET.SubElement(parent, _q(tag))
    if text is not None:
        el.text = text if isinstance(text, str) else f"{text:g}" if isinstance(text, float) else str(text)
    return el


def effort_periods(recordings: Iterable[Recording], tolerance_s: float = CONTIGUOUS_S) -> list[EffortPeriod]:
    """Stretches of continuous recording, in time order."""
    periods: list[EffortPeriod] = []
    for r in sorted(recordings, key=lambda r: r.start_utc):
        if periods and (r.start_utc - periods[-1].end).total_seconds() <= tolerance_s:
            last = periods[-1]
            periods[-1] = EffortPeriod(last.start, max(last.end, r.end_utc), (*last.files, r.path))
        else:
            periods.append(EffortPeriod(r.start_utc, r.end_utc, (r.path,)))
    return periods


def deployment_document(
    name: str, site: SiteSettings | None, recordings: Sequence[Recording], *, audio: bool = True
) -> ET.Element:
    """The Deployment document: where, with what, when and how the recordings were made;
    ``audio`` says the recordings are files here (their folder goes into ``Data``), not
    stretches of effort known from a buoy's health records."""
    if site is None:
        raise TethysError(
            f"deployment {name!r} has no site: section: Tethys documents need at least its latitude and longitude"
        )
    if not recordings:
        raise TethysError(f"deployment {name!r}: no recording with a UTC start time to describe")
    first = min(r.start_utc for r in recordings)
    last = max(r.end_utc for r in recordings)
    doc = ET.Element(_q("Deployment"))
    _sub(doc, "Id", name)
    _sub(doc, "Description").append(_text_el("Objectives", f"Passive acoustic monitoring, deployment {name}"))
    _sub(doc, "Project", site.project or name)
    _sub(doc, "DeploymentId", site.deployment_id)
    if site.name:
        _sub(doc, "Site", site.name)
    if site.platform:
        _sub(doc, "Platform", site.platform)
    instrument = _sub(doc, "Instrument")
    _sub(instrument, "Type", site.instrument or "unknown")
    _sub(instrument, "InstrumentId", site.recorder_serial or "unknown")
    sampling = _sub(doc, "SamplingDetails")
    for channel in sorted({r.channel for r in recordings}):
        rec = sorted((r for r in recordings if r.channel == channel), key=lambda r: r.start_utc)
        ch = _sub(sampling, "Channel")
        _sub(ch, "ChannelNumber", channel + 1)  # Tethys counts channels from 1
        _sub(ch, "SensorNumber", 1)
        _sub(ch, "Start", _time(rec[0].start_utc))
        _sub(ch, "End", _time(max(r.end_utc for r in rec)))
        regimens = _sub(ch, "Sampling")
        for r in _changes(rec, lambda r: (r.sample_rate, r.bits)):
            regimen = _sub(regimens, "Regimen")
            _sub(regimen, "TimeStamp", _time(r.start_utc))
            _sub(regimen, "SampleRate_kHz", r.sample_rate / 1000)
            if r.bits:
                _sub(regimen, "SampleBits", r.bits)
        gains = _sub(ch, "Gain")
        for r in _changes(rec, lambda r: r.gain_db):
            regimen = _sub(gains, "Regimen")
            _sub(regimen, "TimeStamp", _time(r.start_utc))
            _sub(regimen, "Gain_dB", float(r.gain_db))
    if audio:
        folder = os.path.commonpath([os.path.abspath(os.path.dirname(r.path)) for r in recordings])
        _sub(_sub(_sub(doc, "Data"), "Audio"), "URI", folder)
    for tag, when, audio_when in (
        ("DeploymentDetails", site.deployed_utc, first),
        ("RecoveryDetails", site.recovered_utc, last),
    ):
        details = _sub(doc, tag)
        _sub(details, "Longitude", float(site.longitude % 360))  # Tethys: degrees east, 0 to 360
        _sub(details, "Latitude", float(site.latitude))
        if site.depth_m is not None:
            _sub(details, "DepthInstrument_m", float(site.depth_m))
        _sub(details, "TimeStamp", when or _time(audio_when))
        _sub(details, "AudioTimeStamp", _time(audio_when))
    return doc


def _text_el(tag: str, text: str) -> ET.Element:
    el = ET.Element(_q(tag))
    el.text = text
    return el


def _changes(recordings: list[Recording], key: Any) -> list[Recording]:
    """The recordings where ``key`` changes (the first included)."""
    out, last = [], object()
    for r in recordings:
        if key(r) != last:
            out.append(r)
            last = key(r)
    return out


def detections_documents(
    deployment: str,
    periods: Sequence[EffortPeriod],
    detections: Iterable[Detection],
    species: dict[str, Species],
    *,
    model: str,
    version: str,
    thresholds: dict[str, float] | None = None,
    user: str = "pamedge",
) -> list[ET.Element]:
    """A Detections document per effort period: its Effort (start, end, a Kind per species
    the model detects) and a Detection per record in it.  Raises :class:`TethysError` for a
    record whose label has no species (ROI-only runs, a card without ``species:``)."""
    if not species:
        raise TethysError(
            f"model {model or '(none)'}: no species: mapping (label -> ITIS number) in its card; "
            "Tethys detections name species by ITIS number"
        )
    by_period: list[list[tuple[dt.datetime, Detection]]] = [[] for _ in periods]
    unknown: set[str] = set()
    for d in detections:
        start = parse_utc(d.start_utc)
        if start is None:
            continue  # a recording without a UTC start is in no effort period
        if d.label not in species:
            unknown.add(d.label)
            continue
        for i, p in enumerate(periods):
            if p.start <= start <= p.end:
                by_period[i].append((start, d))
                break
    if unknown:
        raise TethysError(
            f"model {model or '(none)'}: label(s) {', '.join(sorted(unknown))} have no ITIS number in the card's "
            f"species: mapping (it has {', '.join(sorted(species))})"
        )
    docs = []
    for k, (period, dets) in enumerate(zip(periods, by_period), start=1):
        doc = ET.Element(_q("Detections"))
        _sub(doc, "Id", f"{deployment}_{model.split('@')[0] or 'roi'}_{k}")
        description = _sub(doc, "Description")
        _sub(description, "Objectives", "Detect calls in the deployment's recordings")
        _sub(description, "Method", "Candidate stages (tonal ROIs, click trains) classified by an INT8 model")
        _sub(_sub(doc, "DataSource"), "DeploymentId", deployment)
        algorithm = _sub(doc, "Algorithm")
        _sub(algorithm, "Method", f"pamedge edge-detect, model {model}")
        _sub(algorithm, "Software", "pamedge")
        _sub(algorithm, "Version", version)
        if thresholds:
            params = _sub(algorithm, "Parameters")
            for label, threshold in sorted(thresholds.items()):
                _sub(params, "Threshold", f"{label}={threshold:g}")
        _sub(doc, "UserId", user)
        effort = _sub(doc, "Effort")
        _sub(effort, "Start", _time(period.start))
        _sub(effort, "End", _time(period.end))
        for label, s in sorted(species.items(), key=lambda kv: (kv[1].tsn, kv[0])):
            kind = _sub(effort, "Kind")
            _sub(kind, "SpeciesId", s.tsn)
            _sub(kind, "Granularity", GRANULARITY)
            _sub(kind, "Call", s.call or label)
        on = _sub(doc, "OnEffort")
        for start, d in sorted(dets, key=lambda sd: (sd[1].start_utc, sd[1].low_hz)):
            s = species[d.label]
            det = _sub(on, "Detection")
            _sub(det, "Input_file", d.file)
            _sub(det, "Start", _time(start))
            _sub(det, "End", _time(start + dt.timedelta(seconds=d.end_s - d.start_s)))
            _sub(det, "SpeciesId", s.tsn)
            _sub(det, "Call", s.call or d.label)
            params = _sub(det, "Parameters")
            for tag, value in (
                ("Score", d.score),
                ("ReceivedLevel_dB", d.received_level_db),
                ("MinFreq_Hz", d.low_hz),
                ("MaxFreq_Hz", d.high_hz),
            ):
                if math.isfinite(value):
                    _sub(params, tag, round(float(value), 6))
            # not among Tethys's named parameters: user-defined ones
            extra: list[tuple[str, float]] = [("SNR_dB", d.snr_db)]
            if d.clicks:
                extra += [("Clicks", d.clicks), ("ICI_s", d.ici_s)]
            extra = [(tag, value) for tag, value in extra if math.isfinite(value)]
            if extra:
                defined = _sub(params, "UserDefined")
                for tag, value in extra:
                    _sub(defined, tag, value if isinstance(value, int) else round(float(value), 6))
        docs.append(doc)
    return docs


def to_text(doc: ET.Element) -> str:
    """The document as XML text, indented, declaring UTF-8 (which it is written in)."""
    ET.indent(doc)
    text: bytes = ET.tostring(doc, encoding="utf-8", xml_declaration=True)
    return text.decode() + "\n"
