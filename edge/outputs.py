"""Writers for the analyst formats: detections CSV, Raven selection tables, levels CSV.

Numbers are formatted with fixed precision so that two runs over the same input produce
byte-identical files (``--resume`` relies on it): times to the millisecond, frequencies to
0.1 Hz, dB to 0.01 dB, scores to 1e-4.  Missing values are empty fields.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from edge._extras import installed
from edge.types import DETECTION_FIELDS, ClickRecord, Detection, LevelRow, Rank, WindowScore

P = TypeVar("P", str, Path)

DETECTION_COLUMNS = DETECTION_FIELDS
LEVEL_COLUMNS = ("file", "start_utc", "start_s", "duration_s", "broadband_db")
RAVEN_RUN_EXTRA = ("Begin Path", "File Offset (s)", "Begin File")
RAVEN_COLUMNS = (
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
    "Label",
    "Score",
    "SNR (dB)",
    "Received Level (dB re 1 uPa)",
    "Begin UTC",
    "Clicks",
    "ICI (s)",
)
# raven/all.selections.txt: every recording's selections on one time line, each saying which
# file it is in and where (Raven opens the sound files a table names in Begin Path)
RAVEN_RUN_COLUMNS = (*RAVEN_COLUMNS, *RAVEN_RUN_EXTRA)
RAVEN_RUN_TABLE = "all.selections.txt"  # in raven/, beside each recording's own table
RANKING_COLUMNS = ("file", "channel", "rank", "label", "score", "windows")
# scores.csv: these, then one column per class of the model (empty where a head lacks it)
SCORE_COLUMNS = (
    "file",
    "channel",
    "roi_start_s",
    "roi_end_s",
    "low_hz",
    "high_hz",
    "snr_db",
    "received_level_db",
    "window_start_s",
    "window_end_s",
    "head",
)


def _fmt(value: float, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    return f"{value:.{digits}f}"


def detection_row(d: Detection) -> list[str]:
    return [
        d.file,
        str(d.channel),
        d.start_utc,
        _fmt(d.start_s, 3),
        _fmt(d.end_s, 3),
        _fmt(d.low_hz, 1),
        _fmt(d.high_hz, 1),
        d.label,
        _fmt(d.score, 4),
        _fmt(d.snr_db, 2),
        _fmt(d.received_level_db, 2),
        d.head,
        d.deployment,
        d.model,
        d.config_hash,
        d.hydrophone,
        _fmt(d.calibration_db, 2),
        *_train(d),
    ]


def _train(d: Detection) -> list[str]:
    """A click train's click count and median ICI (to 0.1 ms, as click times); empty otherwise."""
    return [str(d.clicks), _fmt(d.ici_s, 4)] if d.clicks else ["", ""]


def ranking_rows(file: str, channel: int, ranking: Sequence[Rank], top_k: int) -> list[list[str]]:
    """A recording's rows of ``ranking.csv``: its ``top_k`` most probable classes."""
    return [
        [file, str(channel), str(i), r.label, _fmt(r.score, 4), str(r.windows)]
        for i, r in enumerate(ranking[:top_k], 1)
    ]


def score_row(s: WindowScore, classes: Sequence[str]) -> list[str]:
    """A row of ``scores.csv`` (times and levels as in detections.csv, scores to 1e-6:
    finer than the detections' 1e-4, so a threshold applied afterwards decides as the run did)."""
    return [
        s.file,
        str(s.channel),
        _fmt(s.roi_start_s, 3),
        _fmt(s.roi_end_s, 3),
        _fmt(s.low_hz, 1),
        _fmt(s.high_hz, 1),
        _fmt(s.snr_db, 2),
        _fmt(s.received_level_db, 2),
        _fmt(s.start_s, 3),
        _fmt(s.end_s, 3),
        s.head,
        *[_fmt(s.scores[c], 6) if c in s.scores else "" for c in classes],
    ]


CLICK_COLUMNS = tuple(f.name for f in fields(ClickRecord))


def click_row(c: ClickRecord) -> list[str]:
    """A row of ``clicks.csv`` (times to 0.1 ms: clicks are tens of microseconds long)."""
    return [
        c.file,
        str(c.channel),
        _fmt(c.train_start_s, 3),
        _fmt(c.time_s, 4),
        _fmt(c.duration_s, 6),
        _fmt(c.peak_hz, 1),
        _fmt(c.centroid_hz, 1),
        _fmt(c.low3_hz, 1),
        _fmt(c.high3_hz, 1),
        _fmt(c.low10_hz, 1),
        _fmt(c.high10_hz, 1),
        _fmt(c.received_level_db, 2),
        _fmt(c.snr_db, 2),
        c.type,
    ]


def level_row(row: LevelRow) -> list[str]:
    return [
        row.file,
        row.start_utc,
        _fmt(row.start_s, 3),
        _fmt(row.duration_s, 3),
        _fmt(row.broadband_db, 2),
        *(_fmt(b, 2) for b in row.bands_db),
    ]


def csv_text(header: Sequence[str] | None, rows: Iterable[Sequence[str]], *, delimiter: str = ",") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def audacity_labels(detections: Sequence[Detection]) -> str:
    """An Audacity label track (File > Import > Labels): per detection ``start<TAB>end<TAB>label
    score``, then Audacity's frequency line ``\\<TAB>low<TAB>high`` (spectral selection)."""
    lines = []
    for d in detections:
        text = d.label if math.isnan(d.score) else f"{d.label} {d.score:.2f}"
        lines.append(f"{_fmt(d.start_s, 6)}\t{_fmt(d.end_s, 6)}\t{text}")
        lines.append(f"\\\t{_fmt(d.low_hz, 1)}\t{_fmt(d.high_hz, 1)}")
    return "".join(line + "\n" for line in lines)


def raven_table(detections: Sequence[Detection]) -> str:
    """A Raven Pro selection table (tab-separated; channels count from 1 in Raven)."""
    return csv_text(RAVEN_COLUMNS, raven_rows(detections), delimiter="\t")


def raven_rows(
    detections: Sequence[Detection], *, first: int = 1, offset_s: float = 0.0, path: str | None = None
) -> list[list[str]]:
    """Selection-table rows numbered from ``first``; with ``path``, the run-level table's
    columns too: times on the run's time line (``offset_s``: the recording's start on it),
    ``Begin Path``, ``File Offset (s)`` and ``Begin File`` (:data:`RAVEN_RUN_COLUMNS`)."""
    rows = []
    for i, d in enumerate(detections, start=first):
        row = [
            str(i),
            "Spectrogram 1",
            str(d.channel + 1),
            _fmt(d.start_s + offset_s, 3),
            _fmt(d.end_s + offset_s, 3),
            _fmt(d.low_hz, 1),
            _fmt(d.high_hz, 1),
            d.label,
            _fmt(d.score, 4),
            _fmt(d.snr_db, 2),
            _fmt(d.received_level_db, 2),
            d.start_utc,
            *_train(d),
        ]
        if path is not None:
            row += [path, _fmt(d.start_s, 3), os.path.basename(path)]
        rows.append(row)
    return rows


def write_synced(path: Path, text: str) -> None:
    """``text`` into ``path``, on the disk when this returns."""
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that ``path`` holds either the old or the whole new content,
    even if the process is killed or the power is cut."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # a fixed-length temporary name: ".NAME.tmp" of a name near the 255-byte limit cannot be created
    tmp = path.with_name(f".{hashlib.sha1(path.name.encode()).hexdigest()[:16]}.tmp")
    try:
        write_synced(tmp, text)
        os.replace(tmp, path)
    except BaseException:  # a full card or an interrupt: leave no half-written temporary behind
        tmp.unlink(missing_ok=True)
        raise


class StagedFiles:
    """A set of outputs written under temporary names in ``folder`` and renamed into place
    together by :meth:`commit`: a failure while writing any of them (a full card) leaves the
    previous set, or none, and :meth:`discard` leaves no temporary behind."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.staged: list[tuple[Path, Path]] = []

    def path(self, name: str) -> Path:
        """The temporary path standing for ``folder/name`` until the commit (fixed length: a
        name near the 255-byte limit still has one)."""
        tmp = self.folder / f".{hashlib.sha1(name.encode()).hexdigest()[:16]}.staged"
        tmp.unlink(missing_ok=True)  # an earlier run's, killed before its commit
        self.staged.append((tmp, self.folder / name))
        return tmp

    def text(self, name: str, text: str) -> None:
        write_synced(self.path(name), text)

    def commit(self) -> None:
        for tmp, final in self.staged:
            os.replace(tmp, final)
        self.staged = []

    def discard(self) -> None:
        for tmp, _ in self.staged:
            for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
                leftover.unlink(missing_ok=True)
        self.staged = []


STEM_BYTES = 150  # of an output's stem: room for the suffixes below the 255-byte name limit


def output_tag(path: str | Path) -> str:
    """The short hash of a recording's absolute path that :func:`unique_stems` appends."""
    return "_" + hashlib.sha1(os.path.abspath(path).encode()).hexdigest()[:8]


def unique_stems(paths: Sequence[P], *, max_bytes: int = STEM_BYTES) -> dict[P, str]:
    """A file-name stem per recording (keys as given) for its outputs (Raven table, plots).
    A stem shared by two recordings (the same name in two date folders) gets a short hash of
    the path, and so does one longer than ``max_bytes`` in UTF-8 (cut at a character
    boundary first): 80 CJK characters are a legal recording name, not a legal output name."""
    counts: dict[str, int] = {}
    for p in paths:
        counts[Path(p).stem] = counts.get(Path(p).stem, 0) + 1
    stems: dict[P, str] = {}
    for p in paths:
        stem, tag = Path(p).stem, output_tag(p)
        if len(stem.encode()) > max_bytes:
            stems[p] = stem.encode()[: max_bytes - len(tag)].decode(errors="ignore") + tag
        else:
            stems[p] = stem + ("" if counts[stem] == 1 else tag)
    return stems


PARQUET_HINT = "pip install 'pamedge[parquet]'"


def have_pyarrow() -> bool:
    return installed("pyarrow")


# scores.csv's columns that WindowScore names otherwise
_SCORE_FIELDS = {"window_start_s": "start_s", "window_end_s": "end_s"}


class ScoresParquet:
    """``scores.parquet``: the rows and columns of ``scores.csv``, typed (scores as float32,
    null where a head has no such class), written a recording at a time (one row group
    each), so memory holds one recording's scores."""

    def __init__(self, path: Path, classes: Sequence[str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self.classes = list(classes)
        types = {"file": pa.string(), "channel": pa.int32(), "head": pa.string()}
        self.schema = pa.schema(
            [
                *((name, types.get(name, pa.float64())) for name in SCORE_COLUMNS),
                *((c, pa.float32()) for c in self.classes),
            ]
        )
        self._writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")

    def write(self, scores: Sequence[WindowScore]) -> None:
        if not scores:
            return
        columns: dict[str, list[Any]] = {
            name: [getattr(s, _SCORE_FIELDS.get(name, name)) for s in scores] for name in SCORE_COLUMNS
        }
        for c in self.classes:
            columns[c] = [s.scores.get(c) for s in scores]
        self._writer.write_table(self._pa.table(columns, schema=self.schema))

    def close(self) -> None:
        self._writer.close()
