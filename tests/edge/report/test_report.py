"""The run report of a real right-whale run: every label, every failed recording, charts,
thumbnails and links, checked through the parsed HTML and the Figure objects."""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest

pytest.importorskip("matplotlib")
from matplotlib.patches import Rectangle

from edge.config import load_deployment
from edge.detect import detect
from edge.pipeline import stamped_config
from edge.report import charts
from edge.report.build import write_report
from edge.report.data import load
from edge.report.series import detection_bins, effort
from tests.support.data import DEPLOYMENTS
from tests.support.plots import FAILED_NAME, PER_LABEL, png_size


class Page(HTMLParser):
    """Text, images, links and table cells of a page."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.images, self.links, self.headings, self.cells = [], [], [], [], []
        self._heading = self._cell = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs)
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag in ("td", "th"):
            self.cells.append("")
            self._cell = True
        elif tag in ("h1", "h2", "h3"):
            self.headings.append("")
            self._heading = True

    def handle_data(self, data):
        self.text.append(data)
        if self._heading:
            self.headings[-1] += data
        if self._cell:
            self.cells[-1] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._cell = False
        elif tag in ("h1", "h2", "h3"):
            self._heading = False

    @property
    def all_text(self) -> str:
        return " ".join(self.text)


def render(outdir: Path, **kwargs) -> tuple[Path, Page]:
    path = write_report(outdir, **kwargs)
    return path, Page(path.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_report_of_a_real_run(narw_plotted):
    out = narw_plotted.outdir
    path, page = render(out)
    assert path == out / "report.html"
    text = page.all_text
    for heading in (
        "Summary",
        "Failed recordings (1)",
        "Detections per 5 min and label",
        "Noise levels",
        "Effort",
        "Top detections",
        "Recordings (3)",
    ):
        assert heading in page.headings
    report = narw_plotted.report
    n = sum(f.detection_count for f in report.files)
    assert f"roi ({n} detections)" in page.headings
    assert "narw-upcall" in text and stamped_config(narw_plotted.config, None).hash in text  # ROI-only run
    # the failed recording, by name and with its reason
    (failed,) = report.failed
    assert FAILED_NAME in failed.file and failed.file in page.cells and failed.reason in page.cells
    assert "empty file (0 bytes)" in failed.reason
    assert "received levels are not exact" in text  # the default calibration is said, not hidden
    assert "30.0 min recorded over a span of 30.0 min (100.0%); 0 gaps longer than 1 s." in text
    # every image is an embedded PNG: 3 charts, a thumbnail per drawn top detection, 2 overviews
    assert all(img["src"].startswith("data:image/png;base64,") for img in page.images)
    sizes = [png_size(base64.b64decode(img["src"].split(",", 1)[1])) for img in page.images]
    assert sizes.count((480, 320)) == PER_LABEL and sizes.count((1200, 400)) == 2
    assert sizes.count((1000, 340)) == 2 and sizes.count((1000, 190)) == 1
    # links are relative, to files that exist beside the page
    assert page.links and all(not h.startswith(("http", "/")) for h in page.links)
    raven = [h for h in page.links if h.startswith("raven/")]
    assert {Path(unquote(h)).name for h in raven} == {p.name for p in (out / "raven").iterdir()}
    assert all((out / unquote(h)).exists() for h in page.links)
    assert "<script" not in path.read_text() and "http://" not in path.read_text()


@pytest.mark.slow
def test_every_label_is_listed(narw_plotted, tmp_path):
    """A classifier's labels (simulated by relabelling the ROIs) each get counts and a table."""
    out = tmp_path / "labelled"
    shutil.copytree(narw_plotted.outdir, out)
    rows = list(csv.DictReader(open(out / "detections.csv")))
    labels = ["upcall", "gunshot", "humpback song"]
    for i, row in enumerate(rows):
        row["label"] = labels[i % 3] if i % 4 else "roi"
        row["score"] = f"{(i % 97) / 100:.4f}" if i % 4 else ""
    with open(out / "detections.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    _, page = render(out, output=tmp_path / "elsewhere" / "page.html")
    for label in labels + ["roi"]:
        count = sum(r["label"] == label for r in rows)
        assert f"{label} ({count} detections)" in page.headings
        assert label in page.cells and str(count) in page.cells[page.cells.index(label) + 1]
    assert "score" in page.cells  # classified labels show their score column
    # written elsewhere, the links still reach the Raven tables
    assert all((tmp_path / "elsewhere" / unquote(h)).resolve().exists() for h in page.links)


@pytest.mark.slow
def test_charts_of_the_real_run(narw_plotted):
    data = load(narw_plotted.outdir)
    bins = detection_bins(data)
    fig = charts.detections_chart(bins)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Detections per 5 min" and ax.get_xlabel() == "Time (UTC)"
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    n = sum(f.detection_count for f in narw_plotted.report.files)
    assert len(bars) == 6 and sum(b.get_height() for b in bars) == n  # 00:00-00:30 in 5-min bins
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"roi ({n})"]

    fig = charts.levels_chart(data.levels)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "SPL (dB re 1 µPa)" and ax.get_xlabel() == "Time (UTC)"
    assert [line.get_label() for line in ax.get_lines()] == [
        "broadband",
        "63 Hz decidecade",
        "125 Hz decidecade",
        "250 Hz decidecade",
    ]
    levels = list(csv.DictReader(open(narw_plotted.outdir / "levels.csv")))
    assert np.allclose(ax.get_lines()[0].get_ydata(), [float(r["broadband_db"]) for r in levels])

    fig = charts.effort_chart(effort(data))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["recorded", "failed"]
    (failed_marker,) = [line for line in ax.get_lines() if line.get_label() == "failed"]
    assert len(failed_marker.get_xdata()) == 1


def test_report_without_times_levels_or_detections(tmp_path, write_audio, rng):
    """Quiet noise in a file whose name carries no time: no detections, no UTC axis; then
    levels.csv emptied."""
    wav = write_audio("quiet.wav", 0.01 * rng.standard_normal(8000 * 20), 8000)
    out = tmp_path / "out"
    report = detect([wav], out, load_deployment(DEPLOYMENTS / "generic.yaml"))
    assert sum(f.detection_count for f in report.files) == 0
    _, page = render(out)
    assert "No detections." in page.all_text
    assert "Start times are not known for every recording" in page.all_text
    assert "without a start time" in page.all_text and len(page.images) == 2  # counts and levels; no timeline
    (out / "levels.csv").write_text((out / "levels.csv").read_text().splitlines()[0] + "\n")
    _, page = render(out)
    assert "levels.csv holds no rows: no noise levels to show." in page.all_text and len(page.images) == 1


def test_report_from_another_producer(tmp_path):
    """Only run.json and detections.csv, as a cluster run or a database export may write."""
    out = tmp_path / "export"
    out.mkdir()
    (out / "run.json").write_text(
        json.dumps(
            {
                "files": [
                    {
                        "file": "buoy7/20240501_000000.wav",
                        "status": "ok",
                        "audio_s": 900,
                        "start_utc": "2024-05-01T00:00:00Z",
                        "detections": 1,
                    },
                    {"file": "buoy7/20240501_001500.wav", "status": "failed", "reason": "upload incomplete"},
                ]
            }
        )
    )
    (out / "detections.csv").write_text(
        "file,start_utc,start_s,end_s,label,score,snr_db,clicks,ici_s\n"
        "buoy7/20240501_000000.wav,2024-05-01T00:03:00Z,180.0,181.2,upcall,0.97,14,,\n"
        "buoy7/20240501_000000.wav,2024-05-01T00:05:00Z,300.0,312.4,sperm,0.88,20,14,0.8450\n"
    )
    _, page = render(out)
    assert "upcall (1 detection)" in page.headings and "upload incomplete" in page.cells
    # the train's duration cell says its clicks; the upcall's says nothing of clicks
    assert [c for c in page.cells if "click" in c] == ["12.4014 clicks, ICI 0.845 s"]
    assert "buoy7/20240501_001500.wav" in page.cells
    assert os.path.exists(out / "report.html")


@pytest.mark.slow
def test_report_from_detections_alone(narw_plotted, tmp_path):
    """A folder holding only detections.csv (a shore database export) still gets a page,
    which says what it cannot know."""
    out = tmp_path / "shore-export"
    out.mkdir()
    shutil.copy(narw_plotted.outdir / "detections.csv", out / "detections.csv")
    _, page = render(out)
    report = narw_plotted.report
    n = sum(f.detection_count for f in report.files)
    assert f"roi ({n} detections)" in page.headings
    assert "no run.json" in page.all_text and "failed recordings are unknown" in page.all_text
    with_detections = {f.file for f in report.files if f.detection_count}
    assert with_detections and with_detections <= set(page.cells)


def test_folder_without_outputs_is_refused(tmp_path):
    from edge.errors import PamedgeError

    with pytest.raises(PamedgeError, match="no run.json and no detections.csv"):
        load(tmp_path)


def test_report_of_a_shore_export_names_its_deployment_and_takes_effort_from_health(tmp_path):
    """edge-shore export -o detections.csv --health health.csv: the page names the deployment,
    config and model the records carry, and its effort is the seconds the buoy processed."""
    from edge.outputs import DETECTION_COLUMNS, csv_text, detection_row
    from edge.types import Detection
    from shore.export import HEALTH_COLUMNS

    out = tmp_path / "shore-export"
    out.mkdir()
    dets = [
        Detection(
            f"buoy-1/2024050{d}_000000.wav",
            0,
            f"2024-05-0{d}T00:10:00Z",
            600.0,
            601.0,
            50,
            250,
            "upcall",
            0.9,
            12.0,
            120.0,
            deployment="buoy-1",
            model="narw-upcall@00e5b7d325d5",
            config_hash="abc123",
            hydrophone="6872",
            calibration_db=176.2,
        )
        for d in (1, 2)
    ]
    (out / "detections.csv").write_text(csv_text(DETECTION_COLUMNS, [detection_row(d) for d in dets]))
    health = [dict.fromkeys(HEALTH_COLUMNS, "") for _ in range(3)]
    for i, (utc, processed) in enumerate(
        [("2024-05-01T06:00:00Z", ""), ("2024-05-01T12:00:00Z", 18000), ("2024-05-02T12:00:00Z", 43200)]
    ):
        health[i].update(deployment="buoy-1", seq=i + 1, utc=utc)
        if processed:
            health[i].update(period_s=21600 if i == 1 else 86400, period_processed_s=processed, period_detections=1)
    (out / "health.csv").write_text(csv_text(HEALTH_COLUMNS, [[str(h[c]) for c in HEALTH_COLUMNS] for h in health]))
    _, page = render(out)
    cells = " ".join(page.cells)
    assert "buoy-1" in cells and "abc123" in cells and "narw-upcall@00e5b7d325d5" in cells
    assert "not recorded" not in cells
    assert f"{(18000 + 43200) / 3600:.2f}" in page.all_text  # audio hours: what the buoy processed
    assert "effort from health.csv" in page.all_text
    assert "upcall (2 detections)" in page.headings
