"""The report's run-level charts, as matplotlib Figure objects (no pyplot; tests inspect
them, :func:`edge.plots.render.png_bytes` embeds them)."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from edge.plots.figures import UTC
from edge.report.data import LevelSeries, SoundscapeSeries, band_hz
from edge.report.series import DetectionBins, Effort

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SIZE_IN = (10.0, 3.4)
DPI = 100
LABEL_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
NO_EFFORT = "#d9d9d9"
MAX_TICK_LABELS = 40


def _figure(size: tuple[float, float] = SIZE_IN) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=DPI, layout="constrained")


def _date_axis(ax: Axes) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))


def _category_ticks(ax: Axes, names: list[str]) -> None:
    step = max(1, math.ceil(len(names) / MAX_TICK_LABELS))
    ticks = list(range(0, len(names), step))
    ax.set_xticks(ticks, [names[i] for i in ticks], rotation=30, ha="right", fontsize=7)


def detections_chart(bins: DetectionBins) -> Figure:
    """Stacked bars of detections per bin and label; bins with no recording are shaded so
    that "no detections" and "not listening" look different."""
    import matplotlib.dates as mdates
    from matplotlib.patches import Patch

    fig = _figure()
    ax = fig.add_subplot()
    n = len(bins.starts)
    if bins.mode == "time":
        assert bins.width is not None  # time bins always have one
        x = [mdates.date2num(s) for s in bins.starts]
        width = bins.width.total_seconds() / 86400
        _date_axis(ax)
        ax.set_xlim(x[0], x[-1] + width)
        ax.set_xlabel("Time (UTC)")
        for i, seconds in enumerate(bins.effort_s):
            if seconds == 0:
                ax.axvspan(x[i], x[i] + width, color=NO_EFFORT, lw=0, zorder=0)
        align: Literal["center", "edge"] = "edge"
    else:
        x, width, align = list(range(n)), 0.8, "center"
        if bins.mode == "sparse":
            fmt = "%Y-%m-%d" if bins.unit == "day" else "%Y-%m-%d %H:%M"
            _category_ticks(ax, [s.strftime(fmt) if isinstance(s, dt.datetime) else s for s in bins.starts])
            ax.set_xlabel(f"UTC {bins.unit} bins holding recordings (the bins between them are omitted)")
        else:
            _category_ticks(ax, [Path(str(name)).stem for name in bins.starts])
            ax.set_xlabel("Recording, in run order (start times unknown)")
        ax.set_xlim(-0.6, n - 0.4)
    bottom = [0] * n
    handles = []
    for i, (label, counts) in enumerate(sorted(bins.counts.items())):
        colour = LABEL_COLOURS[i % len(LABEL_COLOURS)]
        ax.bar(x, counts, width=width, bottom=bottom, align=align, color=colour, label=label)
        bottom = [b + c for b, c in zip(bottom, counts)]
        handles.append(Patch(color=colour, label=f"{label} ({sum(counts)})"))
    if bins.mode == "time" and 0 in bins.effort_s:
        handles.append(Patch(color=NO_EFFORT, label="not recorded"))
    if not bins.counts:
        ax.text(0.5, 0.5, "no detections", transform=ax.transAxes, ha="center", va="center", color="#555555")
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_ylabel(f"Detections per {bins.unit}")
    ax.set_ylim(0, max(bottom + [1]) * 1.08)
    return fig


def levels_chart(levels: LevelSeries) -> Figure:
    """Broadband and a few decidecade band levels over time (UTC) or over audio time."""
    import matplotlib.dates as mdates

    fig = _figure()
    ax = fig.add_subplot()
    if levels.times is not None:
        x = [mdates.date2num(t) if t is not None else math.nan for t in levels.times]
        _date_axis(ax)
        ax.set_xlabel("Time (UTC)")
    else:
        x = list(levels.audio_h)
        ax.set_xlabel("Audio time (h), recordings end to end in run order")
    marker = "o" if levels.rows <= 60 else None  # a few periods far apart would be invisible as lines
    ax.plot(x, levels.broadband, color="black", lw=1.0, marker=marker, ms=3, label="broadband")
    for i, (name, values) in enumerate(levels.bands.items()):
        ax.plot(
            x,
            values,
            color=LABEL_COLOURS[i % len(LABEL_COLOURS)],
            lw=0.9,
            marker=marker,
            ms=3,
            label=f"{band_hz(name):g} Hz decidecade",
        )
    ax.set_ylabel("SPL (dB re 1 µPa)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(True, lw=0.3, alpha=0.5)
    return fig


def _log_edges(centres: list[float]) -> np.ndarray:
    """Cell edges around band centres on a log axis: geometric means, the ends 5 % out."""
    import numpy as np

    f = np.asarray(centres, dtype=float)
    return np.concatenate(([f[0] / 1.05], np.sqrt(f[:-1] * f[1:]), [f[-1] * 1.05]))


def ltsa_chart(s: SoundscapeSeries) -> Figure:
    """Long-term spectral average: minutes (UTC) by HMD band, colour the PSD level; minutes
    without audio stay blank."""
    import matplotlib.dates as mdates
    import numpy as np

    fig = _figure((10.0, 4.0))
    ax = fig.add_subplot()
    db = np.array(s.db, dtype=float).T  # (bands, minutes)
    x = np.array([mdates.date2num(t) for t in s.times] + [mdates.date2num(s.times[-1]) + 1 / 1440])
    y = _log_edges(s.centres)
    finite = db[np.isfinite(db)]
    vmin, vmax = np.percentile(finite, [1, 99]) if len(finite) else (0.0, 1.0)
    mesh = ax.pcolormesh(x, y, np.ma.masked_invalid(db), shading="flat", cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_yscale("log")
    _date_axis(ax)
    ax.set_xlabel("Time (UTC)")
    ax.set_ylabel("Frequency (Hz)")
    fig.colorbar(mesh, ax=ax, label="PSD (dB re 1 µPa²/Hz)")
    return fig


def spd_chart(s: SoundscapeSeries) -> Figure:
    """Spectral probability density (Merchant et al. 2015) of the minutes' HMD levels, with
    percentile lines."""
    import numpy as np

    from edge.soundscape.products import spectral_probability_density

    fig = _figure((10.0, 4.0))
    ax = fig.add_subplot()
    db = np.array(s.db, dtype=float)
    edges, density = spectral_probability_density(db)
    f = np.array(s.centres)
    mesh = ax.pcolormesh(_log_edges(s.centres), edges, np.ma.masked_equal(density, 0.0), shading="flat", cmap="magma_r")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # bands without a level in any minute
        for p, style in ((1, ":"), (5, "--"), (50, "-"), (95, "--"), (99, ":")):
            ax.plot(f, np.nanpercentile(db, p, axis=0), color="black", lw=0.8, ls=style, label=f"p{p}")
        mean = 10 * np.log10(np.nanmean(10 ** (db / 10), axis=0))
    ax.plot(f, mean, color="tab:blue", lw=1.0, label="mean")
    ax.set_xscale("log")
    ax.set_xlabel("Frequency (Hz)")
    ax.set_ylabel("PSD (dB re 1 µPa²/Hz)")
    ax.legend(fontsize=7, loc="lower left", ncols=3)
    fig.colorbar(mesh, ax=ax, label="probability density (1/dB)")
    return fig


def effort_chart(effort: Effort) -> Figure | None:
    """Recorded intervals, gaps and failed recordings on a UTC axis; None when no time is
    known for any recording."""
    import matplotlib.dates as mdates

    failed = [(t, f) for t, f in effort.failed if t is not None]
    if not effort.intervals and not failed:
        return None
    fig = _figure((SIZE_IN[0], 1.9))
    ax = fig.add_subplot()
    _date_axis(ax)
    bars = [(mdates.date2num(s), (e - s).total_seconds() / 86400) for s, e, _ in effort.intervals]
    # an edge line keeps a clip of seconds visible on an axis of months
    ax.broken_barh(bars, (0.6, 0.8), facecolors="#1f77b4", edgecolors="#1f77b4", linewidth=0.8, label="recorded")
    for i, (start, end) in enumerate(effort.gaps):
        ax.axvspan(
            mdates.date2num(start),
            mdates.date2num(end),
            color=NO_EFFORT,
            lw=0,
            zorder=0,
            label="gap" if i == 0 else None,
        )
    if failed:
        ax.plot(
            [mdates.date2num(t) for t, _ in failed], [2.0] * len(failed), "x", color="#d62728", ms=7, label="failed"
        )
    ax.set_yticks([1.0, 2.0], ["recorded", "failed"])
    ax.set_ylim(0.3, 2.5)
    ax.set_xlabel("Time (UTC)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def scores_chart(counts: dict[str, list[int]], thresholds: dict[str, float]) -> Figure:
    """Windows per score bin and class (scores.csv), log scale, each class's threshold dashed:
    where a threshold cuts its class's distribution, and what a lower one would add."""
    fig = _figure()
    ax = fig.add_subplot()
    for i, (label, n) in enumerate(sorted(counts.items())):
        colour = LABEL_COLOURS[i % len(LABEL_COLOURS)]
        edges = [k / len(n) for k in range(len(n) + 1)]
        ax.stairs(n, edges, color=colour, lw=1.5, label=f"{label} ({sum(n)})")
        if label in thresholds:
            ax.axvline(thresholds[label], color=colour, ls="--", lw=1)
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlim(0, 1)
    ax.set_xlabel("Score (dashed: the run's threshold)")
    ax.set_ylabel("Windows")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(True, lw=0.3, alpha=0.5)
    return fig
