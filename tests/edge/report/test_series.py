"""edge.report.series: detection counts per time bin with the effort behind them."""

from __future__ import annotations

import datetime as dt

from edge.report.data import load
from edge.report.series import detection_bins, effort
from tests.support.report import ok, write_outdir

UTC = dt.timezone.utc


def test_time_bins_carry_effort_and_gaps(tmp_path):
    files = [
        ok("a.wav", "2024-05-01T00:00:00+00:00"),
        ok("b.wav", "2024-05-01T00:15:00+00:00"),
        ok("c.wav", "2024-05-01T01:00:00+00:00"),
        {"file": "d/20240501_011500.wav", "status": "failed", "reason": "d: empty file (0 bytes)"},
    ]
    rows = (
        "a.wav,0,2024-05-01T00:01:00Z,60.000,61.000,1,2,roi,,10,100\n"
        "b.wav,0,2024-05-01T00:16:00Z,60.000,61.000,1,2,roi,,10,100\n"
        "b.wav,0,2024-05-01T00:19:59Z,299.000,300.000,1,2,up,0.9,10,100\n"
        "c.wav,0,2024-05-01T01:14:00Z,840.000,841.000,1,2,roi,,10,100\n"
    )
    data = load(write_outdir(tmp_path / "o", files, rows))
    bins = detection_bins(data)
    assert (bins.mode, bins.unit, len(bins.starts)) == ("time", "5 min", 15)  # 00:00 to 01:15
    assert bins.starts[0] == dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert bins.counts == {"roi": (1, 0, 0, 1) + (0,) * 10 + (1,), "up": (0, 0, 0, 1) + (0,) * 11}
    assert bins.effort_s == (300.0,) * 6 + (0.0,) * 6 + (300.0,) * 3
    eff = effort(data)
    assert eff.gaps == ((dt.datetime(2024, 5, 1, 0, 30, tzinfo=UTC), dt.datetime(2024, 5, 1, 1, tzinfo=UTC)),)
    assert eff.failed == ((dt.datetime(2024, 5, 1, 1, 15, tzinfo=UTC), "d/20240501_011500.wav"),)
    assert eff.recorded_s == 2700 and eff.untimed == ()


def test_clips_far_apart_become_categories(tmp_path):
    files = [ok("a.wav", "2018-12-27T06:01:48+00:00", 5), ok("b.wav", "2019-02-16T04:58:23+00:00", 10)]
    rows = "b.wav,0,2019-02-16T04:58:24Z,1.000,2.000,1,2,roi,,10,100\n"
    bins = detection_bins(load(write_outdir(tmp_path / "o", files, rows)))
    assert (bins.mode, bins.unit) == ("sparse", "day")
    assert bins.starts == (dt.datetime(2018, 12, 27, tzinfo=UTC), dt.datetime(2019, 2, 16, tzinfo=UTC))
    assert bins.counts == {"roi": (0, 1)} and bins.effort_s == (5.0, 10.0)


def test_unknown_start_times_count_per_file(tmp_path):
    files = [ok("a.wav", "2024-05-01T00:00:00+00:00"), ok("notime.wav", "")]
    rows = "notime.wav,0,,1.000,2.000,1,2,roi,,10,100\n"
    data = load(write_outdir(tmp_path / "o", files, rows))
    bins = detection_bins(data)
    assert (bins.mode, bins.starts, bins.counts) == ("file", ("a.wav", "notime.wav"), {"roi": (0, 1)})
    assert effort(data).untimed == ("notime.wav",)


def test_nothing_processed(tmp_path):
    data = load(write_outdir(tmp_path / "o", [{"file": "x.wav", "status": "failed", "reason": "x.wav: empty"}]))
    assert detection_bins(data) is None
    assert effort(data).span is None
