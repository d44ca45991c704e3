"""Time series of a run for the charts: detections per UTC bin (an hour, or 5 min to a day
depending on the span; or per file when times are unknown) and effort.

A bar of zero detections means nothing unless the recorder was listening, so every bin
carries the seconds recorded in it, and the effort timeline shows the gaps.  When the
recordings are a few short clips spread over months (the demo's five clips span two
years), a time axis would be empty paper: the bins are then only the hours with effort,
as categories.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from edge.report.data import RunData, floor_to
from edge.timestamps import CONTIGUOUS_S

SPARSE_RATIO = 3  # categorical bins when fewer than 1 in 3 time bins hold any recording...
MAX_CATEGORIES = 200  # ...and there are few enough of them to label


@dataclass(frozen=True)
class DetectionBins:
    """Detection counts per bin and label.

    ``mode`` is ``"time"`` (consecutive UTC bins of ``width`` from ``starts[0]``),
    ``"sparse"`` (only the UTC bins that hold a recording, drawn as categories) or
    ``"file"`` (one bin per processed recording, ``starts`` are file names, when start
    times are not all known).
    """

    mode: str
    unit: str  # "5 min", "15 min", "hour", "day" or "file"
    starts: tuple[dt.datetime, ...] | tuple[str, ...]
    width: dt.timedelta | None
    counts: dict[str, tuple[int, ...]]
    effort_s: tuple[float, ...]


@dataclass(frozen=True)
class Effort:
    """When the recorder was listening: intervals of processed recordings (UTC), the gaps
    between contiguous stretches, failed recordings and recordings of unknown time."""

    intervals: tuple[tuple[dt.datetime, dt.datetime, str], ...]
    gaps: tuple[tuple[dt.datetime, dt.datetime], ...]
    failed: tuple[tuple[dt.datetime | None, str], ...]
    untimed: tuple[str, ...]
    recorded_s: float

    @property
    def span(self) -> tuple[dt.datetime, dt.datetime] | None:
        if not self.intervals:
            return None
        return self.intervals[0][0], max(end for _, end, _ in self.intervals)


def effort(data: RunData) -> Effort:
    timed = sorted((start, end, f.file) for f in data.ok for start, end in f.spans)
    gaps = []
    stretch_end: dt.datetime | None = None
    for start, end, _ in timed:
        if stretch_end is not None and (start - stretch_end).total_seconds() > CONTIGUOUS_S:
            gaps.append((stretch_end, start))
        stretch_end = end if stretch_end is None else max(stretch_end, end)
    return Effort(
        tuple(timed),
        tuple(gaps),
        tuple((f.start, f.file) for f in data.failed),
        tuple(f.file for f in data.ok if f.start is None),
        sum(f.audio_s for f in data.ok),
    )


def detection_bins(data: RunData) -> DetectionBins | None:
    """Counts to chart; None when no recording was processed."""
    ok = data.ok
    if not ok:
        return None
    labels = data.labels
    if any(f.start is None for f in ok) or data.untimed_detections:
        names = tuple(f.file for f in ok)
        counts = {
            label: tuple(data.file_label_counts.get(n, Counter[str]()).get(label, 0) for n in names) for label in labels
        }
        return DetectionBins("file", "file", names, None, counts, tuple(f.audio_s for f in ok))

    width, unit = data.bin_width, data.bin_unit
    spans = [s for f in ok for s in f.spans]  # a duty-cycled recording's each period
    origin = floor_to(min(s for s, _ in spans), width)
    last = max(e for _, e in spans)
    n_bins = max(1, -(-(last - origin) // width))
    effort_s = [0.0] * n_bins
    for t, end in spans:  # spread each recording's seconds over the bins it overlaps
        while t < end:
            i = int((t - origin) // width)
            edge = min(end, origin + (i + 1) * width)
            effort_s[min(i, n_bins - 1)] += (edge - t).total_seconds()
            t = edge
    per_label = {label: [0] * n_bins for label in labels}
    for label, per_bin in data.binned.items():
        for start, n in per_bin.items():
            i = int((start - origin) // width)
            if 0 <= i < n_bins:
                per_label[label][i] += n
    starts = [origin + i * width for i in range(n_bins)]
    listened = [i for i, s in enumerate(effort_s) if s > 0]
    if n_bins > SPARSE_RATIO * len(listened) and len(listened) <= MAX_CATEGORIES:
        return DetectionBins(
            "sparse",
            unit,
            tuple(starts[i] for i in listened),
            width,
            {label: tuple(c[i] for i in listened) for label, c in per_label.items()},
            tuple(effort_s[i] for i in listened),
        )
    return DetectionBins(
        "time", unit, tuple(starts), width, {k: tuple(c) for k, c in per_label.items()}, tuple(effort_s)
    )
