"""A minimal edge-detect output folder as any producer writes it, for the report tests."""

from __future__ import annotations

import datetime as dt
import json

UTC = dt.timezone.utc


HEADER = "file,channel,start_utc,start_s,end_s,low_hz,high_hz,label,score,snr_db,received_level_db\n"


def write_outdir(path, files, detections="", levels=None):
    """A minimal output folder as any producer (edge-detect, a cluster run, a shore export) writes it."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "run.json").write_text(json.dumps({"files": files}))
    (path / "detections.csv").write_text(HEADER + detections)
    if levels is not None:
        (path / "levels.csv").write_text(levels)
    return path


def ok(name, start, audio_s=900.0, detections=0):
    return {
        "file": name,
        "status": "ok",
        "reason": "",
        "audio_s": audio_s,
        "start_utc": start,
        "detections": detections,
    }
