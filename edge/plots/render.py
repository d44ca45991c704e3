"""PNG files of a run: thumbnails of the strongest detections per label and an overview per
recording, under ``OUTDIR/plots/``, with ``plots/index.json`` saying what was written for
whom (the report links thumbnails to detections through it).

Layout::

    plots/detections/<label>/<rank>_<file stem>_<start ms>.png
    plots/files/<file stem>.png          (a short path hash when two recordings share a stem)
    plots/index.json

The plots are redrawn from the audio with each file's recorded calibration, so they are
written after the run, while the recordings are still at hand.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge import _validate as v
from edge.calibration import Calibration
from edge.errors import PamedgeError
from edge.frontend import FrontendSpec
from edge.outputs import unique_stems, write_atomic
from edge.plots import require_matplotlib
from edge.plots.figures import FigureStyle, detection_figure, label_colours, overview_figure
from edge.plots.spectrogram import DisplaySettings, span_spectrogram
from edge.types import Detection

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from edge.config import DeploymentConfig
    from edge.detect import RunReport

INDEX_VERSION = 1


@dataclass(frozen=True)
class PlotSettings:
    """What ``--plots`` draws."""

    per_label: int = 20  # thumbnails per label, strongest first
    pad_s: float = 1.0  # context each side of a detection, at least...
    pad_fraction: float = 0.5  # ...or this fraction of its duration when longer
    overviews: bool = True
    display: DisplaySettings = field(default_factory=DisplaySettings)
    style: FigureStyle = field(default_factory=FigureStyle)

    def __post_init__(self) -> None:
        v.integer("per_label", self.per_label, minimum=0)
        v.number("pad_s", self.pad_s, minimum=0)
        v.number("pad_fraction", self.pad_fraction, minimum=0)


@dataclass(frozen=True)
class FileToPlot:
    """One processed recording and what is needed to redraw what the run saw."""

    path: str
    channel: int
    spec: FrontendSpec  # bound to the recording's sample rate
    calibration: Calibration
    start_utc: dt.datetime | None
    detections: tuple[Detection, ...]


def calibration_from_dict(data: dict[str, Any]) -> Calibration:
    """The :class:`Calibration` recorded in ``run.json`` (``files[i].calibration``)."""
    return Calibration(
        str(data["hydrophone"]),
        float(data["full_scale_spl_db"]),
        float(data.get("gain_db", 0.0)),
        tuple((float(f), float(db)) for f, db in data.get("response", [])),
        str(data.get("source", "default")),
    )


def files_from_report(report: RunReport, config: DeploymentConfig, *, channel: int | None = None) -> list[FileToPlot]:
    """Plot inputs from an :class:`edge.detect.RunReport`, its deployment and the channel the
    run analysed (None: the deployment's); failed recordings have nothing to draw."""
    out = []
    for f in report.files:
        if f.status != "ok":
            continue
        details = f.details
        # a duty-cycled recording's time axis is not one clock: drawn in seconds into the file
        start = details.get("start_utc") if not details.get("periods") else None
        rate = int(details.get("analysis_rate") or details["sample_rate"])  # the spectrogram the ROIs were found on
        out.append(
            FileToPlot(
                f.file,
                config.channel if channel is None else int(channel),
                config.spec_for(rate),
                calibration_from_dict(details["calibration"]),
                dt.datetime.fromisoformat(start) if start else None,
                tuple(report.full(f).detections),
            )
        )
    return out


def strength_key(d: Detection) -> tuple[float, float, float]:
    """Sort key, strongest first: score when classified, else SNR; received level breaks ties."""
    score = d.score if d.score is not None and math.isfinite(d.score) else -math.inf
    snr = d.snr_db if math.isfinite(d.snr_db) else -math.inf
    level = d.received_level_db if math.isfinite(d.received_level_db) else -math.inf
    return (-score, -snr, -level)


def strongest(files: Sequence[FileToPlot], per_label: int) -> list[tuple[FileToPlot, Detection]]:
    """Up to ``per_label`` detections of each label over the whole run, strongest first."""
    by_label: dict[str, list[tuple[FileToPlot, Detection]]] = {}
    for f in files:
        for d in f.detections:
            by_label.setdefault(d.label, []).append((f, d))
    chosen = []
    for label in sorted(by_label):
        chosen += sorted(by_label[label], key=lambda fd: strength_key(fd[1]))[:per_label]
    return chosen


def safe_name(text: str) -> str:
    """``text`` as a portable file-name component (labels may hold spaces or slashes)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "_"


def png_bytes(fig: Figure) -> bytes:
    """A figure as an 8-bit palette PNG, drawn by Agg at the figure's size and dpi.

    A spectrogram is mostly noise texture, which PNG's compression cannot shrink: as RGBA a
    1200x400 overview is about 0.7 MB, with a 256-colour palette (the colour map has 256
    colours anyway) about a third of that, which keeps a report of dozens of images light.
    Pillow comes with matplotlib.
    """
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    image = Image.fromarray(np.ascontiguousarray(rgb)).quantize(
        colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def save_png(fig: Figure, path: Path) -> None:
    """Write ``fig`` to ``path`` whole or not at all (a killed run leaves no torn PNG)."""
    data = png_bytes(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_plots(
    outdir: str | Path,
    files: Sequence[FileToPlot],
    *,
    settings: PlotSettings = PlotSettings(),
    on_warning: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Draw thumbnails and overviews into ``outdir/plots`` and write ``plots/index.json``.

    A recording that can no longer be read (moved, unplugged card) is skipped with a
    warning; the rest are drawn.  Returns the index.  Raises
    :class:`~edge.errors.MissingExtraError` without matplotlib.
    """
    require_matplotlib()
    outdir = Path(outdir)
    plots = outdir / "plots"
    for sub in ("detections", "files"):  # drawings of an earlier run into this folder are stale
        shutil.rmtree(plots / sub, ignore_errors=True)
    colours = label_colours([d.label for f in files for d in f.detections])
    stems = unique_stems([f.path for f in files])
    warn = on_warning or (lambda message: None)
    index: dict[str, Any] = {
        "version": INDEX_VERSION,
        "settings": {
            "per_label": settings.per_label,
            "pad_s": settings.pad_s,
            "pad_fraction": settings.pad_fraction,
            "max_columns": settings.display.max_columns,
        },
        "thumbnails": [],
        "overviews": [],
        "skipped": [],
    }

    rank: dict[str, int] = {}
    for f, d in strongest(files, settings.per_label):
        rank[d.label] = rank.get(d.label, 0) + 1
        rel = Path(
            "plots",
            "detections",
            safe_name(d.label),
            f"{rank[d.label]:03d}_{stems[f.path]}_{round(d.start_s * 1000):d}ms.png",
        )
        pad = max(settings.pad_s, settings.pad_fraction * (d.end_s - d.start_s))
        try:
            img = span_spectrogram(
                f.path,
                spec=f.spec,
                calibration=f.calibration,
                channel=f.channel,
                start_s=max(0.0, d.start_s - pad),
                end_s=d.end_s + pad,
                settings=settings.display,
            )
            save_png(detection_figure(img, d, colour=colours[d.label], style=settings.style), outdir / rel)
        except (PamedgeError, OSError, ValueError) as exc:
            _skip(index, warn, f.path, exc)
            continue
        index["thumbnails"].append(
            {
                "file": d.file,
                "label": d.label,
                "rank": rank[d.label],
                "start_s": f"{d.start_s:.3f}",
                "end_s": f"{d.end_s:.3f}",
                "low_hz": d.low_hz,
                "high_hz": d.high_hz,
                "png": rel.as_posix(),
            }
        )

    if settings.overviews:
        for f in files:
            rel = Path("plots", "files", f"{stems[f.path]}.png")
            try:
                img = span_spectrogram(
                    f.path, spec=f.spec, calibration=f.calibration, channel=f.channel, settings=settings.display
                )
                title = (
                    f"{Path(f.path).name}   {len(f.detections)} detection{'s' * (len(f.detections) != 1)}   "
                    f"hydrophone {f.calibration.hydrophone} ({f.calibration.full_scale_spl_db:.1f} dB re 1 µPa "
                    f"full scale)"
                )
                save_png(
                    overview_figure(
                        img, f.detections, start_utc=f.start_utc, title=title, colours=colours, style=settings.style
                    ),
                    outdir / rel,
                )
            except (PamedgeError, OSError, ValueError) as exc:
                _skip(index, warn, f.path, exc)
                continue
            index["overviews"].append(
                {
                    "file": f.path,
                    "png": rel.as_posix(),
                    "detections": len(f.detections),
                    "frames_per_column": img.frames_per_column,
                }
            )
    write_atomic(plots / "index.json", json.dumps(index, indent=1) + "\n")
    return index


def _skip(index: dict[str, Any], warn: Callable[[str], None], path: str, exc: Exception) -> None:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    reason = reason if path in reason else f"{path}: {reason}"
    if reason not in index["skipped"]:
        index["skipped"].append(reason)
        warn(f"plots: {reason}")
