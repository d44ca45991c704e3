"""Exports of the shore database in the analyst formats of ``edge-detect``: the columns of
``detections.csv`` and Raven selection tables, one per deployment and UTC day."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from edge.outputs import DETECTION_COLUMNS, csv_text, detection_row, raven_table, write_atomic
from shore.store import ShoreStore


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
