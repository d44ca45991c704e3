"""Triton logs (Species Code, Call, Start time, End time in UTC) as annotations: an Excel
workbook's Detections sheet and the same log saved as CSV give the same annotations of the
recordings holding its times; codes and calls mapped to classes; what cannot be read refused
with the file and row named."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import soundfile as sf

from training.sources import annotated_recordings
from training.triton import EXCEL_EPOCH, is_triton_log
from training.types import AnnotationError

openpyxl = pytest.importorskip("openpyxl", reason="openpyxl (pamedge[train]) reads Excel workbooks")

UTC = dt.timezone.utc
NOON = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
HEADER = ["Input file", "Event Number", "Species Code", "Call", "Start time", "End time", "Parameters", "Comments"]


@pytest.fixture
def audio(tmp_path):
    """Two one-minute recordings end to end, named by their starts."""
    rng = np.random.default_rng(11)
    folder = tmp_path / "audio"
    folder.mkdir()
    for name in ("20240501_120000.wav", "20240501_120100.wav"):
        sf.write(folder / name, 0.01 * rng.standard_normal(60 * 2000), 2000)
    return folder


def workbook(path, rows, *, sheet="Detections", header=HEADER, first_sheet=None):
    book = openpyxl.Workbook()
    if first_sheet:  # Triton's workbook holds its MetaData and Effort sheets beside the detections
        book.active.title = first_sheet
        ws = book.create_sheet(sheet)
    else:
        ws = book.active
        ws.title = sheet
    ws.append(header)
    for row in rows:
        ws.append(row)
    book.save(path)
    return path


def at(seconds):
    return (NOON + dt.timedelta(seconds=seconds)).replace(tzinfo=None)  # Excel dates have no zone: UTC


def found(log, audio, labels):
    anns = annotated_recordings(log, audio, labels, [])
    return sorted((p.split("/")[-1], a.start_s, a.end_s, a.label) for p, items in anns.items() for a in items)


def test_a_workbook_and_its_csv_give_the_same_annotations(tmp_path, audio):
    rows = [
        ["x.x.wav", at(30), "Eg", "Upcall", at(30), at(31.25), "", ""],
        [None] * 8,  # a blank row between logging sessions
        ["x.x.wav", at(59.5), "Eg", "Upcall", at(59.5), at(60.5), "", "over the file boundary"],
        ["x.x.wav", at(70), "Mn", "", at(70), at(72), "", ""],  # no call type: the code alone
    ]
    book = workbook(tmp_path / "log.xlsx", rows, first_sheet="MetaData")
    labels = {"Eg:Upcall": "upcall", "Mn": "humpback"}
    expected = [
        ("20240501_120000.wav", 30.0, 31.25, "upcall"),
        ("20240501_120000.wav", 59.5, 60.0, "upcall"),
        ("20240501_120100.wav", 0.0, 0.5, "upcall"),
        ("20240501_120100.wav", 10.0, 12.0, "humpback"),
    ]
    assert is_triton_log(book) and found(book, audio, labels) == expected
    # saved as CSV with ISO 8601 times, and with Excel's serial dates
    for kind in ("iso", "serial"):
        csv = tmp_path / f"log-{kind}.csv"
        lines = [",".join(HEADER)]
        for row in rows:
            if row[2] is None:
                lines.append("," * 7)
                continue
            start, end = (
                (row[4].isoformat(sep=" "), row[5].isoformat(sep=" "))
                if kind == "iso"
                else tuple(repr((t.replace(tzinfo=UTC) - EXCEL_EPOCH) / dt.timedelta(days=1)) for t in (row[4], row[5]))
            )
            lines.append(f'x.x.wav,{row[1]},{row[2]},{row[3]},{start},{end},,"{row[7]}"')
        csv.write_text("\n".join(lines) + "\n")
        assert is_triton_log(csv) and found(csv, audio, labels) == expected, kind
    # a spreadsheet set to a decimal comma saves semicolons between cells
    semi = tmp_path / "log-semicolons.csv"
    semi.write_text(
        (tmp_path / "log-serial.csv").read_text().replace(",", ";").replace(".", ",").replace("x,x,wav", "x.x.wav")
    )
    assert is_triton_log(semi) and found(semi, audio, labels) == expected
    # a species' code maps all its calls
    assert {label for *_, label in found(book, audio, {"Eg": "upcall", "Mn": "humpback"})} == {"upcall", "humpback"}
    assert found(book, audio, None)[0][3] == "Eg:Upcall"


def test_what_a_log_cannot_say_is_refused_by_row(tmp_path, audio):
    log = workbook(
        tmp_path / "a.xlsx", [["f", None, "Eg", "Upcall", at(1), at(2)], ["f", None, "Bm", "D", at(3), at(4)]]
    )
    with pytest.raises(AnnotationError, match=r"a.xlsx: row 3: unknown label 'Bm:D' \(known: Eg\)"):
        found(log, audio, {"Eg": "upcall"})
    log = workbook(tmp_path / "b.xlsx", [["f", None, "Eg", "Upcall", at(1), None]])
    with pytest.raises(AnnotationError, match=r"b.xlsx: row 2: column 'End time': an empty cell is no UTC time"):
        found(log, audio, None)
    log = workbook(tmp_path / "c.xlsx", [["f", None, "Eg", "Upcall", at(600), at(601)]])
    with pytest.raises(AnnotationError, match=r"c.xlsx: row 2: 2024-05-01T12:10:00\+00:00 is held by no recording"):
        found(log, audio, None)
    log = workbook(tmp_path / "d.xlsx", [["f", at(1), at(2)]], header=["Input file", "Start time", "End time"])
    with pytest.raises(
        AnnotationError, match=r"d.xlsx: sheet 'Detections' row 1: missing Triton column\(s\) 'Species Code'"
    ):
        found(log, audio, None)
    csv = tmp_path / "e.csv"
    csv.write_text(",".join(HEADER) + "\nf,1,Eg,Upcall,5/1/2024 12:00:01,5/1/2024 12:00:02,,\n")
    with pytest.raises(
        AnnotationError, match=r"e.csv: line 2: column 'Start time': '5/1/2024 12:00:01' is no UTC time.*ambiguous"
    ):
        found(csv, audio, None)
    bad = tmp_path / "f.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(AnnotationError, match=r"f.xlsx: not a readable Excel workbook"):
        found(bad, audio, None)
