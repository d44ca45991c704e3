"""Figures of detections on their spectrogram: a thumbnail per detection, an overview per file.

Builders return :class:`matplotlib.figure.Figure` objects made without pyplot (no global
figure registry, no GUI backend, nothing left open), so callers save them or tests inspect
their axes, labels and patches.  Each detection is a :class:`~matplotlib.patches.Rectangle`
on the axes, in the data coordinates of the spectrogram: seconds (or UTC dates) and Hz.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from edge import _validate as v
from edge.clicks import train_text
from edge.plots.spectrogram import DisplaySpectrogram
from edge.types import Detection

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage
    from matplotlib.patches import Patch

PSD_LABEL = "PSD (dB re 1 µPa²/Hz)"
FREQ_LABEL = "Frequency (Hz)"
UTC = dt.timezone.utc
# Bright box colours that stand out on the dark end of the colour map, one per label.
BOX_COLOURS = ("#00e5ff", "#7cfc00", "#ffffff", "#ff9f1c", "#ff4fd8", "#ffee32", "#ff3b3b", "#b28dff")


@dataclass(frozen=True)
class FigureStyle:
    """Sizes and colour scaling of the figures (PNG pixels = inches x dpi)."""

    thumbnail_in: tuple[float, float] = (4.8, 3.2)
    overview_in: tuple[float, float] = (12.0, 4.0)
    dpi: int = 100
    cmap: str = "magma"
    low_percentile: float = 5.0  # colour scale from about the noise floor...
    high_percentile: float = 99.7  # ...to the loudest calls, ignoring a few hot pixels
    min_range_db: float = 30.0  # never squeeze a quiet picture into a few dB of contrast
    zoom_below: float = 0.1  # a thumbnail zooms in on boxes smaller than this fraction of the band

    def __post_init__(self) -> None:
        v.integer("dpi", self.dpi, minimum=10)
        v.require(
            0 <= self.low_percentile < self.high_percentile <= 100,
            f"percentiles {self.low_percentile}, {self.high_percentile} must satisfy 0 <= low < high <= 100",
        )
        v.number("min_range_db", self.min_range_db, minimum=0)
        v.number("zoom_below", self.zoom_below, minimum=0)


def colour_limits(db: np.ndarray, style: FigureStyle) -> tuple[float, float]:
    """``(vmin, vmax)`` in dB from the finite values of ``db`` (the rows on show)."""
    finite = db[np.isfinite(db)]
    if finite.size == 0:
        return 0.0, style.min_range_db
    lo, hi = np.percentile(finite, [style.low_percentile, style.high_percentile])
    return float(min(lo, hi - style.min_range_db)), float(hi)


def label_colours(labels: Sequence[str]) -> dict[str, str]:
    """A stable colour per label (sorted order), shared by every figure of a run."""
    return {label: BOX_COLOURS[i % len(BOX_COLOURS)] for i, label in enumerate(sorted(set(labels)))}


def _new_figure(size: tuple[float, float], dpi: int) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=dpi, layout="constrained")


def _draw(
    fig: Figure,
    ax: Axes,
    img: DisplaySpectrogram,
    style: FigureStyle,
    *,
    band: tuple[float, float] | None = None,
    x0: float = 0.0,
    x_scale: float = 1.0,
) -> AxesImage:
    """The spectrogram on ``ax`` (x = ``x0 + seconds * x_scale``) with its colour bar; the
    colour scale comes from the rows inside ``band`` (Hz), the frequency range shown."""
    left, right, bottom, top = img.extent
    low, high = band or (bottom, top)
    centres = img.low_hz + (np.arange(img.db.shape[0]) + 0.5) * img.bin_hz
    shown = img.db[(centres >= low - img.bin_hz / 2) & (centres <= high + img.bin_hz / 2)]
    vmin, vmax = colour_limits(shown if shown.size else img.db, style)
    mesh = ax.imshow(
        img.db,
        origin="lower",
        aspect="auto",
        interpolation="nearest",
        cmap=style.cmap,
        vmin=vmin,
        vmax=vmax,
        extent=(x0 + left * x_scale, x0 + right * x_scale, bottom, top),
    )
    ax.set_xlim(x0 + left * x_scale, x0 + img.end_s * x_scale)
    ax.set_ylim(low, high)
    ax.set_ylabel(FREQ_LABEL)
    bar = fig.colorbar(mesh, ax=ax, pad=0.01, fraction=0.05)
    bar.set_label(PSD_LABEL)
    return mesh


def strength_text(d: Detection) -> str:
    """Score when the record has one (classified), else the ROI's SNR."""
    if d.score is not None and math.isfinite(d.score):
        return f"score {d.score:.2f}"
    return f"SNR {d.snr_db:.1f} dB"


def _box(ax: Axes, x: float, width: float, d: Detection, colour: str, lw: float) -> Patch:
    from matplotlib.patches import Rectangle

    return ax.add_patch(
        Rectangle((x, d.low_hz), width, d.high_hz - d.low_hz, fill=False, edgecolor=colour, linewidth=lw, label=d.label)
    )


def shown_band(
    detections: Sequence[Detection], low_hz: float, high_hz: float, style: FigureStyle
) -> tuple[float, float]:
    """Frequency limits of a figure: the whole band, unless the boxes are a sliver of it (a
    500 Hz right-whale call in a 24 kHz band), then the boxes with context on both sides."""
    band = high_hz - low_hz
    if not detections or band <= 0:
        return low_hz, high_hz
    lo, hi = min(d.low_hz for d in detections), max(d.high_hz for d in detections)
    if hi - lo >= style.zoom_below * band:
        return low_hz, high_hz
    margin = max(hi - lo, band * style.zoom_below / 2)
    return max(low_hz, lo - margin), min(high_hz, hi + margin)


def _short(name: str, width: int) -> str:
    """``name`` cut in the middle to ``width`` characters (titles must fit a thumbnail)."""
    return name if len(name) <= width else name[: width // 2 - 1] + "…" + name[-(width - width // 2) :]


def detection_figure(
    img: DisplaySpectrogram, d: Detection, *, colour: str = BOX_COLOURS[0], style: FigureStyle = FigureStyle()
) -> Figure:
    """A thumbnail: the detection's padded span with its box; title with label, score (or
    SNR) and received level, and the file and UTC time below it."""
    fig = _new_figure(style.thumbnail_in, style.dpi)
    ax = fig.add_subplot()
    _draw(fig, ax, img, style, band=shown_band([d], img.low_hz, img.high_hz, style))
    _box(ax, d.start_s, d.end_s - d.start_s, d, colour, 1.6)
    ax.set_xlabel("Time (s from file start)")
    when = d.start_utc.replace("T", " ").replace("Z", " UTC") if d.start_utc else f"{d.start_s:.3f} s"
    train = f"   {train_text(d.clicks, d.ici_s)}" if d.clicks else ""
    ax.set_title(
        f"{d.label}   {strength_text(d)}   RL {d.received_level_db:.1f} dB re 1 µPa{train}\n"
        f"{_short(Path(d.file).name, 36)}  {when}",
        fontsize=8,
    )
    return fig


def overview_figure(
    img: DisplaySpectrogram,
    detections: Sequence[Detection],
    *,
    start_utc: dt.datetime | None,
    title: str,
    colours: dict[str, str] | None = None,
    style: FigureStyle = FigureStyle(),
) -> Figure:
    """A whole recording with every detection boxed; x in UTC when the start is known."""
    fig = _new_figure(style.overview_in, style.dpi)
    ax = fig.add_subplot()
    colours = colours or label_colours([d.label for d in detections])
    if start_utc is not None:
        import matplotlib.dates as mdates

        x0, x_scale = float(mdates.date2num(start_utc)), 1.0 / 86400.0
        locator = mdates.AutoDateLocator(tz=UTC)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
        ax.set_xlabel("Time (UTC)")
    else:
        x0, x_scale = 0.0, 1.0
        ax.set_xlabel("Time (s from file start)")
    _draw(fig, ax, img, style, band=shown_band(detections, img.low_hz, img.high_hz, style), x0=x0, x_scale=x_scale)
    for d in detections:
        _box(ax, x0 + d.start_s * x_scale, (d.end_s - d.start_s) * x_scale, d, colours[d.label], 1.0)
    if detections:
        from matplotlib.patches import Patch

        counts: dict[str, int] = {}
        for d in detections:
            counts[d.label] = counts.get(d.label, 0) + 1
        handles = [
            Patch(facecolor="none", edgecolor=colours[label], label=f"{label} ({n})")
            for label, n in sorted(counts.items())
        ]
        legend = ax.legend(
            handles=handles,
            loc="upper right",
            fontsize=8,
            framealpha=0.6,
            facecolor="#333333",
            labelcolor="white",
            edgecolor="none",
        )
        legend.set_zorder(5)
    ax.set_title(title, fontsize=9)
    return fig
