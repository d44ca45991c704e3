"""edge.plots.figures: thumbnails and overviews, checked through the Figure objects."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib.dates as mdates
from matplotlib.patches import Rectangle

from edge.plots.figures import FigureStyle, detection_figure, overview_figure, shown_band
from edge.plots.render import files_from_report
from edge.plots.spectrogram import DisplaySpectrogram, span_spectrogram
from edge.types import Detection

NAN = float("nan")
UTC = dt.timezone.utc


def image(rng, *, start_s=0.0, columns=300, column_s=0.1, bins=64, bin_hz=7.8125) -> DisplaySpectrogram:
    db = (90 + 5 * rng.standard_normal((bins, columns))).astype(np.float32)
    return DisplaySpectrogram(db, start_s, column_s, start_s + columns * column_s, bin_hz / 2, bin_hz, 1)


def detection(**changes) -> Detection:
    values = dict(
        file="/card/NOPP6_EST_20090328_000000.wav",
        channel=0,
        start_utc="2009-03-28T00:00:10.250Z",
        start_s=10.25,
        end_s=11.5,
        low_hz=60.0,
        high_hz=220.0,
        label="roi",
        score=NAN,
        snr_db=27.44,
        received_level_db=118.0,
    )
    values.update(changes)
    return Detection(**values)


def rectangles(ax) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def colorbar_label(fig) -> str:
    return next(a.get_ylabel() for a in fig.axes if "dB" in a.get_ylabel())


def test_thumbnail_boxes_the_detection_and_says_what_it_is(rng):
    d = detection()
    fig = detection_figure(image(rng, start_s=9.0, columns=40), d)
    ax = fig.axes[0]
    (box,) = rectangles(ax)
    assert box.get_xy() == (10.25, 60.0)
    assert box.get_width() == pytest.approx(1.25) and box.get_height() == pytest.approx(160.0)
    assert not box.get_fill()
    assert "Time" in ax.get_xlabel() and ax.get_ylabel() == "Frequency (Hz)"
    assert "dB re 1" in colorbar_label(fig)
    title = ax.get_title()
    assert "roi" in title and "SNR 27.4 dB" in title and "RL 118.0 dB re 1 µPa" in title
    assert "2009-03-28 00:00:10.250 UTC" in title and "score" not in title
    assert tuple(fig.get_size_inches() * fig.dpi) == (480, 320)


def test_thumbnail_title_gives_the_score_of_a_classified_detection(rng):
    fig = detection_figure(image(rng), detection(label="upcall", score=0.8712))
    assert "upcall" in fig.axes[0].get_title() and "score 0.87" in fig.axes[0].get_title()


def test_thumbnail_zooms_on_a_sliver_of_a_wide_band():
    style = FigureStyle()
    assert shown_band([detection(low_hz=60, high_hz=220)], 0, 500, style) == (0, 500)
    low, high = shown_band([detection(low_hz=70, high_hz=540)], 0, 24000, style)
    assert low == 0 and 540 < high < 3000
    assert shown_band([], 0, 24000, style) == (0, 24000)


def test_overview_in_seconds_without_a_start_time(rng):
    img = image(rng)
    dets = [detection(start_s=s, end_s=s + 1, start_utc="") for s in (2.0, 8.0, 20.0)]
    fig = overview_figure(img, dets, start_utc=None, title="x.wav")
    ax = fig.axes[0]
    assert len(rectangles(ax)) == 3
    assert ax.get_xlabel().startswith("Time (s")
    assert ax.get_xlim() == pytest.approx((0.0, 30.0))
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["roi (3)"]


@pytest.mark.slow
def test_overview_of_a_real_recording_in_utc(narw_plotted):
    f = files_from_report(narw_plotted.report, narw_plotted.config)[0]
    img = span_spectrogram(f.path, spec=f.spec, calibration=f.calibration, channel=f.channel)
    fig = overview_figure(img, f.detections, start_utc=f.start_utc, title=Path(f.path).name)
    ax = fig.axes[0]
    assert len(f.detections) > 20
    boxes = rectangles(ax)
    assert len(boxes) == len(f.detections)
    assert ax.get_xlabel() == "Time (UTC)" and ax.get_ylabel() == "Frequency (Hz)"
    assert "dB re 1 µPa²/Hz" in colorbar_label(fig)
    left, right = ax.get_xlim()
    start = dt.datetime(2009, 3, 28, tzinfo=UTC)
    assert mdates.num2date(left) - start < dt.timedelta(seconds=1)
    assert abs((mdates.num2date(right) - start).total_seconds() - 900) < 1
    first = min(boxes, key=lambda b: b.get_x())
    d0 = min(f.detections, key=lambda d: d.start_s)
    assert mdates.num2date(first.get_x()) == pytest.approx(
        start + dt.timedelta(seconds=d0.start_s), abs=dt.timedelta(milliseconds=1)
    )
    # the feature band of narw-upcall.yaml, less the DC bin
    assert ax.get_ylim()[0] == pytest.approx(3.90625) and ax.get_ylim()[1] == pytest.approx(503.90625)
    assert img.n_columns <= 2000 and not math.isnan(float(np.nanmax(img.db)))
