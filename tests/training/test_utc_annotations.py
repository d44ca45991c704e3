"""A log of UTC times (start_utc, end_utc, label: how Triton and Tethys keep HARP annotations)
matched to the recordings holding them: by their names' or metadata's start times, across a
file boundary, through a duty-cycled XWAV's periods; what no recording or two hold refused."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
import soundfile as sf

from tests.edge.test_xwav import xwav
from training.annotations import utc_annotation
from training.sources import annotated_recordings
from training.types import AnnotationError, Stretch

UTC = dt.timezone.utc
NOON = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds):
    return NOON + dt.timedelta(seconds=seconds)


TIMELINE = [
    Stretch(at(0), at(60), "a.wav", 0.0),
    Stretch(at(60), at(120), "b.wav", 0.0),
    Stretch(at(300), at(360), "c.wav", 0.0),
]


def test_an_event_in_one_recording_and_one_over_a_file_boundary():
    (a,) = utc_annotation(at(10), at(11.5), 50, 250, "upcall", TIMELINE, "log.csv: line 2")
    assert (a.file, a.start_s, a.end_s, a.low_hz, a.high_hz) == ("a.wav", 10.0, 11.5, 50, 250)
    parts = utc_annotation(at(59.5), at(60.75), 50, 250, "upcall", TIMELINE, "log.csv: line 3")
    assert [(p.file, p.start_s, p.end_s) for p in parts] == [("a.wav", 59.5, 60.0), ("b.wav", 0.0, 0.75)]


def test_what_no_recording_holds_or_two_do_is_refused_by_line():
    with pytest.raises(AnnotationError, match=r"log.csv: line 4: 2024-05-01T12:03:00\+00:00 is held by no recording"):
        utc_annotation(at(180), at(181), 0, 1, "upcall", TIMELINE, "log.csv: line 4")
    with pytest.raises(AnnotationError, match=r"line 5: runs on past the end of b.wav at .*where no recording follows"):
        utc_annotation(at(119), at(121), 0, 1, "upcall", TIMELINE, "log.csv: line 5")
    twice = [*TIMELINE, Stretch(at(0), at(60), "other/a.wav", 0.0)]
    with pytest.raises(
        AnnotationError, match=r"line 6: .* is held by 2 recordings \(a.wav, other/a.wav\): give each row's filename"
    ):
        utc_annotation(at(5), at(6), 0, 1, "upcall", twice, "log.csv: line 6")


def test_a_utc_log_over_recordings_named_by_their_start_and_a_duty_cycled_xwav(tmp_path):
    rng = np.random.default_rng(2)
    audio = tmp_path / "audio"
    audio.mkdir()
    for name in ("20240501_120000.wav", "20240501_120100.wav"):  # end to end, a minute each
        sf.write(audio / name, 0.01 * rng.standard_normal(60 * 2000), 2000)
    later = NOON + dt.timedelta(hours=1, minutes=15)
    raw = [
        (NOON + dt.timedelta(hours=1), 0.01 * rng.standard_normal(20 * 2000)),
        (later, 0.01 * rng.standard_normal(20 * 2000)),
    ]
    xwav(audio / "harp.x.wav", raw, rate=2000)
    log = tmp_path / "log.csv"
    log.write_text(
        "start_utc,end_utc,label\n"
        "2024-05-01T12:00:30Z,2024-05-01T12:00:31.5Z,up\n"  # in the first file
        "2024-05-01 12:00:59.5,2024-05-01 12:01:00.5,up\n"  # over the boundary; no zone: UTC
        "2024-05-01T15:15:05+02:00,2024-05-01T15:15:06+02:00,up\n"  # local time with its offset: in the XWAV's second period
    )
    found = annotated_recordings(log, audio, {"up": "upcall"}, [])
    got = sorted((p.split("/")[-1], a.start_s, a.end_s) for p, anns in found.items() for a in anns)
    assert got == [
        ("20240501_120000.wav", 30.0, 31.5),
        ("20240501_120000.wav", 59.5, 60.0),
        ("20240501_120100.wav", 0.0, 0.5),
        ("harp.x.wav", 25.0, 26.0),  # 5 s into the period that starts 20 s into the file
    ]
    log.write_text("start_utc,end_utc,label\n2024-05-01T12:30:00Z,2024-05-01T12:30:01Z,up\n")
    with pytest.raises(AnnotationError, match=r"log.csv: line 2: 2024-05-01T12:30:00\+00:00 is held by no recording"):
        annotated_recordings(log, audio, {"up": "upcall"}, [])
    log.write_text("start_utc,end_utc,label\nyesterday,2024-05-01T12:30:01Z,up\n")
    with pytest.raises(AnnotationError, match=r"line 2: column 'start_utc': 'yesterday' is no ISO 8601 time"):
        annotated_recordings(log, audio, {"up": "upcall"}, [])


@pytest.mark.shared
def test_edge_train_evaluate_scores_a_utc_log_of_the_narw_day_as_its_csv(tmp_path, capsys):
    """The NARW day's 53 upcalls logged in UTC (its files' starts from their names) give the
    shipped bundle the events its CSV gives."""
    from tests.support.data import DEPLOYMENTS, ROOT, shared_path
    from training.annotations import read_csv
    from training.cli.train import main

    data = shared_path("meridian-osmose-narw", "task-2a", "data", "train")
    rows = ["start_utc,end_utc,label"]
    for a in read_csv(data / "annotations_train.csv"):
        stamp = a.file.rsplit("_", 2)
        start = dt.datetime.strptime(stamp[1] + stamp[2][:6], "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        rows.append(
            f"{(start + dt.timedelta(seconds=a.start_s)).isoformat()},{(start + dt.timedelta(seconds=a.end_s)).isoformat()},{a.label}"
        )
    log = tmp_path / "day.csv"
    log.write_text("\n".join(rows) + "\n")
    common = [
        "--config",
        str(DEPLOYMENTS / "narw-upcall.yaml"),
        "--audio-dir",
        str(data / "narw"),
        "--label",
        "1=upcall",
    ]
    events = {}
    for kind, table in (("csv", data / "annotations_train.csv"), ("utc", log)):
        out = tmp_path / f"{kind}.json"
        with pytest.raises(SystemExit) as info:
            main(
                ["evaluate", str(ROOT / "models" / "narw-upcall"), "--annotations", str(table), *common, "-o", str(out)]
            )
        assert info.value.code == 0, capsys.readouterr().err
        events[kind] = json.loads(out.read_text())["events"]["overall"]
    assert events["utc"] == events["csv"] and events["csv"]["tp"] + events["csv"]["fn"] == 53


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("log.csv", "start_utc,end_utc,label\n2024-05-01T12:00:30Z,2024-05-01T12:00:31Z,up\n"),
        (
            "log.xml",
            '<Detections xmlns="http://tethys.sdsu.edu/schema/1.0"><OnEffort><Detection>'
            "<Start>2024-05-01T12:00:30Z</Start><End>2024-05-01T12:00:31Z</End><SpeciesId>1</SpeciesId>"
            "</Detection></OnEffort></Detections>",
        ),
        ("triton.csv", "Species Code,Call,Start time,End time\nEg,Upcall,2024-05-01 12:00:30,2024-05-01 12:00:31\n"),
    ],
)
def test_a_utc_log_over_recordings_without_start_times_is_refused_at_once(tmp_path, name, text):
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "clip.wav", np.zeros(2000), 2000)  # no time in its name or metadata
    log = tmp_path / name
    log.write_text(text)
    with pytest.raises(AnnotationError, match=r"UTC times need the recordings' start times, and no recording has one"):
        annotated_recordings(log, audio, None, [])
