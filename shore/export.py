"""Exports of the shore database in the analyst formats of ``edge-detect``: the columns of
``detections.csv`` and Raven selection tables, one per deployment and UTC day; and the buoy
daemon's health and effort records, with each period's effort."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from edge.outputs import DETECTION_COLUMNS, csv_text, detection_row, raven_table, write_atomic
from shore.store import ShoreStore

# the columns of edge-run's health table (less level_reason, which frames do not carry), then
# the period since the deployment's previous health row (empty when that row has not arrived)
HEALTH_COLUMNS = (
    "deployment",
    "seq",
    "utc",
    "event",
    "uptime_s",
    "level",
    "recorded_s",
    "processed_s",
    "backlog_s",
    "dropped_s",
    "gaps_s",
    "clipped_pct",
    "noise_db",
    "realtime_factor",
    "disk_free_mb",
    "audio_mb",
    "cpu_temp_c",
    "battery_v",
    "files",
    "detections",
    "period_s",
    "period_recorded_s",
    "period_processed_s",
    "period_detections",
)


def export_csv(store: ShoreStore, path: str | Path) -> int:
    rows = [detection_row(d) for d in store.records()]
    write_atomic(Path(path), csv_text(DETECTION_COLUMNS, rows))
    return len(rows)


def export_raven(store: ShoreStore, folder: str | Path) -> list[Path]:
    """``<deployment>_<YYYYMMDD>.selections.txt``; Begin Time is seconds from 00:00 UTC
    (file-relative records go to ``<deployment>_file-relative.selections.txt``)."""
    tables = defaultdict(list)
    for d in store.records():
        day = d.start_utc[:10].replace("-", "") if d.start_utc else "file-relative"
        tables[f"{d.deployment}_{day}.selections.txt"].append(d)
    written = []
    for name, dets in sorted(tables.items()):
        write_atomic(Path(folder) / name, raven_table(dets))
        written.append(Path(folder) / name)
    return written


def _num(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.4f}".rstrip("0")


def export_health_csv(store: ShoreStore, path: str | Path) -> int:
    """The health rows (:data:`HEALTH_COLUMNS`), by deployment and sequence; a row's period
    columns are its differences from the deployment's previous row, so a period with
    ``period_processed_s`` near ``period_s`` and no detections was listened to and quiet."""
    rows, prev = [], None
    for deployment, h in store.health():
        p = prev[1] if prev and prev[0] == deployment and prev[1].seq == h.seq - 1 else None
        period = (
            [
                h.time_s - p.time_s,
                h.recorded_s - p.recorded_s,
                h.processed_s - p.processed_s,
                h.detections - p.detections,
            ]
            if p
            else [None] * 4
        )
        rows.append(
            [
                deployment,
                str(h.seq),
                h.utc,
                h.event,
                _num(h.uptime_s),
                h.level,
                *(_num(getattr(h, c)) for c in HEALTH_COLUMNS[6:20]),
                *map(_num, period),
            ]
        )
        prev = (deployment, h)
    write_atomic(Path(path), csv_text(HEALTH_COLUMNS, rows))
    return len(rows)
