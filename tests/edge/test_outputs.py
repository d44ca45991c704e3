"""edge.outputs: detections CSV, Raven selection tables, levels CSV, atomic writes."""

from __future__ import annotations

import csv
import io
import os

import numpy as np
import pytest

from edge.outputs import (
    DETECTION_COLUMNS,
    LEVEL_COLUMNS,
    RAVEN_COLUMNS,
    csv_text,
    detection_row,
    level_row,
    raven_table,
    write_atomic,
)
from edge.types import Detection, LevelRow

NAN = float("nan")


def detection(**changes) -> Detection:
    values = dict(
        file="rec/20090328_001500.wav",
        channel=0,
        start_utc="2009-03-28T00:15:10.250Z",
        start_s=10.25,
        end_s=11.5004,
        low_hz=42.96875,
        high_hz=230.46875,
        label="roi",
        score=NAN,
        snr_db=27.4435,
        received_level_db=118.004,
        head="",
        deployment="narw-upcall",
        model="",
        config_hash="abcd",
        hydrophone="default",
        calibration_db=170.0,
    )
    values.update(changes)
    return Detection(**values)


def test_raven_header_is_exactly_ravens():
    text = raven_table([])
    assert text == (
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\t"
        "Label\tScore\tSNR (dB)\tReceived Level (dB re 1 uPa)\tBegin UTC\tClicks\tICI (s)\n"
    )


def test_raven_rows_number_from_1_with_1_based_channels_and_empty_nan():
    text = raven_table([detection(), detection(channel=1, start_s=20.0, end_s=21.0, score=0.91234)])
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == 4
    assert lines[1].split("\t") == [
        "1",
        "Spectrogram 1",
        "1",
        "10.250",
        "11.500",
        "43.0",
        "230.5",
        "roi",
        "",
        "27.44",
        "118.00",
        "2009-03-28T00:15:10.250Z",
        "",
        "",
    ]
    assert lines[2].split("\t") == [
        "2",
        "Spectrogram 1",
        "2",
        "20.000",
        "21.000",
        "43.0",
        "230.5",
        "roi",
        "0.9123",
        "27.44",
        "118.00",
        "2009-03-28T00:15:10.250Z",
        "",
        "",
    ]
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    assert all(len(r) == len(RAVEN_COLUMNS) for r in rows)


def test_detection_row_formats_with_fixed_precision():
    row = detection_row(detection(received_level_db=float("-inf")))
    assert dict(zip(DETECTION_COLUMNS, row)) == {
        "file": "rec/20090328_001500.wav",
        "channel": "0",
        "start_utc": "2009-03-28T00:15:10.250Z",
        "start_s": "10.250",
        "end_s": "11.500",
        "low_hz": "43.0",
        "high_hz": "230.5",
        "label": "roi",
        "score": "",
        "snr_db": "27.44",
        "received_level_db": "-inf",
        "head": "",
        "deployment": "narw-upcall",
        "model": "",
        "config_hash": "abcd",
        "hydrophone": "default",
        "calibration_db": "170.00",
        "clicks": "",
        "ici_s": "",
    }
    assert len(row) == len(DETECTION_COLUMNS)


def test_a_click_train_carries_its_click_count_and_ici_in_every_table():
    train = detection(label="sperm", clicks=14, ici_s=0.84567)
    row = dict(zip(DETECTION_COLUMNS, detection_row(train)))
    assert (row["clicks"], row["ici_s"]) == ("14", "0.8457")
    raven = list(csv.DictReader(io.StringIO(raven_table([train, detection()])), delimiter="\t"))
    assert [(r["Clicks"], r["ICI (s)"]) for r in raven] == [("14", "0.8457"), ("", "")]


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


LONG_STEM = "北大西洋露脊鯨上行叫声记录" * 6 + "一二"  # 80 CJK characters, 240 bytes: a legal file name


def test_unique_stems_cut_long_names_at_a_character_and_tag_shared_ones(tmp_path):
    from edge.outputs import STEM_BYTES, unique_stems

    long = tmp_path / f"{LONG_STEM}.wav"
    a, b = tmp_path / "d1" / "x.wav", tmp_path / "d2" / "x.wav"
    stems = unique_stems([long, a, b, tmp_path / "y.wav"])
    assert len(stems[long].encode()) <= STEM_BYTES and stems[long].startswith(LONG_STEM[:40])
    stems[long].encode().decode()  # whole characters only
    assert stems[a] != stems[b] and stems[a].startswith("x_") and stems[tmp_path / "y.wav"] == "y"


def test_write_atomic_next_to_a_name_at_the_limit(tmp_path):
    path = tmp_path / ("a" * 250 + ".txt")  # 254 bytes: ".NAME.tmp" would not fit
    write_atomic(path, "x\n")
    assert path.read_text() == "x\n" and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_edge_detect_with_an_80_character_cjk_recording_name(tmp_path, write_audio, rng):
    """Issue 15, case 2: one such recording made the Raven temp file fail and the whole run
    write nothing."""
    from click.testing import CliRunner

    from edge.cli.detect import main

    x = rng.normal(0, 0.01, 2000 * 60)
    x[60000:62000] += 0.3 * np.sin(2 * np.pi * 150 * np.arange(2000) / 2000)
    write_audio(f"rec/{LONG_STEM}.wav", x, 2000)
    write_audio("rec/short.wav", x, 2000)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [str(tmp_path / "rec"), "-o", str(out), "--no-model", "-q"])
    assert result.exit_code == 0, result.output
    tables = sorted(p.name for p in (out / "raven").iterdir())
    assert len(tables) == 3 and "all.selections.txt" in tables and all(len(t.encode()) <= 255 for t in tables)
    assert (out / "detections.csv").is_file() and (out / "run.json").is_file()
    rows = list(csv.DictReader(io.StringIO((out / "detections.csv").read_text())))
    assert {os.path.basename(r["file"]) for r in rows} == {f"{LONG_STEM}.wav", "short.wav"}


def test_a_newline_in_a_file_name_does_not_split_its_failed_line(tmp_path):
    """Issue 15, case 17: 'x\\nfailed: forged.wav' as a name printed two lines."""
    from click.testing import CliRunner

    from edge.cli.detect import main

    bad = tmp_path / "rec" / "x\nfailed: forged.wav"
    bad.parent.mkdir()
    bad.write_bytes(b"not audio")
    result = CliRunner().invoke(main, [str(tmp_path / "rec"), "-o", str(tmp_path / "out"), "--no-model", "-q"])
    lines = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    assert len(lines) == 1 and "x\\nfailed: forged.wav" in lines[0], result.stderr


def test_the_run_level_raven_table_opens_every_recording_on_one_time_line(tmp_path, write_audio):
    """raven/all.selections.txt: Raven's selection-table columns plus Begin Path (the sound
    file, absolute), File Offset (s) (the time in it) and Begin File; Begin Time on the time line
    of the recordings laid end to end in run order, as Raven opens a list of files."""
    from click.testing import CliRunner

    from edge.cli.detect import main
    from tests.support.daemon import RATE, upcalls

    rng = np.random.default_rng(12)
    names = ["site_20240501_120000.wav", "site_20240501_120100.wav"]
    for name in names:
        write_audio(name, upcalls(60.0, rng, calls_per_min=8), RATE, folder=tmp_path / "rec")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, [str(tmp_path / "rec"), "-o", str(out), "--config", "narw-upcall", "--no-model", "-q"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO((out / "raven" / "all.selections.txt").read_text()), delimiter="\t"))
    assert list(rows[0])[:7] == [
        "Selection",
        "View",
        "Channel",
        "Begin Time (s)",
        "End Time (s)",
        "Low Freq (Hz)",
        "High Freq (Hz)",
    ]
    assert list(rows[0])[-3:] == ["Begin Path", "File Offset (s)", "Begin File"]
    assert [int(r["Selection"]) for r in rows] == list(range(1, len(rows) + 1))
    per_file = {
        n: list(csv.DictReader(io.StringIO((out / "raven" / f"{n[:-4]}.selections.txt").read_text()), delimiter="\t"))
        for n in names
    }
    assert len(rows) == sum(map(len, per_file.values())) > 2
    offsets = {names[0]: 0.0, names[1]: 60.0}
    for row in rows:
        name = row["Begin File"]
        assert row["Begin Path"] == str(tmp_path / "rec" / name) and os.path.isfile(row["Begin Path"])
        mine = next(r for r in per_file[name] if r["Begin Time (s)"] == row["File Offset (s)"])
        assert float(row["Begin Time (s)"]) == pytest.approx(float(mine["Begin Time (s)"]) + offsets[name], abs=0.001)
        assert float(row["End Time (s)"]) - float(row["Begin Time (s)"]) == pytest.approx(
            float(mine["End Time (s)"]) - float(mine["Begin Time (s)"]), abs=0.002
        )
        assert (row["Low Freq (Hz)"], row["High Freq (Hz)"], row["Label"]) == (
            mine["Low Freq (Hz)"],
            mine["High Freq (Hz)"],
            mine["Label"],
        )
