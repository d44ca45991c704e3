"""edge-detect's soundscape products: soundscape/ per UTC day, NetCDF beside the CSVs, a
recording without a clock said and skipped, resume and cluster units alike."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edge.cli.detect import main
from edge.cluster.engine import run_units
from edge.cluster.task import run_unit
from edge.config import load_deployment
from edge.detect import RunOptions, detect
from edge.site import SiteSettings
from edge.soundscape.settings import SoundscapeSettings
from edge.soundscape.write import have_netcdf

RATE = 8000


@pytest.fixture
def recordings(tmp_path, write_audio, rng):
    folder = tmp_path / "in"
    t = np.arange(RATE * 150) / RATE
    tone = 0.05 * np.sin(2 * np.pi * 1000 * t)
    for name in ("site_20240501T235830Z.wav", "site_20240502T000100Z.wav"):
        write_audio(name, tone + 0.001 * rng.standard_normal(len(t)), RATE, folder=folder)
    write_audio("noclock.wav", 0.001 * rng.standard_normal(RATE * 10), RATE, folder=folder)
    return folder


def deployment(tmp_path, extra=""):
    path = tmp_path / "deployment.yaml"
    path.write_text(
        "name: soundscape_test\n"
        "soundscape:\n  min_effort_s: 30\n"
        "site:\n  latitude: 41.5\n  longitude: -70.1\n  depth_m: 25\n  name: CCB\n  instrument: SoundTrap ST600\n"
        + extra
    )
    return path


def read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_a_soundscape_section_writes_the_daily_products(tmp_path, recordings):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["--config", str(deployment(tmp_path)), "--no-model", str(recordings), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "noclock.wav: no UTC start time" in result.output  # said, and its detections still written
    names = {p.name for p in (out / "soundscape").iterdir()}
    products = [("decidecade", "csv"), ("hmd", "csv"), ("percentiles", "csv")]
    if have_netcdf():  # NetCDF with pamedge[soundscape] only
        products.append(("hmd", "nc"))
    assert names == {f"{kind}_{day}.{ext}" for day in ("20240501", "20240502") for kind, ext in products}
    first = read(out / "soundscape" / "hmd_20240501.csv")
    assert [r["time_utc"] for r in first] == ["2024-05-01T23:58:00Z", "2024-05-01T23:59:00Z"]
    assert [float(r["effort_s"]) for r in first] == [30.0, 60.0]
    second = read(out / "soundscape" / "hmd_20240502.csv")
    # 00:00 (the first file's last 30 s), 00:01 .. 00:03 (the second file, 00:01:00 to 00:03:30)
    assert [r["time_utc"][11:16] for r in second] == ["00:00", "00:01", "00:02", "00:03"]
    dd = read(out / "soundscape" / "decidecade_20240501.csv")
    expected = 170.0 + 20 * np.log10(0.05 / np.sqrt(2))  # the generic deployment's default calibration
    assert float(dd[1]["band_1000hz"]) == pytest.approx(expected, abs=0.1)
    pct = {r["statistic"]: r for r in read(out / "soundscape" / "percentiles_20240501.csv")}
    assert pct["p50"]["minutes"] == "2"  # both minutes have >= 30 s
    run = json.loads((out / "run.json").read_text())
    assert "hmd" in run["outputs"] and run["soundscape"]["days"] == ["20240501", "20240502"]


def test_netcdf_holds_the_csv_levels_and_the_site(tmp_path, recordings):
    xr = pytest.importorskip("xarray")
    out = tmp_path / "out"
    CliRunner().invoke(main, ["--config", str(deployment(tmp_path)), "--no-model", str(recordings), "-o", str(out)])
    with xr.open_dataset(out / "soundscape" / "hmd_20240501.nc") as ds:
        assert dict(ds.sizes)["time"] == 2 and ds.psd.dims == ("time", "frequency")
        assert ds.psd.attrs["units"] == "dB re 1 micropascal^2/Hz" and ds.attrs["SamplingRate"] == 8000
        assert ds.frequency.attrs["standard_name"] == "sound_frequency" and ds.effort.attrs["units"] == "seconds"
        assert ds.attrs["geospatial_lat_min"] == 41.5 and ds.attrs["site"] == "CCB"
        assert ds.attrs["time_coverage_start"] == "2024-05-01T23:58:00Z"
        rows = read(out / "soundscape" / "hmd_20240501.csv")
        csv_db = np.array([[float(v) for v in list(r.values())[2:]] for r in rows])
        np.testing.assert_allclose(ds.psd.values, csv_db, atol=0.006)
        assert ds.effort.values.tolist() == [30.0, 60.0]
        assert (ds.quality_flag.values == 2).all()


def test_outputs_decide_without_a_soundscape_section(tmp_path, recordings):
    config = tmp_path / "plain.yaml"
    config.write_text("name: plain\n")
    out = tmp_path / "a"
    CliRunner().invoke(main, ["--config", str(config), "--no-model", str(recordings), "-o", str(out)])
    assert not (out / "soundscape").exists()
    out = tmp_path / "b"
    result = CliRunner().invoke(
        main, ["--config", str(config), "--no-model", "--outputs", "csv,hmd", str(recordings), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (out / "soundscape" / "hmd_20240502.csv").exists()


def test_resume_and_cluster_units_give_the_same_tables(tmp_path, recordings):
    config = load_deployment(deployment(tmp_path))
    options = RunOptions(outputs=frozenset({"csv", "hmd"}))
    detect([recordings], tmp_path / "whole", config, options)
    detect([recordings], tmp_path / "whole", config, dataclasses.replace(options, resume=True))
    run_units(
        [recordings],
        tmp_path / "units",
        config,
        options,
        chunk_s=40,
        execute=lambda units, job: (run_unit(u, job) for u in units),
    )
    for name in ("hmd_20240501.csv", "hmd_20240502.csv", "decidecade_20240502.csv", "percentiles_20240502.csv"):
        whole = (tmp_path / "whole" / "soundscape" / name).read_text()
        assert (tmp_path / "units" / "soundscape" / name).read_text() == whole, name


def test_site_and_soundscape_sections_are_validated(tmp_path):
    from edge.errors import ConfigError

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nsite:\n  latitude: 41.5\n  longitude: -70.1\n  depth: 25\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml.*unknown key 'depth'"):
        load_deployment(bad)
    with pytest.raises(ConfigError, match="latitude=95"):
        SiteSettings(latitude=95, longitude=0)
    with pytest.raises(ConfigError, match="percentiles"):
        SoundscapeSettings(percentiles=(50, 101))


def test_report_draws_the_long_term_spectral_average_and_the_spd(tmp_path, recordings):
    pytest.importorskip("matplotlib")
    from edge.report.build import write_report
    from edge.report.data import read_soundscape

    out = tmp_path / "out"
    CliRunner().invoke(main, ["--config", str(deployment(tmp_path)), "--no-model", str(recordings), "-o", str(out)])
    series = read_soundscape(out / "soundscape")
    assert series is not None and len(series.times) == 6  # 23:58, 23:59, 00:00 .. 00:03
    assert series.centres[0] == 1.0 and series.centres[-1] == pytest.approx(3990, rel=0.01)
    html = write_report(out).read_text()
    assert 'id="soundscape"' in html
    assert 'alt="long-term spectral average"' in html and 'alt="spectral probability density"' in html
