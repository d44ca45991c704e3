"""Bytes per detection of the telemetry frames (docs/reference/frames.md) on a detection log.

    edge-detect ../shared/data/real/meridian-osmose-narw/task-2a/data/train/narw -o narw-out \\
        --no-model --config firmware-config/deployments/narw-upcall.yaml
    python benchmarks/bench_frames.py narw-out/detections.sqlite

Packs every record at the SBD budget (340 bytes), as ``edge-sync pack`` does (an identity
frame before each run of records with one model / config hash / hydrophone / calibration),
then a "day" of 1,000 detections made by repeating the log's records shifted in time (same
spacing and values), and prints frames, bytes and bytes per detection (header, tag and the
identity frames included). A log holding click trains is measured also with the trains' click
counts and ICIs left out (the records as tonal ones), side by side: what carrying them costs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys

from edge.log import DetectionLog
from edge.sync.frames import KIND_IDENTITY, SBD_MO_BYTES, pack_all, utc_seconds

KEY = bytes(range(32))


def measure(records, deployment: str) -> tuple[int, int, int, int]:
    frames = pack_all(records, deployment=deployment, key=KEY, max_bytes=SBD_MO_BYTES)
    identity = sum(len(f) for f in frames if f[0] & 0x0F == KIND_IDENTITY)
    return len(records), len(frames), sum(map(len, frames)), identity


def day_of(records, n: int = 1000):
    dets = [d for _, d in records]
    span = utc_seconds(dets[-1].start_utc) - utc_seconds(dets[0].start_utc) + 60
    out = []
    for rep in range(n // len(dets) + 1):
        for d in dets:
            t = dt.datetime.fromisoformat(d.start_utc.replace("Z", "+00:00")) + dt.timedelta(seconds=rep * span)
            out.append(dataclasses.replace(d, start_utc=t.isoformat(timespec="milliseconds").replace("+00:00", "Z")))
    return list(enumerate(out[:n], 1))


def main(path: str) -> None:
    with DetectionLog(path) as log:
        for deployment in log.deployments():
            records = log.read(deployment)
            variants = [("log", records)]
            if all(d.start_utc for _, d in records):  # a day is laid out on their UTC times
                variants.append(("1,000-detection day", day_of(records)))
            if any(d.clicks for _, d in records):
                tonal = [(s, dataclasses.replace(d, clicks=0, ici_s=float("nan"))) for s, d in records]
                variants.append(("log without the trains' clicks and ICI", tonal))
            for name, recs in variants:
                n, frames, total, identity = measure(recs, deployment)
                print(
                    f"{deployment} {name}: {n} detections -> {frames} SBD frames, {total} bytes "
                    f"({identity} in identity frames), {total / n:.2f} bytes/detection, "
                    f"{total / frames:.0f} bytes/frame"
                )


if __name__ == "__main__":
    main(sys.argv[1])
