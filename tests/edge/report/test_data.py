"""edge.report.data: what the page shows, read from the files of an output folder."""

from __future__ import annotations

import datetime as dt

import pytest

from edge.errors import PamedgeError
from edge.report.data import FileEntry, ReportSettings, choose_bands, choose_bin, floor_to, load, parse_utc
from tests.support.report import UTC, ok, write_outdir


def test_band_choice_prefers_shipping_bands_then_spreads():
    narw = [f"band_{f}hz" for f in (40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800)]
    assert choose_bands(narw, 3) == ["band_63hz", "band_125hz", "band_250hz"]  # no 1 kHz band at 2 kHz
    wide = [f"band_{f}hz" for f in (250, 315, 400, 500, 1000, 2000, 4000, 8000, 20000)]
    assert choose_bands(wide, 3) == ["band_250hz", "band_1000hz", "band_4000hz"]
    odd = [f"band_{f}hz" for f in (20, 25, 31.5, 40, 50)]
    assert choose_bands(odd, 3) == ["band_20hz", "band_31.5hz", "band_50hz"]
    assert choose_bands(odd, 0) == [] and choose_bands([], 3) == []


def entry(start, hours):
    return FileEntry("f", "ok", "", hours * 3600, start, 0, "", "", None, ())


@pytest.mark.parametrize(
    "hours, width",
    [
        (0.5, dt.timedelta(minutes=5)),
        (5, dt.timedelta(minutes=15)),
        (72, dt.timedelta(hours=1)),
        (24 * 30, dt.timedelta(days=1)),
    ],
)
def test_bins_follow_the_span(hours, width):
    start = dt.datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert choose_bin([entry(start, hours)])[0] == width


def test_times():
    t = dt.datetime(2024, 5, 1, 12, 7, 31, tzinfo=UTC)
    assert floor_to(t, dt.timedelta(minutes=5)) == dt.datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
    assert floor_to(t, dt.timedelta(days=1)) == dt.datetime(2024, 5, 1, tzinfo=UTC)
    assert parse_utc("2009-03-28T00:15:10.250Z") == dt.datetime(2009, 3, 28, 0, 15, 10, 250000, tzinfo=UTC)
    assert parse_utc("2009-03-28T01:15:00+01:00") == dt.datetime(2009, 3, 28, 0, 15, tzinfo=UTC)
    assert parse_utc("") is None


def test_missing_or_foreign_run_json_is_one_clear_error(tmp_path):
    with pytest.raises(PamedgeError, match="no run.json"):
        load(tmp_path)
    (tmp_path / "run.json").write_text("{not json")
    with pytest.raises(PamedgeError, match="run.json: cannot read"):
        load(tmp_path)
    (tmp_path / "run.json").write_text('{"tool": "something else"}')
    with pytest.raises(PamedgeError, match="no 'files' list"):
        load(tmp_path)


def test_top_detections_are_the_strongest_per_label_in_file_order_on_ties(tmp_path):
    rows = "".join(
        f"a.wav,0,,{i}.000,{i}.500,10,20,{label},{score},{snr},100\n"
        for i, (label, score, snr) in enumerate(
            [("roi", "", 10), ("roi", "", 30), ("roi", "", 20), ("roi", "", 30), ("up", "0.9", 1), ("up", "0.95", 0)]
        )
    )
    out = write_outdir(tmp_path / "o", [ok("a.wav", "")], rows)
    data = load(out, settings=ReportSettings(top_per_label=3))
    assert data.label_counts == {"roi": 4, "up": 2}
    assert [d.start_s for d in data.top["roi"]] == ["1.000", "3.000", "2.000"]
    assert [d.start_s for d in data.top["up"]] == ["5.000", "4.000"]
    assert data.untimed_detections == 6 and data.binned == {}


def test_levels_empty_absent_and_gaps(tmp_path):
    files = [ok("a.wav", "2024-05-01T00:00:00+00:00", 120), ok("b.wav", "2024-05-01T01:00:00+00:00", 60)]
    header = "file,start_utc,start_s,duration_s,broadband_db,band_63hz,band_125hz\n"
    assert load(write_outdir(tmp_path / "none", files)).levels is None
    assert load(write_outdir(tmp_path / "empty", files, levels=header)).levels is None
    levels = header + (
        "a.wav,2024-05-01T00:00:00Z,0.000,60.000,120.00,100.00,\n"
        "a.wav,2024-05-01T00:01:00Z,60.000,60.000,121.00,101.00,\n"
        "b.wav,2024-05-01T01:00:00Z,0.000,60.000,-inf,102.00,\n"
    )
    series = load(write_outdir(tmp_path / "some", files, levels=levels)).levels
    assert series.rows == 3 and list(series.bands) == ["band_63hz"]  # 125 Hz holds no value
    # a NaN row breaks the line across the 58-minute gap; -inf (digital silence) is not drawn
    assert series.broadband[:2] == (120.0, 121.0) and all(x != x for x in series.broadband[2:])
    assert series.times[0] == dt.datetime(2024, 5, 1, 0, 0, 30, tzinfo=UTC) and series.times[2] is None
    assert series.bands["band_63hz"][3] == 102.0
