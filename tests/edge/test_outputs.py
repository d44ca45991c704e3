"""edge.outputs: detections CSV, Raven selection tables, levels CSV, atomic writes."""

from __future__ import annotations

import csv
import io
import os

import pytest

from edge.outputs import DETECTION_COLUMNS, LEVEL_COLUMNS, RAVEN_COLUMNS, csv_text, detection_row, level_row, raven_table, write_atomic
from edge.types import Detection, LevelRow

NAN = float("nan")


def detection(**changes) -> Detection:
    values = dict(file="rec/20090328_001500.wav", channel=0, start_utc="2009-03-28T00:15:10.250Z", start_s=10.25,
                  end_s=11.5004, low_hz=42.96875, high_hz=230.46875, label="roi", score=NAN, snr_db=27.4435,
                  received_level_db=118.004, head="", deployment="narw-upcall", model="", config_hash="abcd",
                  hydrophone="default", calibration_db=170.0)
    values.update(changes)
    return Detection(**values)


def test_raven_header_is_exactly_ravens():
    text = raven_table([])
    assert text == ("Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\t"
                    "Label\tScore\tSNR (dB)\tReceived Level (dB re 1 uPa)\tBegin UTC\n")


def test_raven_rows_number_from_1_with_1_based_channels_and_empty_nan():
    text = raven_table([detection(), detection(channel=1, start_s=20.0, end_s=21.0, score=0.91234)])
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == 4
    assert lines[1].split("\t") == ["1", "Spectrogram 1", "1", "10.250", "11.500", "43.0", "230.5", "roi", "",
                                    "27.44", "118.00", "2009-03-28T00:15:10.250Z"]
    assert lines[2].split("\t") == ["2", "Spectrogram 1", "2", "20.000", "21.000", "43.0", "230.5", "roi",
                                    "0.9123", "27.44", "118.00", "2009-03-28T00:15:10.250Z"]
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    assert all(len(r) == len(RAVEN_COLUMNS) for r in rows)


def test_detection_row_formats_with_fixed_precision():
    row = detection_row(detection(received_level_db=float("-inf")))
    assert dict(zip(DETECTION_COLUMNS, row)) == {
        "file": "rec/20090328_001500.wav", "channel": "0", "start_utc": "2009-03-28T00:15:10.250Z",
        "start_s": "10.250", "end_s": "11.500", "low_hz": "43.0", "high_hz": "230.5", "label": "roi", "score": "",
        "snr_db": "27.44", "received_level_db": "-inf", "head": "", "deployment": "narw-upcall", "model": "",
        "config_hash": "abcd", "hydrophone": "default", "calibration_db": "170.00"}
    assert len(row) == len(DETECTION_COLUMNS)


def test_level_row_appends_bands():
    row = level_row(LevelRow("f.wav", "2022-07-16T02:14:53Z", 60.0, 30.0, 154.5897, (120.0, NAN, 99.999)))
    assert row == ["f.wav", "2022-07-16T02:14:53Z", "60.000", "30.000", "154.59", "120.00", "", "100.00"]
    assert LEVEL_COLUMNS == ("file", "start_utc", "start_s", "duration_s", "broadband_db")


def test_csv_text_quotes_what_needs_quoting():
    text = csv_text(("a", "b"), [["x,y", 'say "hi"'], ["plain", ""]])
    assert text == 'a,b\n"x,y","say ""hi"""\nplain,\n'
    assert list(csv.reader(io.StringIO(text))) == [["a", "b"], ["x,y", 'say "hi"'], ["plain", ""]]
    assert csv_text(None, [["1"]]) == "1\n"


def test_same_input_gives_identical_bytes():
    detections = [detection(), detection(start_s=1 / 3, end_s=2 / 3)]
    assert raven_table(detections) == raven_table(list(detections))
    assert [detection_row(d) for d in detections][1][3:5] == ["0.333", "0.667"]


def test_write_atomic_replaces_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "out" / "detections.csv"
    write_atomic(target, "first\n")
    assert target.read_text() == "first\n"
    write_atomic(target, "second, longer content\nwith ünïcode\n")
    assert target.read_bytes() == "second, longer content\nwith ünïcode\n".encode()
    assert sorted(os.listdir(target.parent)) == ["detections.csv"]


def test_write_atomic_keeps_newlines_as_written(tmp_path):
    target = tmp_path / "raven.txt"
    write_atomic(target, "a\tb\r\nc\n")
    assert target.read_bytes() == b"a\tb\r\nc\n"


def test_write_atomic_failure_keeps_the_old_content(tmp_path):
    target = tmp_path / "levels.csv"
    write_atomic(target, "old\n")
    with pytest.raises(TypeError):
        write_atomic(target, None)  # fails while writing the temporary file
    assert target.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["levels.csv"]
