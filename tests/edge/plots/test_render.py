"""edge.plots.render: the PNG files of a run and plots/index.json."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.image import imread

from edge.calibration import Calibration
from edge.frontend import FrontendSpec
from edge.plots.render import FileToPlot, PlotSettings, safe_name, strongest, unique_stems, write_plots
from edge.types import Detection
from tests.support.plots import PER_LABEL, png_size
from tests.support.signals import tone


@pytest.mark.slow
def test_thumbnails_are_the_strongest_per_label_and_valid_pngs(narw_plotted):
    out, index = narw_plotted.outdir, narw_plotted.index
    assert json.loads((out / "plots" / "index.json").read_text()) == index
    rows = list(csv.DictReader(open(out / "detections.csv")))
    strongest_snr = sorted((float(r["snr_db"]) for r in rows), reverse=True)[:PER_LABEL]
    thumbs = index["thumbnails"]
    assert [t["rank"] for t in thumbs] == list(range(1, PER_LABEL + 1))
    by_key = {(r["file"], r["start_s"]): float(r["snr_db"]) for r in rows}
    assert [by_key[(t["file"], t["start_s"])] for t in thumbs] == strongest_snr
    for t in thumbs:
        data = (out / t["png"]).read_bytes()
        assert png_size(data) == (480, 320)
        assert t["png"].startswith("plots/detections/roi/")
        pixels = imread(out / t["png"])
        assert pixels.shape[:2] == (320, 480) and float(np.std(pixels[..., :3])) > 0.05


@pytest.mark.slow
def test_one_overview_per_processed_recording(narw_plotted):
    out, index, report = narw_plotted.outdir, narw_plotted.index, narw_plotted.report
    ok = [f for f in report.files if f.status == "ok"]
    assert [o["file"] for o in index["overviews"]] == [f.file for f in ok]  # the failed one has none
    for o, f in zip(index["overviews"], ok):
        assert o["detections"] == f.detection_count
        assert png_size((out / o["png"]).read_bytes()) == (1200, 400)
    assert index["skipped"] == []


def _tone_file(write_audio, name, sr=4000, seconds=6.0):
    return write_audio(name, tone(300, 0.2, seconds, sr), sr)


def _to_plot(path, detections, sr=4000):
    return FileToPlot(
        str(path),
        0,
        FrontendSpec(nfft=256, hop=128, sample_rate=sr),
        Calibration("default", 170.0),
        None,
        tuple(detections),
    )


def _det(path, start_s, label="roi", snr=20.0, score=math.nan):
    return Detection(str(path), 0, "", start_s, start_s + 0.5, 200.0, 400.0, label, score, snr, 120.0)


@pytest.mark.slow
def test_stale_drawings_go_and_unreadable_recordings_are_skipped(tmp_path, write_audio):
    a = _tone_file(write_audio, "a/rec.wav")
    b = _tone_file(write_audio, "b/rec.wav")  # same stem in another folder
    out = tmp_path / "out"
    stale = out / "plots" / "detections" / "old" / "001_x.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    gone = tmp_path / "gone.wav"
    warnings = []
    files = [
        _to_plot(a, [_det(a, 1.0), _det(a, 3.0, snr=30.0)]),
        _to_plot(b, [_det(b, 2.0, label="up call")]),
        _to_plot(gone, [_det(gone, 1.0, snr=99.0)]),
    ]
    index = write_plots(out, files, settings=PlotSettings(per_label=5), on_warning=warnings.append)
    assert not stale.exists()
    pngs = sorted(p.relative_to(out).as_posix() for p in (out / "plots").rglob("*.png"))
    stems = unique_stems([str(a), str(b)])
    assert stems[str(a)] != stems[str(b)] and stems[str(a)].startswith("rec_")
    # ranks are the strength order of the run: the strongest, in the unreadable file, leaves a gap
    assert pngs == sorted(
        [
            f"plots/detections/roi/002_{stems[str(a)]}_3000ms.png",
            f"plots/detections/roi/003_{stems[str(a)]}_1000ms.png",
            f"plots/detections/up_call/001_{stems[str(b)]}_2000ms.png",
            f"plots/files/{stems[str(a)]}.png",
            f"plots/files/{stems[str(b)]}.png",
        ]
    )
    assert len(warnings) == 1 and "gone.wav" in warnings[0]
    assert index["skipped"] == [w.removeprefix("plots: ") for w in warnings]


def test_strongest_prefers_score_then_snr(tmp_path):
    p = tmp_path / "x.wav"
    f = _to_plot(
        p,
        [
            _det(p, 1, snr=40),
            _det(p, 2, snr=10, score=0.9),
            _det(p, 3, snr=30, score=0.5),
            _det(p, 4, label="other", snr=5),
        ],
    )
    assert [d.start_s for _, d in strongest([f], 2)] == [4, 2, 3]
    assert [d.start_s for _, d in strongest([f], 0)] == []


def test_safe_name():
    assert safe_name("up call/NARW") == "up_call_NARW" and safe_name("..") == "_"
