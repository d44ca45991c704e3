"""Annotation readers: Raven selection tables, Audacity label tracks and the CSV of
``annotations_train.csv``.

All give :class:`~training.types.Annotation` lists and reject a bad file with its path and
line named (line 1 is the header): missing columns, unparsable numbers, end before start,
low above high frequency, times past the recording's end, labels outside the known set.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from edge.timestamps import CONTIGUOUS_S, parse_utc
from training.types import Annotation, AnnotationError, AnnotationNote, Stretch

CSV_COLUMNS = ("filename", "start", "end", "freq_min", "freq_max", "label")
CSV_REQUIRED = ("filename", "start", "end", "label")  # frequency bounds are optional (DCLDE-2013 truth has none)
UTC_REQUIRED = ("start_utc", "end_utc", "label")  # a log of UTC times (HARP data's Triton and Tethys logs)
RAVEN_COLUMNS = ("Begin Time (s)", "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)")
RAVEN_LABEL_COLUMNS = ("Label", "Annotation", "Species", "Call Type")


def _decode(data: bytes) -> str:
    """A table's bytes as text: UTF-8 (a spreadsheet's byte-order mark dropped), else Latin-1, as
    Windows tools save it (never a decoding error: a label's accent either way)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _text(path: str | Path) -> io.StringIO:
    """A table's text (:func:`_decode`), its line ends made ``\\n``."""
    return io.StringIO(_decode(Path(path).read_bytes()), newline=None)


def _first_line(path: str | Path) -> str:
    """A table's first line that is not blank, read alone (what kind of table it is), or ""."""
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                return _decode(line).rstrip("\r\n")
    return ""


def _labels(raw: str, labels: Mapping[str, str] | None, where: str) -> str:
    """Map a raw label through ``labels`` (raw -> class name); unknown raw labels fail."""
    raw = raw.strip()
    if labels is None:
        if not raw:
            raise AnnotationError(f"{where}: empty label")
        return raw
    if raw not in labels:
        raise AnnotationError(f"{where}: unknown label {raw!r} (known: {', '.join(sorted(labels))})")
    return labels[raw]


def species_call_label(species: str, call: str, labels: Mapping[str, str] | None, where: str) -> str:
    """A logged detection's label, ``SPECIES:CALL`` or the species alone when it names no call
    (Triton and Tethys logs), mapped through ``labels``, where the species alone maps all its calls."""
    raw = f"{species}:{call}" if call else species
    if labels is not None and raw not in labels and species in labels:
        raw = species
    return _labels(raw, labels, where)


def _number(row: Mapping[str, str], column: str, where: str, decimal_comma: bool = False) -> float:
    text = (row.get(column) or "").strip()
    try:
        value = float(text.replace(",", ".") if decimal_comma else text)
    except ValueError:
        raise AnnotationError(f"{where}: column {column!r} holds {text!r}, not a number") from None
    if not math.isfinite(value):  # a NaN time passes every comparison with the recording's length
        raise AnnotationError(f"{where}: column {column!r} holds {text!r}, not a finite number")
    return value


class RecordingLengths(dict):
    """Each recording's length (s) by the names annotations may give it: its path under the
    audio folder and, where no other recording there shares it, its file name; ``shared`` holds
    the file names several recordings share (two recorders' ``20240501_120000.WAV`` in folders
    of their own), each with their paths, so that such a name is refused, not taken for one of them."""

    def __init__(self, lengths: Mapping[str, float], shared: Mapping[str, tuple[str, ...]] | None = None) -> None:
        super().__init__(lengths)
        self.shared = dict(shared or {})


def _missing(file: str, durations: Mapping[str, float], where: str) -> AnnotationError:
    shared = getattr(durations, "shared", {}).get(_last(file))
    if shared:
        return AnnotationError(
            f"{where}: {len(shared)} recordings are named {_last(file)!r} ({', '.join(shared)}): "
            f"name it by its path under the audio folder"
        )
    return AnnotationError(f"{where}: recording {file!r} not found")


def _check(ann: Annotation, where: str, durations: Mapping[str, float] | None) -> Annotation:
    if ann.start_s < 0:
        raise AnnotationError(f"{where}: start {ann.start_s} is negative")
    if ann.end_s <= ann.start_s:
        raise AnnotationError(f"{where}: end {ann.end_s} is not after start {ann.start_s}")
    if ann.high_hz < ann.low_hz:
        raise AnnotationError(f"{where}: high frequency {ann.high_hz} is below low frequency {ann.low_hz}")
    if durations is not None:
        if ann.file not in durations:
            found = _by_path(ann.file, durations)
            if found is None:
                raise _missing(ann.file, durations, where)
            ann = replace(ann, file=found)
        if ann.end_s > durations[ann.file] + 1e-6:
            raise AnnotationError(
                f"{where}: end {ann.end_s} s is past the end of {ann.file} ({durations[ann.file]:.3f} s)"
            )
    return ann


def _header(fields: list[str] | None, needed: tuple[str, ...], path: Path) -> None:
    missing = [c for c in needed if c not in (fields or [])]
    if missing:
        raise AnnotationError(
            f"{path}: line 1: missing column(s) {', '.join(map(repr, missing))} (found: {', '.join(fields or [])})"
        )


def read_csv(
    path: str | Path,
    *,
    labels: Mapping[str, str] | None = None,
    durations: Mapping[str, float] | None = None,
    timeline: Sequence[Stretch] | None = None,
) -> list[Annotation]:
    """Annotations from a CSV with ``filename,start,end,label`` and optionally
    ``freq_min,freq_max`` (+ any other columns); without frequency columns an annotation
    spans the whole band (0 Hz to infinity: matching is by time).

    ``labels`` maps raw labels to class names (``{"1": "upcall"}``); ``durations`` maps each
    ``filename`` to its length in seconds, to reject times past the end.

    A log of UTC times instead (``start_utc,end_utc,label``, ISO 8601, no zone meaning UTC, as
    Triton and Tethys logs of HARP data keep them) is matched to the recordings holding those
    times, ``timeline`` (:func:`utc_annotation`)."""
    path = Path(path)
    try:
        with _text(path) as fh:
            head = fh.readline()
            fh.seek(0)
            delimiter = csv_delimiter(head)
            comma = delimiter == ";"
            reader = csv.DictReader(fh, delimiter=delimiter)
            by_utc = set(UTC_REQUIRED) <= set(reader.fieldnames or []) and "filename" not in (reader.fieldnames or [])
            _header(reader.fieldnames, UTC_REQUIRED if by_utc else CSV_REQUIRED, path)
            if by_utc:
                need_start_times(path, timeline)
            banded = {"freq_min", "freq_max"} <= set(reader.fieldnames or [])
            out = []
            for row in reader:
                where = f"{path}: line {reader.line_num}"
                low, high = (
                    (_number(row, "freq_min", where, comma), _number(row, "freq_max", where, comma))
                    if banded
                    else (0.0, float("inf"))
                )
                label = _labels(row["label"] or "", labels, where)
                if by_utc:
                    start, end = _utc(row, "start_utc", where), _utc(row, "end_utc", where)
                    parts = utc_annotation(start, end, low, high, label, timeline or (), where)
                    out += [_check(a, where, durations) for a in parts]
                    continue
                ann = Annotation(
                    row["filename"].strip(),
                    _number(row, "start", where, comma),
                    _number(row, "end", where, comma),
                    low,
                    high,
                    label,
                )
                out.append(_check(ann, where, durations))
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot read: {exc.strerror}") from None
    return out


def csv_delimiter(head: str) -> str:
    """A table's separator, from its header line: semicolons where a spreadsheet set to a
    decimal comma saved it (1,5;2,5), tabs, else commas."""
    return ";" if "," not in head and ";" in head else "\t" if "," not in head and "\t" in head else ","


def utc_or_none(text: str) -> dt.datetime | None:
    """``text`` as an ISO 8601 time in UTC (no zone: UTC), None when it is none."""
    try:
        return parse_utc(text) if text else None
    except ValueError:
        return None


def _utc(row: Mapping[str, str], column: str, where: str) -> dt.datetime:
    text = (row.get(column) or "").strip()
    t = utc_or_none(text)
    if t is None:
        raise AnnotationError(f"{where}: column {column!r}: {text!r} is no ISO 8601 time")
    return t


def need_start_times(path: Path, timeline: Sequence[Stretch] | None) -> None:
    """A log of UTC times is matched to the recordings by their start times: refused at once
    when no recording has one (rather than each event held by none)."""
    if not timeline:
        raise AnnotationError(
            f"{path}: UTC times need the recordings' start times, and no recording has one (from its name, as "
            "20240501_120000.wav, or its metadata: GUANO, bext, SoundTrap log, XWAV)"
        )


def utc_annotation(
    start: dt.datetime, end: dt.datetime, low: float, high: float, label: str, timeline: Sequence[Stretch], where: str
) -> list[Annotation]:
    """An event logged in UTC as annotations of the recordings holding it: one, or its part in
    each of consecutive recordings it runs over (a file boundary).  One that no recording
    holds, or that a gap in the recordings cuts, or that two recordings hold at once (two
    recorders), is an error naming it."""
    if end <= start:
        raise AnnotationError(f"{where}: end {end.isoformat()} is not after start {start.isoformat()}")
    holding = sorted((s for s in timeline if s.start <= start < s.end), key=lambda s: s.file)
    if len(holding) != 1:
        found = ", ".join(s.file for s in holding)
        raise AnnotationError(
            f"{where}: {start.isoformat()} is held by "
            + (
                f"{len(holding)} recordings ({found}): give each row's filename, start and end"
                if holding
                else "no recording"
            )
        )
    out, stretch = [], holding[0]
    while True:
        to = min(end, stretch.end)
        offset = stretch.offset_s + (start - stretch.start).total_seconds()
        out.append(Annotation(stretch.file, offset, offset + (to - start).total_seconds(), low, high, label))
        if end <= stretch.end + dt.timedelta(microseconds=1):
            return out
        start = stretch.end
        after = [s for s in timeline if abs((s.start - start).total_seconds()) <= CONTIGUOUS_S and s.end > start]
        if len(after) != 1:
            raise AnnotationError(
                f"{where}: runs on past the end of {stretch.file} at {start.isoformat()}, "
                + ("where no recording follows (a gap)" if not after else "where two recordings follow")
            )
        stretch = after[0]
        start = max(start, stretch.start)  # a recording starting a little after the last ended
        if end <= start:  # the event ends in that moment between them
            return out


def raven_recording(path: str | Path) -> str:
    """The recording a Raven table belongs to, by Raven's naming: ``REC.Table.1.selections.txt``
    or ``REC.selections.txt`` -> ``REC`` (a file stem; the audio may be .wav or .flac)."""
    name = Path(path).name
    for suffix in (".selections.txt", ".txt"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    head, sep, tail = name.rpartition(".Table.")
    return head if sep and tail.isdigit() else name


def _raven_reader(
    fh: io.StringIO, path: Path, needed: tuple[str, ...], label_column: str | None
) -> tuple[csv.DictReader, str | None]:
    """A Raven table's reader, its columns checked, and the column its labels come from:
    ``label_column`` (which must exist), else the first of :data:`RAVEN_LABEL_COLUMNS`, else None."""
    reader = csv.DictReader(fh, delimiter="\t")
    _header(reader.fieldnames, needed, path)
    if label_column is not None:
        _header(reader.fieldnames, (label_column,), path)
    return reader, label_column or next((c for c in RAVEN_LABEL_COLUMNS if c in (reader.fieldnames or [])), None)


def _no_label_column(path: Path, but: str = "") -> AnnotationError:
    return AnnotationError(f"{path}: line 1: no label column ({', '.join(RAVEN_LABEL_COLUMNS)}){but}")


def _selections(
    reader: csv.DictReader, path: Path, label_col: str | None, default_label: str | None, channel: int | None
) -> Iterator[tuple[dict[str, str], str, str]]:
    """Each selection's row, where it is (``PATH: line N``) and its raw label; Raven's waveform
    view duplicates each spectrogram view's selection, so only ``Spectrogram`` rows count.  With
    a ``Channel`` column (Raven's, from 1) and ``channel`` (the one analysed, from 0), only that
    channel's selections: a call drawn on another hydrophone's channel may not be heard on this
    one, or not then; those left out are said once (:class:`AnnotationNote`)."""
    others: dict[int, int] = {}
    for row in reader:
        if row.get("View") and not row["View"].startswith("Spectrogram"):
            continue
        where = f"{path}: line {reader.line_num}"
        if channel is not None and (row.get("Channel") or "").strip():
            number = row["Channel"].strip()
            if not number.isdigit() or int(number) < 1:
                raise AnnotationError(f"{where}: column 'Channel': {number!r} is not a channel number (1, 2, ...)")
            if int(number) != channel + 1:
                others[int(number)] = others.get(int(number), 0) + 1
                continue
        yield row, where, (row.get(label_col) if label_col else default_label) or ""
    if others:
        told = ", ".join(f"{n} on channel {c}" for c, n in sorted(others.items()))
        warnings.warn(
            AnnotationNote(
                f"{path}: {sum(others.values())} selections left out ({told}): the deployment analyses "
                f"channel {channel} (Raven's channel {channel + 1}; set the deployment's channel: to train on another)"
            ),
            stacklevel=2,
        )


def read_raven(
    path: str | Path,
    recording: str,
    *,
    labels: Mapping[str, str] | None = None,
    duration_s: float | None = None,
    default_label: str | None = None,
    label_column: str | None = None,
    channel: int | None = None,
) -> list[Annotation]:
    """Annotations of ``recording`` from a tab-separated Raven selection table.

    The label comes from ``label_column`` (which must exist) or else the first of ``Label``,
    ``Annotation``, ``Species``, ``Call Type`` present, else ``default_label``; Raven's
    spectrogram and waveform views duplicate each selection, so only ``Spectrogram`` rows are
    kept when a ``View`` column exists; with ``channel`` (from 0), only that channel's rows of a
    ``Channel`` column (Raven counts from 1)."""
    path = Path(path)
    durations = {recording: duration_s} if duration_s is not None else None
    try:
        with _text(path) as fh:
            reader, label_col = _raven_reader(fh, path, RAVEN_COLUMNS, label_column)
            if label_col is None and default_label is None:
                raise _no_label_column(path, " and no default label")
            out = []
            for row, where, raw in _selections(reader, path, label_col, default_label, channel):
                ann = Annotation(
                    recording,
                    _number(row, RAVEN_COLUMNS[0], where),
                    _number(row, RAVEN_COLUMNS[1], where),
                    _number(row, RAVEN_COLUMNS[2], where),
                    _number(row, RAVEN_COLUMNS[3], where),
                    _labels(raw, labels, where),
                )
                out.append(_check(ann, where, durations))
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot read: {exc.strerror}") from None
    return out


# edge-detect's Audacity labels carry the score after the label ("upcall 0.97")
_SCORE_SUFFIX = re.compile(r"\s+(?:0\.\d\d|1\.00)$")


def _label_line(line: str) -> tuple[float, float, str] | None:
    cells = line.rstrip("\r\n").split("\t")
    if len(cells) < 2:
        return None
    try:
        start, end = float(cells[0]), float(cells[1])
    except ValueError:
        return None
    return (start, end, "\t".join(cells[2:])) if math.isfinite(start) and math.isfinite(end) else None


def is_audacity_labels(path: str | Path) -> bool:
    """A text file whose first line is an Audacity label (``start<TAB>end[<TAB>text]``)."""
    try:
        return _label_line(_first_line(path)) is not None
    except OSError:
        return False


def read_audacity(
    path: str | Path,
    recording: str,
    *,
    labels: Mapping[str, str] | None = None,
    duration_s: float | None = None,
    default_label: str | None = None,
) -> list[Annotation]:
    """Annotations of ``recording`` from an Audacity label track (File > Export > Export
    Labels): ``start<TAB>end<TAB>text`` per label, each optionally followed by its spectral
    selection ``\\<TAB>low<TAB>high`` (without one a label spans the band: matching is by time).
    An empty text takes ``default_label``; a score after the label as edge-detect writes it
    (``upcall 0.97``) is not part of it."""
    path = Path(path)
    durations = {recording: duration_s} if duration_s is not None else None
    out: list[Annotation] = []
    try:
        with _text(path) as fh:
            lines = list(fh)
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot read: {exc.strerror}") from None
    pending: tuple[Annotation, str] | None = None

    def flush() -> None:
        if pending is not None:
            out.append(_check(*pending, durations))

    for number, line in enumerate(lines, start=1):
        where = f"{path}: line {number}"
        if not line.strip():
            continue
        if line.startswith("\\"):
            cells = line.rstrip("\r\n").split("\t")
            if pending is None or len(cells) < 3:
                raise AnnotationError(f"{where}: a frequency line (\\ low high) belongs after a label's line")
            try:
                low, high = float(cells[1]), float(cells[2])
            except ValueError:
                low = high = math.nan
            if not (math.isfinite(low) and math.isfinite(high)):
                raise AnnotationError(f"{where}: frequencies {cells[1]!r}, {cells[2]!r} are not numbers")
            ann, at = pending
            pending = (Annotation(ann.file, ann.start_s, ann.end_s, low, high, ann.label), at)
            continue
        flush()
        parsed = _label_line(line)
        if parsed is None:
            raise AnnotationError(f"{where}: not an Audacity label (start<TAB>end<TAB>label): {line.strip()[:40]!r}")
        start, end, text = parsed
        text = _SCORE_SUFFIX.sub("", text.strip()) or (default_label or "")
        ann = Annotation(recording, start, end, 0.0, float("inf"), _labels(text, labels, where))
        pending = (ann, where)
    flush()
    return out


# a Raven table over a sequence of recordings (Raven Pro's multi-file tables, and edge-detect's
# raven/all.selections.txt): each row names its recording and the time in it
MULTI_COLUMNS = ("Begin File", "File Offset (s)", "Begin Time (s)", "End Time (s)", "Low Freq (Hz)", "High Freq (Hz)")
VERDICT_COLUMN = "Verdict"
TRUE_VERDICTS = frozenset({"true", "yes", "y", "1", "correct", "tp"})
FALSE_VERDICTS = frozenset({"false", "no", "n", "0", "wrong", "fp"})


def is_multi_recording_table(path: str | Path) -> bool:
    """A tab-separated table naming each selection's recording (``Begin File``)."""
    try:
        return "Begin File" in _first_line(path).split("\t")
    except OSError:
        return False


def _verdict_label(
    row: Mapping[str, str], raw: str, negative: str, labels: Mapping[str, str] | None, where: str
) -> str | None:
    """A reviewed row's class, or None when it was not reviewed."""
    verdict = (row.get(VERDICT_COLUMN) or "").strip()
    if not verdict:
        return None
    if verdict.lower() in TRUE_VERDICTS:
        return _labels(raw, labels, where)
    if verdict.lower() in FALSE_VERDICTS:
        return negative
    return _labels(verdict, labels, where)


def _split_at_file_end(
    ann: Annotation, end_file: str, durations: Mapping[str, float] | None, where: str
) -> list[Annotation]:
    """A selection running past its recording's end into the next (``End File``): its part in
    each recording, since a call cut by a file boundary is in both."""
    if not end_file or end_file == ann.file or durations is None or ann.file not in durations:
        return [ann]
    length = durations[ann.file]
    if end_file not in durations:
        raise _missing(end_file, durations, f"{where}: End File")
    head = Annotation(ann.file, ann.start_s, min(ann.end_s, length), ann.low_hz, ann.high_hz, ann.label)
    spill = ann.end_s - length
    if spill <= 0:
        return [head]
    tail = Annotation(end_file, 0.0, spill, ann.low_hz, ann.high_hz, ann.label)
    return [head, tail]


def _last(path: str) -> str:
    """A path's file name, whether written on Windows or elsewhere."""
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _by_path(path: str, durations: Mapping[str, float]) -> str | None:
    """The recording a path names that is not its name under the audio folder (an absolute
    path, or one from the annotator's machine, Windows or not): by its file name, and where
    recordings in folders of their own share that, by the last folders of the path matching one
    recording's path under the audio folder; None when it names none."""
    name = _last(path)
    shared = getattr(durations, "shared", {}).get(name)
    if not shared:
        return name if name in durations else None
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    for k in range(2, len(parts) + 1):
        tail = "/".join(parts[-k:])
        matches = [rel for rel in shared if rel == tail or rel.endswith("/" + tail) or tail.endswith("/" + rel)]
        if len(matches) == 1:
            return matches[0]
    return None


def read_raven_multi(
    path: str | Path,
    *,
    negative: str,
    labels: Mapping[str, str] | None = None,
    durations: Mapping[str, float] | None = None,
    label_column: str | None = None,
    default_label: str | None = None,
    channel: int | None = None,
) -> list[Annotation]:
    """Annotations from a Raven table over several recordings: a Raven Pro table of a file
    sequence, or edge-detect's ``raven/all.selections.txt`` after an analyst's review.  Each
    selection's recording is ``Begin File`` (its name; ``Begin Path`` is the annotator's
    machine's), its times are ``File Offset (s)`` and its length; a selection running on into
    the next recording (``End File``) is split at the file boundary.

    Without a ``Verdict`` column every row is an annotation, labelled as :func:`read_raven`
    labels.  With one, the table is a review: true (yes, y, 1, correct, tp) keeps the row's
    label, false (no, n, 0, wrong, fp) makes it ``negative`` (a hard negative: a window the
    model must learn to reject), another word is the right label (through ``labels``), and an
    empty verdict leaves the row out (not reviewed).  ``channel``: as :func:`read_raven`."""
    path = Path(path)
    try:
        with _text(path) as fh:
            reader, label_col = _raven_reader(fh, path, MULTI_COLUMNS, label_column)
            reviewed = VERDICT_COLUMN in (reader.fieldnames or [])
            if label_col is None and reviewed:  # a review keeps or corrects each row's own label
                raise _no_label_column(path)
            if label_col is None and default_label is None:
                raise _no_label_column(path, " and no default label")
            out: list[Annotation] = []
            for row, where, raw in _selections(reader, path, label_col, default_label, channel):
                if reviewed:
                    label = _verdict_label(row, raw, negative, labels, where)
                    if label is None:
                        continue
                else:
                    label = _labels(raw, labels, where)
                offset = _number(row, "File Offset (s)", where)
                length = _number(row, "End Time (s)", where) - _number(row, "Begin Time (s)", where)
                recording = Path((row.get("Begin File") or "").strip()).name
                if not recording:
                    raise AnnotationError(f"{where}: empty 'Begin File'")
                if durations is not None and recording not in durations:  # a name recordings share
                    recording = _by_path(row.get("Begin Path") or "", durations) or recording
                ann = Annotation(
                    recording,
                    offset,
                    offset + length,
                    _number(row, "Low Freq (Hz)", where),
                    _number(row, "High Freq (Hz)", where),
                    label,
                )
                end_file = Path((row.get("End File") or "").strip()).name
                parts = _split_at_file_end(_check(ann, where, None), end_file, durations, where)
                out += [_check(part, where, durations) for part in parts]
    except OSError as exc:
        raise AnnotationError(f"{path}: cannot read: {exc.strerror}") from None
    return out
