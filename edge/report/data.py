"""What the report shows, gathered from the files of an output folder.

``detections.csv`` of a season can hold millions of rows, so it is streamed once: counts
per label, per file and per UTC time bin, and a bounded heap of the strongest detections per
label are all that is kept.  ``levels.csv`` is read in two passes, the first to see which
band columns hold values, the second to keep only the few bands charted.  No matplotlib.
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import itertools
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge import _validate as v
from edge.errors import PamedgeError
from edge.timestamps import CONTIGUOUS_S, parse_start, parse_utc, stretches

UTC = dt.timezone.utc
# Detection-count bins by the span of the recordings: a half-hour run in one hourly bar
# says nothing, a season in hourly bars is unreadable.
BIN_LADDER = (
    (dt.timedelta(hours=2), dt.timedelta(minutes=5), "5 min"),
    (dt.timedelta(hours=8), dt.timedelta(minutes=15), "15 min"),
    (dt.timedelta(days=14), dt.timedelta(hours=1), "hour"),
    (None, dt.timedelta(days=1), "day"),
)
# Decidecade bands charted when present, in order of preference: 63 and 125 Hz are the
# shipping-noise indicator bands of the EU Marine Strategy Framework Directive, the others
# spread the picture over the spectrum.
PREFERRED_BANDS_HZ = (63.0, 125.0, 1000.0, 250.0, 4000.0, 500.0, 2000.0, 16000.0, 8000.0)


@dataclass(frozen=True)
class ReportSettings:
    """What the page holds."""

    top_per_label: int = 10  # rows of the top-detections table per label
    max_overviews: int = 12  # per-file overview images embedded; the others are linked
    n_bands: int = 3  # decidecade bands charted beside the broadband level

    def __post_init__(self) -> None:
        v.integer("top_per_label", self.top_per_label, minimum=0)
        v.integer("max_overviews", self.max_overviews, minimum=0)
        v.integer("n_bands", self.n_bands, minimum=0)


@dataclass(frozen=True)
class FileEntry:
    """One recording as ``run.json`` lists it."""

    file: str
    status: str
    reason: str
    audio_s: float
    start: dt.datetime | None  # for a failed recording, from its name when it carries a time
    detections: int
    raven: str  # path relative to OUTDIR, "" when none
    hydrophone: str
    full_scale_spl_db: float | None
    warnings: tuple[str, ...]
    ranking: tuple[tuple[str, float, int], ...] = ()  # (label, score, windows), most probable first
    periods: tuple[tuple[float, dt.datetime], ...] = ()  # a duty-cycled recording's (run.json "periods")

    @property
    def spans(self) -> tuple[tuple[dt.datetime, dt.datetime], ...]:
        """Each stretch it recorded, (start, end) in UTC: one, or a duty-cycled recording's
        periods; none when the start time is unknown."""
        if self.start is None:
            return ()
        return tuple((start, end) for _, start, end in stretches(self.start, self.audio_s, self.periods))

    @property
    def end(self) -> dt.datetime | None:
        return self.spans[-1][1] if self.spans else None

    @property
    def span(self) -> tuple[dt.datetime, dt.datetime] | None:
        """(start, end) in UTC, None when the start time is unknown."""
        return (self.spans[0][0], self.spans[-1][1]) if self.spans else None


@dataclass(frozen=True)
class DetectionRow:
    """The columns of one ``detections.csv`` row the page shows; times as written."""

    file: str
    label: str
    start_utc: str
    start_s: str
    end_s: str
    low_hz: float
    high_hz: float
    score: float
    snr_db: float
    received_level_db: float
    clicks: int = 0  # a click train's count and median inter-click interval
    ici_s: float = math.nan

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity shared with ``plots/index.json`` thumbnails."""
        return (self.file, self.label, self.start_s)

    def strength(self) -> tuple[float, float, float]:
        """Larger is stronger: score when classified, else SNR; received level breaks ties."""
        score, snr, level = (
            x if math.isfinite(x) else -math.inf for x in (self.score, self.snr_db, self.received_level_db)
        )
        return score, snr, level


@dataclass(frozen=True)
class LevelSeries:
    """Noise levels to chart: x is UTC period centres when every period has a start time,
    else hours of audio in file order.  NaN rows separate stretches that are not contiguous."""

    times: tuple[dt.datetime | None, ...] | None
    audio_h: tuple[float, ...]
    broadband: tuple[float, ...]
    bands: dict[str, tuple[float, ...]]
    rows: int


@dataclass
class SoundscapeSeries:
    """HMD levels per UTC minute over the run's days, on a subset of the bands (log-spaced,
    at most ``n`` of them: a month of every band would not fit a report's memory)."""

    times: list[dt.datetime]
    centres: list[float]  # Hz
    db: list[list[float]]  # per minute, per kept band, dB re 1 uPa^2/Hz (NaN: no level)
    effort_s: list[float]


@dataclass
class RunData:
    outdir: Path
    run: dict[str, Any]
    files: list[FileEntry]
    label_counts: dict[str, int] = field(default_factory=dict)
    file_label_counts: dict[str, Counter[str]] = field(default_factory=dict)
    bin_width: dt.timedelta = dt.timedelta(hours=1)
    bin_unit: str = "hour"
    binned: dict[str, Counter[dt.datetime]] = field(default_factory=dict)  # label -> {UTC bin start: count}
    untimed_detections: int = 0
    top: dict[str, list[DetectionRow]] = field(default_factory=dict)
    levels: LevelSeries | None = None
    thumbnails: dict[tuple[str, str, str], Path] = field(default_factory=dict)
    overviews: dict[str, Path] = field(default_factory=dict)
    score_counts: dict[str, list[int]] = field(default_factory=dict)  # class -> windows per score bin (scores.csv)
    score_windows: int = 0
    soundscape: SoundscapeSeries | None = None  # soundscape/hmd_*.csv (edge-detect --outputs hmd)

    @property
    def ok(self) -> list[FileEntry]:
        return [f for f in self.files if f.status == "ok"]

    @property
    def failed(self) -> list[FileEntry]:
        return [f for f in self.files if f.status != "ok"]

    @property
    def labels(self) -> list[str]:
        return sorted(self.label_counts)


def _float(text: str | None) -> float:
    """A CSV number; empty, unparsable and infinite values (digital silence) are NaN."""
    try:
        value = float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def load(outdir: str | Path, *, settings: ReportSettings = ReportSettings()) -> RunData:
    """Everything the page needs from ``outdir``; raises :class:`PamedgeError` naming the
    file when ``run.json`` is missing or unreadable (the other files may be absent)."""
    outdir = Path(outdir)
    run_path = outdir / "run.json"
    try:
        run = json.loads(run_path.read_text())
    except FileNotFoundError:
        if not (outdir / "detections.csv").exists():
            raise PamedgeError(f"{outdir}: no run.json and no detections.csv (not an output folder)") from None
        run = _run_from_detections(outdir / "detections.csv")
        if (outdir / HEALTH_CSV).is_file():  # edge-shore export --health beside it: the buoys' effort
            _effort_from_health(run, outdir / HEALTH_CSV)
    except (OSError, ValueError) as exc:
        raise PamedgeError(f"{run_path}: cannot read: {exc}") from None
    if not isinstance(run, dict) or not isinstance(run.get("files"), list):
        raise PamedgeError(f"{run_path}: no 'files' list: not a run.json written by edge-detect")
    data = RunData(outdir, run, [_file_entry(f) for f in run["files"]])
    data.bin_width, data.bin_unit = choose_bin(data.ok)
    _read_detections(data, outdir / "detections.csv", settings.top_per_label)
    data.levels = read_levels(outdir / "levels.csv", data.files, n_bands=settings.n_bands)
    _read_plot_index(data, outdir / "plots" / "index.json")
    _read_scores(data, outdir / "scores.csv")
    data.soundscape = read_soundscape(outdir / "soundscape")
    return data


SOUNDSCAPE_BANDS = 160  # bands kept for the long-term spectral average and the SPD


def read_soundscape(folder: Path, n: int = SOUNDSCAPE_BANDS) -> SoundscapeSeries | None:
    """The daily HMD tables of ``folder``, in day order, on the widest day's bands: headers
    first, then each table's rows streamed, keeping ``n`` bands of each (memory holds those,
    not every band of every minute)."""
    paths = []
    for path in sorted(folder.glob("hmd_*.csv")) if folder.is_dir() else []:
        with open(path, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), None)
        if header and header[:2] == ["time_utc", "effort_s"]:
            paths.append((path, header[2:]))
    if not paths:
        return None
    names = max((h for _, h in paths), key=len)
    freqs = [float(x) for x in names]
    keep = sorted({min(range(len(freqs)), key=lambda i: abs(math.log(freqs[i] / f))) for f in _log_spaced(freqs, n)})
    series = SoundscapeSeries([], [freqs[i] for i in keep], [], [])
    for path, _ in paths:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = csv.reader(fh)
            next(rows)
            for row in rows:
                t = parse_utc(row[0])
                if t is None:
                    continue
                series.times.append(t)
                series.effort_s.append(_float(row[1]))
                values = row[2:]
                series.db.append([_float(values[i]) if i < len(values) else math.nan for i in keep])
    return series


def _log_spaced(freqs: list[float], n: int) -> list[float]:
    lo, hi = math.log(freqs[0]), math.log(freqs[-1])
    return [math.exp(lo + (hi - lo) * k / max(1, n - 1)) for k in range(n)]


SCORE_BINS = 20  # of width 0.05 over [0, 1]
SCORE_FIRST_COLUMN = "head"  # scores.csv: the class columns follow it


def _read_scores(data: RunData, path: Path) -> None:
    """Windows per score bin and class from ``scores.csv`` (read row by row)."""
    if not path.is_file():
        return
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or SCORE_FIRST_COLUMN not in header:
            return
        first = header.index(SCORE_FIRST_COLUMN) + 1
        classes = header[first:]
        counts = {c: [0] * SCORE_BINS for c in classes}
        for row in reader:
            data.score_windows += 1
            for c, text in zip(classes, row[first:]):
                value = _float(text)
                if not math.isnan(value):
                    counts[c][min(SCORE_BINS - 1, max(0, int(value * SCORE_BINS)))] += 1
    data.score_counts = {c: n for c, n in counts.items() if any(n)}


def choose_bin(files: list[FileEntry]) -> tuple[dt.timedelta, str]:
    """Width and name of the detection-count bins for recordings spanning what ``files`` do."""
    spans = [s for s in (f.span for f in files) if s is not None]
    span = max(e for _, e in spans) - min(s for s, _ in spans) if spans else dt.timedelta(0)
    for up_to, width, unit in BIN_LADDER:
        if up_to is None or span <= up_to:
            return width, unit
    raise AssertionError("the ladder ends with an open rung")


def floor_to(t: dt.datetime, width: dt.timedelta) -> dt.datetime:
    """The start of the bin of ``width`` holding ``t``; bins are aligned on UTC midnight."""
    midnight = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + ((t - midnight) // width) * width


HEALTH_CSV = "health.csv"  # edge-shore export --health health.csv


def _run_from_detections(path: Path) -> dict[str, Any]:
    """A stand-in for ``run.json`` when a folder holds only ``detections.csv`` (a shore
    database export, say): one entry per recording named in it, its start taken from the
    first detection's UTC time less its offset, its length from the last detection's end
    (a lower bound: the page says effort and failures are unknown); the deployments, config
    hashes, models and calibrations the records name (their identity columns)."""
    files: dict[str, dict[str, Any]] = {}
    identity: dict[str, set[str]] = {"deployment": set(), "config_hash": set(), "model": set()}
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for key, seen in identity.items():
                if row.get(key):
                    seen.add(row[key])
            f = files.setdefault(
                row["file"],
                {"file": row["file"], "status": "ok", "reason": "", "audio_s": 0.0, "detections": 0, "start_utc": ""},
            )
            f["detections"] += 1
            f["audio_s"] = max(
                f["audio_s"], _float(row.get("end_s")) if math.isfinite(_float(row.get("end_s"))) else 0.0
            )
            start = parse_utc(row.get("start_utc"))
            offset = _float(row.get("start_s"))
            if start is not None and math.isfinite(offset) and not f["start_utc"]:
                f["start_utc"] = (start - dt.timedelta(seconds=offset)).isoformat()
            if row.get("hydrophone") or row.get("calibration_db"):
                f["calibration"] = {
                    "hydrophone": row.get("hydrophone", ""),
                    "full_scale_spl_db": _float(row.get("calibration_db")),
                }
    run: dict[str, Any] = {
        "files": list(files.values()),
        "detections_only": True,
        "note": f"no run.json: built from {path.name} alone; recording lengths are lower bounds "
        "(the last detection's end) and failed recordings are unknown",
    }
    if identity["deployment"] or identity["config_hash"]:
        run["config"] = {
            "source": f"the records' identity columns ({path.name})",
            "hash": ", ".join(sorted(identity["config_hash"])) or "not recorded",
            "settings": {"name": ", ".join(sorted(identity["deployment"]))},
        }
    run["model"] = {"identity": ", ".join(sorted(identity["model"]))} if identity["model"] else None
    return run


def _effort_from_health(run: dict[str, Any], path: Path) -> None:
    """Effort from the buoys' health records (``edge-shore export --health``): each period
    between two health rows of a deployment is listened to for its ``period_processed_s``,
    so the page's effort is what the buoys processed, not the span of their detections."""
    periods = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            end = parse_utc(row.get("utc"))
            period, processed = _float(row.get("period_s")), _float(row.get("period_processed_s"))
            if end is None or not (period > 0 and processed >= 0):
                continue
            start = end - dt.timedelta(seconds=period)
            periods.append(
                {
                    "file": f"{row.get('deployment', '?')} health {row.get('seq', '?')}",
                    "status": "ok",
                    "reason": "",
                    "audio_s": min(processed, period),
                    "detections": int(n) if math.isfinite(n := _float(row.get("period_detections"))) else 0,
                    "start_utc": start.isoformat(),
                }
            )
    if periods:
        run["files"] = periods
        run["note"] = (
            f"no run.json: detections from detections.csv, effort from {path.name} (the buoys' health "
            "periods: the seconds each period processed); failed recordings are unknown"
        )


def _file_entry(f: dict[str, Any]) -> FileEntry:
    cal = f.get("calibration") or {}
    start = parse_utc(f.get("start_utc"))
    if start is None and f.get("status") != "ok":
        start = parse_start(f.get("file", ""))[0]  # where a failed recording would have been
    return FileEntry(
        str(f.get("file", "")),
        str(f.get("status", "failed")),
        str(f.get("reason", "")),
        float(f.get("audio_s") or 0.0),
        start,
        int(f.get("detections") or 0),
        str(f.get("raven", "")),
        str(cal.get("hydrophone", "")),
        cal.get("full_scale_spl_db"),
        tuple(f.get("warnings") or ()),
        tuple((str(r["label"]), float(r["score"]), int(r["windows"])) for r in f.get("ranking") or ()),
        tuple((float(b), t) for b, text in f.get("periods") or () if (t := parse_utc(text)) is not None),
    )


def _read_detections(data: RunData, path: Path, top_n: int) -> None:
    if not path.exists():
        return
    heaps: dict[str, list[Any]] = {}
    order = itertools.count()  # ties keep file order, so the page is the same on every run
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            d = DetectionRow(
                row["file"],
                row["label"],
                row.get("start_utc", ""),
                row["start_s"],
                row["end_s"],
                _float(row.get("low_hz")),
                _float(row.get("high_hz")),
                _float(row.get("score")),
                _float(row.get("snr_db")),
                _float(row.get("received_level_db")),
                int(row.get("clicks") or 0),
                _float(row.get("ici_s")),
            )
            data.label_counts[d.label] = data.label_counts.get(d.label, 0) + 1
            data.file_label_counts.setdefault(d.file, Counter())[d.label] += 1
            start = parse_utc(d.start_utc)
            if start is None:
                data.untimed_detections += 1
            else:
                data.binned.setdefault(d.label, Counter())[floor_to(start, data.bin_width)] += 1
            if top_n:
                heap = heaps.setdefault(d.label, [])
                item = (d.strength(), -next(order), d)
                (heapq.heappush if len(heap) < top_n else heapq.heappushpop)(heap, item)
    data.top = {label: [item[2] for item in sorted(heap, reverse=True)] for label, heap in sorted(heaps.items())}


def band_hz(name: str) -> float:
    """``band_31.5hz`` -> 31.5."""
    return float(name[len("band_") : -len("hz")])


def choose_bands(names: list[str], n: int) -> list[str]:
    """Up to ``n`` band columns: preferred centres first, then spread over what is left;
    returned low to high."""
    by_hz = {band_hz(name): name for name in names}
    chosen = [by_hz[hz] for hz in PREFERRED_BANDS_HZ if hz in by_hz][:n]
    rest = [name for hz, name in sorted(by_hz.items()) if name not in chosen]
    while len(chosen) < n and rest:
        if not chosen:
            pick = rest[len(rest) // 2]
        else:  # the band farthest, in log frequency, from those already chosen
            pick = max(rest, key=lambda r: min(abs(math.log(band_hz(r) / band_hz(c))) for c in chosen))
        rest.remove(pick)
        chosen.append(pick)
    return sorted(chosen, key=band_hz)


def read_levels(path: Path, files: list[FileEntry], *, n_bands: int) -> LevelSeries | None:
    """The broadband and a few band levels of ``levels.csv``; None when it has no rows."""
    if not path.exists():
        return None
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        band_names = [c for c in reader.fieldnames or () if c.startswith("band_") and c.endswith("hz")]
        filled: Counter[str] = Counter()
        rows = 0
        for row in reader:
            rows += 1
            filled.update(c for c in band_names if row.get(c))
    if rows == 0:
        return None
    bands = choose_bands([c for c in band_names if filled[c] * 2 >= rows], n_bands)
    audio_before: dict[str, float] = {}
    total = 0.0
    for f in files:  # files laid end to end, in run order, when times are unknown
        if f.status == "ok":
            audio_before[f.file] = total
            total += f.audio_s
    times: list[dt.datetime | None] = []
    audio_h: list[float] = []
    broadband: list[float] = []
    values: dict[str, list[float]] = {b: [] for b in bands}
    prev_end: dt.datetime | None = None
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            start, start_s, duration = (
                parse_utc(row.get("start_utc")),
                _float(row["start_s"]),
                _float(row["duration_s"]),
            )
            if start is not None and prev_end is not None and (start - prev_end).total_seconds() > CONTIGUOUS_S:
                times.append(None)  # a gap: the line breaks here instead of bridging it
                audio_h.append(math.nan)
                broadband.append(math.nan)
                for b in bands:
                    values[b].append(math.nan)
            prev_end = start + dt.timedelta(seconds=duration) if start is not None else None
            times.append(start + dt.timedelta(seconds=duration / 2) if start is not None else None)
            audio_h.append((audio_before.get(row["file"], 0.0) + start_s + duration / 2) / 3600)
            broadband.append(_float(row["broadband_db"]))
            for b in bands:
                values[b].append(_float(row.get(b)))
    timed = all(t is not None for t, bb in zip(times, broadband) if not math.isnan(bb))
    return LevelSeries(
        tuple(times) if timed else None,
        tuple(audio_h),
        tuple(broadband),
        {b: tuple(vals) for b, vals in values.items()},
        rows,
    )


def _read_plot_index(data: RunData, path: Path) -> None:
    try:
        index = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    for t in index.get("thumbnails", []):
        png = data.outdir / t["png"]
        if png.exists():
            data.thumbnails[(t["file"], t["label"], t["start_s"])] = png
    for o in index.get("overviews", []):
        png = data.outdir / o["png"]
        if png.exists():
            data.overviews[o["file"]] = png
