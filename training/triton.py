"""Triton logs: the detections an analyst logged in Scripps' Triton (the logger of HARP data,
and of the Tethys workflow), one per row with its ``Species Code``, ``Call``, ``Start time``
and ``End time`` in UTC, kept as an Excel workbook (``.xlsx``, its ``Detections`` sheet) or
saved from one as CSV.

Each row becomes the annotations of the recordings holding its times
(:func:`training.annotations.utc_annotation`).  Its label is ``CODE:CALL`` (``Eg:Upcall``), or
the code alone when the row names no call; a recipe's ``labels:`` may map either
(``{"Eg:Upcall": upcall}`` for one call type, ``{"Eg": upcall}`` for all of a species').
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from training.annotations import (
    _check,
    _first_line,
    _text,
    csv_delimiter,
    need_start_times,
    species_call_label,
    utc_annotation,
    utc_or_none,
)
from training.types import Annotation, AnnotationError, Stretch

TRITON_COLUMNS = ("Species Code", "Start time", "End time")  # "Call" too, where the log has it
SHEET = "Detections"  # the sheet Triton's logger writes detections to
XLSX_HINT = 'pip install "pamedge[train]" (openpyxl, which reads Excel workbooks)'
# Excel's day 0 (its serial dates count days from here; 1900's phantom 29 February lies before
# any recording)
EXCEL_EPOCH = dt.datetime(1899, 12, 30, tzinfo=dt.timezone.utc)
_EXCEL_DAYS = (3653.0, 2958465.0)  # 1910 to 9999: a number outside is no date


def is_triton_log(path: Path) -> bool:
    """An Excel workbook, or a CSV whose header names Triton's columns."""
    if path.suffix.lower() == ".xlsx":
        return True
    if path.is_dir() or path.suffix.lower() == ".txt":
        return False
    try:
        line = _first_line(path)
        head = next(csv.reader([line], delimiter=csv_delimiter(line)), [])
    except (OSError, csv.Error):
        return False
    return set(TRITON_COLUMNS) <= {c.strip() for c in head}


def read_triton(
    path: str | Path,
    *,
    timeline: Sequence[Stretch],
    labels: Mapping[str, str] | None = None,
    durations: Mapping[str, float] | None = None,
) -> list[Annotation]:
    """Annotations from a Triton log (module docstring); ``timeline``: the recordings'
    stretches in UTC (:func:`training.sources.timeline`)."""
    path = Path(path)
    need_start_times(path, timeline)
    out: list[Annotation] = []
    try:
        for line, row in _rows(path):
            where = f"{path}: {'row' if path.suffix.lower() == '.xlsx' else 'line'} {line}"
            if not any(str(v).strip() for v in row.values() if v is not None):
                continue  # a blank row between logging sessions
            start, end = _time(row, "Start time", where), _time(row, "End time", where)
            label = _label(row, labels, where)
            parts = utc_annotation(start, end, 0.0, float("inf"), label, timeline, where)
            out += [_check(a, where, durations) for a in parts]
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot read: {exc.strerror}") from None
    return out


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The log's rows by its header's names, with their line (CSV) or row (sheet) numbers."""
    if path.suffix.lower() != ".xlsx":
        with _text(path) as fh:
            reader = csv.DictReader(fh, delimiter=csv_delimiter(fh.readline()))
            fh.seek(0)
            _columns(reader.fieldnames, path, "line 1")
            for row in reader:
                yield reader.line_num, {k.strip(): v for k, v in row.items() if k is not None}
        return
    try:
        import openpyxl
    except ImportError:
        raise AnnotationError(
            f"{path}: an Excel workbook needs openpyxl, which is not installed: {XLSX_HINT}"
        ) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zipfile's, KeyError and its own kinds for a bad file
        raise AnnotationError(f"{path}: not a readable Excel workbook ({type(exc).__name__}: {exc})") from None
    try:
        sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [str(c).strip() if c is not None else "" for c in next(rows, ())]
        _columns(header, path, f"sheet {sheet.title!r} row 1")
        for number, values in enumerate(rows, start=2):
            yield number, dict(zip(header, values))
    finally:
        book.close()


def _columns(fields: Sequence[str] | None, path: Path, where: str) -> None:
    found = [f.strip() for f in fields or []]
    missing = [c for c in TRITON_COLUMNS if c not in found]
    if missing:
        raise AnnotationError(
            f"{path}: {where}: missing Triton column(s) {', '.join(map(repr, missing))} (found: {', '.join(found)})"
        )


def _time(row: Mapping[str, Any], column: str, where: str) -> dt.datetime:
    """A cell's UTC time: a workbook's date cell, an Excel serial date, or ISO 8601 text; to the
    millisecond (an Excel date is a fraction of a day: Triton's logs hold milliseconds)."""
    value = row.get(column)
    t: dt.datetime | None = None
    if isinstance(value, dt.datetime):
        t = value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        t = _serial(float(value))
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        t = utc_or_none(text)
        if t is None:
            try:
                t = _serial(float(text.replace(",", ".")))  # a decimal comma's serial date too
            except ValueError:
                t = None
    if t is None:
        shown = "an empty cell" if value is None or str(value).strip() == "" else repr(value)
        raise AnnotationError(
            f"{where}: column {column!r}: {shown} is no UTC time (ISO 8601 such as 2009-03-29 12:16:05.250, or an "
            "Excel date; a date saved as 3/29/2009 is ambiguous: save the log as .xlsx or the times as ISO 8601)"
        )
    return t + dt.timedelta(microseconds=round(t.microsecond, -3) - t.microsecond)


def _serial(days: float) -> dt.datetime | None:
    if not math.isfinite(days) or not _EXCEL_DAYS[0] <= days <= _EXCEL_DAYS[1]:
        return None
    return EXCEL_EPOCH + dt.timedelta(days=days)


def _label(row: Mapping[str, Any], labels: Mapping[str, str] | None, where: str) -> str:
    code = str(row.get("Species Code") or "").strip()
    call = str(row.get("Call") or "").strip()
    if not code:
        raise AnnotationError(f"{where}: column 'Species Code' is empty")
    return species_call_label(code, call, labels, where)
