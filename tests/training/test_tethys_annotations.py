"""Tethys Detections documents as annotations: what edge-detect's Tethys writer says of a run
reads back as the same events of the same recordings (band included); a document from
elsewhere mapped by species and call; off-effort detections left out and said; what cannot be
read refused naming the document and detection."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pytest
import soundfile as sf

from edge.tethys.documents import detections_documents, effort_periods, to_text
from edge.tethys.types import Recording, Species
from edge.types import Detection
from training.sources import annotated_recordings
from training.tethys import is_tethys_detections
from training.types import AnnotationError, AnnotationNote

UTC = dt.timezone.utc
NOON = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
NAMES = ("20240501_120000.wav", "20240501_120100.wav")


@pytest.fixture
def audio(tmp_path):
    rng = np.random.default_rng(12)
    folder = tmp_path / "audio"
    folder.mkdir()
    for name in NAMES:
        sf.write(folder / name, 0.01 * rng.standard_normal(60 * 2000), 2000)
    return folder


def detection(file, offset_s, start_s, end_s, low, high, label):
    start = (NOON + dt.timedelta(seconds=offset_s + start_s)).isoformat().replace("+00:00", "Z")
    return Detection(file, 0, start, start_s, end_s, low, high, label, 0.93, 12.0, 110.0)


def found(doc, audio, labels):
    anns = annotated_recordings(doc, audio, labels, [])
    return sorted(
        (p.split("/")[-1], a.start_s, a.end_s, a.low_hz, a.high_hz, a.label) for p, items in anns.items() for a in items
    )


def test_the_tethys_writers_detections_read_back_as_the_runs_events(tmp_path, audio):
    recordings = [Recording(n, NOON + dt.timedelta(minutes=k), 60.0, 2000, 16, 0, 0.0) for k, n in enumerate(NAMES)]
    dets = [
        detection(NAMES[0], 0, 12.5, 13.75, 55.0, 230.0, "upcall"),
        detection(NAMES[1], 60, 3.0, 4.25, 60.0, 210.0, "upcall"),
    ]
    species = {"upcall": Species(180537, "Eubalaena glacialis", "Upcall")}
    (doc,) = detections_documents("narw", effort_periods(recordings), dets, species, model="m@1", version="0")
    path = tmp_path / "narw_detections_1.xml"
    path.write_text(to_text(doc))
    assert is_tethys_detections(path)
    assert found(path, audio, {"180537:Upcall": "upcall"}) == [
        (NAMES[0], 12.5, 13.75, 55.0, 230.0, "upcall"),
        (NAMES[1], 3.0, 4.25, 60.0, 210.0, "upcall"),
    ]
    assert {a[5] for a in found(path, audio, {"180537": "upcall"})} == {"upcall"}  # the species' every call
    assert {a[5] for a in found(path, audio, None)} == {"180537:Upcall"}


def document(body, *, off=""):
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<Detections xmlns="http://tethys.sdsu.edu/schema/1.0">'
        f"<Effort><Start>2024-05-01T12:00:00Z</Start><End>2024-05-01T12:02:00Z</End></Effort>"
        f"<OnEffort>{body}</OnEffort>{off}</Detections>"
    )


def test_a_document_from_elsewhere_and_its_off_effort_detections(tmp_path, audio):
    path = tmp_path / "analyst.xml"
    path.write_text(
        document(
            "<Detection><Start>2024-05-01T12:00:59.5Z</Start><End>2024-05-01T12:01:00.5Z</End>"
            "<SpeciesId>180530</SpeciesId><Call>Song</Call></Detection>",  # no band: all of it; over the file boundary
            off="<OffEffort><Detection><Start>2024-05-01T12:00:10Z</Start><End>2024-05-01T12:00:11Z</End>"
            "<SpeciesId>180488</SpeciesId></Detection></OffEffort>",
        )
    )
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        got = found(path, audio, {"180530": "humpback"})
    assert got == [
        (NAMES[0], 59.5, 60.0, 0.0, float("inf"), "humpback"),
        (NAMES[1], 0.0, 0.5, 0.0, float("inf"), "humpback"),
    ]
    notes = [str(w.message) for w in said if issubclass(w.category, AnnotationNote)]
    assert notes == [f"{path}: 1 off-effort detection(s) left out (incidental: not what the effort sought)"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            document("<Detection><Start>2024-05-01T12:00:05Z</Start><SpeciesId>1</SpeciesId></Detection>"),
            r"OnEffort detection 1: End missing",
        ),
        (
            document(
                "<Detection><Start>noon</Start><End>2024-05-01T12:00:06Z</End><SpeciesId>1</SpeciesId></Detection>"
            ),
            r"OnEffort detection 1: Start 'noon' is no ISO 8601 time",
        ),
        (
            document("<Detection><Start>2024-05-01T12:00:05Z</Start><End>2024-05-01T12:00:06Z</End></Detection>"),
            r"OnEffort detection 1: no SpeciesId",
        ),
        (
            document(
                "<Detection><Start>2024-05-01T12:00:05Z</Start><End>2024-05-01T12:00:06Z</End><SpeciesId>1</SpeciesId>"
                "<Parameters><MinFreq_Hz>low</MinFreq_Hz></Parameters></Detection>"
            ),
            r"OnEffort detection 1: MinFreq_Hz 'low' is not a number",
        ),
        (
            document(
                "<Detection><Start>2024-05-01T12:05:00Z</Start><End>2024-05-01T12:05:01Z</End><SpeciesId>1</SpeciesId></Detection>"
            ),
            r"OnEffort detection 1: 2024-05-01T12:05:00\+00:00 is held by no recording",
        ),
        ("<Detections><OnEffort><Detection>", r"not well-formed XML"),
        (
            '<Deployment xmlns="http://tethys.sdsu.edu/schema/1.0"/>',
            r"root element is .*Deployment.*not a Tethys Detections",
        ),
    ],
)
def test_what_a_document_cannot_say_is_refused_naming_the_detection(tmp_path, audio, text, message):
    path = tmp_path / "bad.xml"
    path.write_text(text)
    with pytest.raises(AnnotationError, match=message) as info:
        found(path, audio, None)
    assert str(info.value).startswith(str(path))


def test_recordings_the_effort_spans_are_scored_though_they_hold_no_detection(tmp_path, audio):
    """An analyst's effort over 12:00-12:02 found one call, in the first recording: the second,
    looked at and empty, is a negative to score and train on; a recording after the effort is not."""
    sf.write(audio / "20240501_120500.wav", np.zeros(60 * 2000), 2000)
    path = tmp_path / "effort.xml"
    path.write_text(
        document(
            "<Detection><Start>2024-05-01T12:00:10Z</Start><End>2024-05-01T12:00:11Z</End>"
            "<SpeciesId>180537</SpeciesId></Detection>"
        )
    )
    found = annotated_recordings(path, audio, {"180537": "upcall"}, [])
    assert {p.split("/")[-1]: [(a.start_s, a.end_s) for a in anns] for p, anns in found.items()} == {
        NAMES[0]: [(10.0, 11.0)],
        NAMES[1]: [],
    }
