"""The soundscape files of a run, per UTC day: ``hmd_YYYYMMDD.csv`` (minutes x HMD bands,
dB re 1 uPa^2/Hz), ``decidecade_YYYYMMDD.csv`` (minutes x decidecades, dB re 1 uPa),
``percentiles_YYYYMMDD.csv`` (percentiles and power mean per HMD band) and, with the
``soundscape`` extra (xarray, netCDF4), ``hmd_YYYYMMDD.nc`` laid out as the IOOS SoundCoop
HMD NetCDF template lays out a day (``psd``, ``effort`` and ``quality_flag`` over ``time`` and
``frequency``, with ACDD global attributes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge._extras import installed
from edge.outputs import csv_text
from edge.soundscape.products import days, decidecades, percentiles, to_db
from edge.soundscape.settings import SoundscapeSettings
from edge.soundscape.types import Day, Minute
from edge.timestamps import iso_utc

INSTALL_HINT = "pip install 'pamedge[soundscape]'"
# IOOS QARTOD flags, as the SoundCoop template uses them
QUALITY_GOOD, QUALITY_NOT_EVALUATED, QUALITY_BAD, QUALITY_MISSING = 1, 2, 4, 9


def have_netcdf() -> bool:
    return installed("xarray", "netCDF4")


def stem(day: Day) -> str:
    return day.date.strftime("%Y%m%d")


def _cells(values: np.ndarray, digits: int = 2) -> list[str]:
    return ["" if not np.isfinite(x) else f"{x:.{digits}f}" for x in values.tolist()]


def hmd_csv(day: Day) -> str:
    """Minutes x HMD bands (columns named by centre frequency, Hz)."""
    db = to_db(day.psd)
    rows = [[iso_utc(t), f"{e:g}", *_cells(row)] for t, e, row in zip(day.times, day.effort_s, db)]
    return csv_text(["time_utc", "effort_s", *day.bands.names], rows)


def decidecade_csv(day: Day) -> str:
    bands, db = decidecades(day)
    rows = [[iso_utc(t), f"{e:g}", *_cells(row)] for t, e, row in zip(day.times, day.effort_s, db)]
    return csv_text(["time_utc", "effort_s", *bands.names], rows)


def percentile_csv(day: Day, settings: SoundscapeSettings) -> str:
    """A row per percentile (``p50`` ...) and one for the power mean, a column per band."""
    pct, mean = percentiles(day, settings.percentiles, settings.min_effort_s)
    minutes = int(np.sum(day.effort_s >= settings.min_effort_s))
    rows = [[f"p{p:g}", str(minutes), *_cells(row)] for p, row in zip(settings.percentiles, pct)]
    rows.append(["mean", str(minutes), *_cells(mean)])
    return csv_text(["statistic", "minutes", *day.bands.names], rows)


def quality_flags(day: Day) -> np.ndarray:
    """Not evaluated where there is a level, missing where there is none (QARTOD)."""
    flags = np.full(day.psd.shape, QUALITY_NOT_EVALUATED, np.int8)
    flags[~np.isfinite(day.psd) | (day.psd <= 0)] = QUALITY_MISSING
    return flags


def write_netcdf(day: Day, path: Path, attrs: dict[str, Any]) -> None:
    """The day as NetCDF-4 (``psd`` in dB re 1 uPa^2/Hz, float32), per the SoundCoop layout."""
    import xarray as xr

    times = np.array([t.replace(tzinfo=None) for t in day.times], dtype="datetime64[ns]")
    b = day.bands
    ds = xr.Dataset(
        {
            "psd": (
                ("time", "frequency"),
                to_db(day.psd).astype(np.float32),
                {
                    "standard_name": "sound_intensity_in_water",
                    "long_name": "one-sided mean-square sound pressure spectral density, hybrid millidecade bands",
                    "units": "dB re 1 micropascal^2/Hz",
                    "coverage_content_type": "physicalMeasurement",
                    "comment": "mean over the minute of 1-s Hann Welch segments with 50 % overlap (ISO 18405 "
                    "mean-square sound pressure spectral density level), averaged over each band",
                },
            ),
            "effort": (
                ("time",),
                day.effort_s.astype(np.float32),
                {
                    "long_name": "seconds of audio in the minute",
                    "units": "seconds",
                    "coverage_content_type": "qualityInformation",
                },
            ),
            "quality_flag": (
                ("time", "frequency"),
                quality_flags(day),
                {
                    "long_name": "data quality flag",
                    "coverage_content_type": "qualityInformation",
                    "flag_values": np.array(
                        [QUALITY_GOOD, QUALITY_NOT_EVALUATED, 3, QUALITY_BAD, QUALITY_MISSING], np.int8
                    ),
                    "flag_meanings": "good not_evaluated questionable bad missing",
                },
            ),
            "frequency_bounds": (("frequency", "nv"), np.stack([b.lower, b.upper], axis=1).astype(np.float32)),
        },
        coords={
            "time": (
                "time",
                times,
                {
                    "standard_name": "time",
                    "long_name": "UTC start of the minute",
                    "coverage_content_type": "coordinate",
                },
            ),
            "frequency": (
                "frequency",
                b.centres.astype(np.float32),
                {
                    "standard_name": "sound_frequency",
                    "long_name": "centre frequency of the hybrid millidecade band",
                    "units": "Hz",
                    "bounds": "frequency_bounds",
                    "coverage_content_type": "coordinate",
                },
            ),
        },
        attrs=attrs,
    )
    encoding = {
        "psd": {"zlib": True, "complevel": 4, "_FillValue": np.float32(np.nan)},
        "time": {"units": "seconds since 1970-01-01T00:00:00Z", "dtype": "float64"},
    }
    ds.to_netcdf(path, format="NETCDF4", engine="netcdf4", encoding=encoding)


def netcdf_attrs(day: Day, *, deployment: str, site: Any, calibration: str, version: str) -> dict[str, Any]:
    """ACDD global attributes of a day's file, and the SoundCoop template's ``SamplingRate``
    (the highest among the day's recordings); ``site`` is the deployment's site section or None."""
    first, last = day.times[0], day.times[-1] + dt.timedelta(minutes=1)
    attrs: dict[str, Any] = {
        "SamplingRate": day.sample_rate,
        "title": f"Hybrid millidecade spectra, {deployment}, {day.date.isoformat()}",
        "summary": "Calibrated ocean sound levels in hybrid millidecade bands (Martin et al. 2021, JASA Express "
        "Letters 1, 011203) per UTC minute, one file per day",
        "Conventions": "CF-1.8, ACDD-1.3",
        "keywords": "ocean sound, soundscape, hybrid millidecade, passive acoustic monitoring",
        "source": f"pamedge {version}",
        "date_created": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "time_coverage_start": iso_utc(first),
        "time_coverage_end": iso_utc(last),
        "time_coverage_resolution": "PT1M",
        "deployment": deployment,
        "calibration": calibration,
        "frequency_resolution": "1 Hz bands to 434 Hz, millidecade bands above",
    }
    if site is not None:
        attrs.update(
            {
                "geospatial_lat_min": site.latitude,
                "geospatial_lat_max": site.latitude,
                "geospatial_lon_min": site.longitude,
                "geospatial_lon_max": site.longitude,
            }
        )
        if site.depth_m is not None:
            attrs.update(
                {
                    "geospatial_vertical_min": site.depth_m,
                    "geospatial_vertical_max": site.depth_m,
                    "geospatial_vertical_positive": "down",
                    "geospatial_vertical_units": "m",
                }
            )
        for key, name in (
            ("name", "site"),
            ("project", "project"),
            ("instrument", "instrument"),
            ("platform", "platform"),
        ):
            if getattr(site, key):
                attrs[name] = getattr(site, key)
        if site.recorder_serial:
            attrs["instrument_serial"] = site.recorder_serial
    return attrs


def write_day(
    day: Day,
    settings: SoundscapeSettings,
    text: Callable[[str, str], None],
    path: Callable[[str], Path],
    attrs: dict[str, Any] | None,
) -> None:
    """A day's files: ``text(name, content)`` writes a CSV, ``path(name)`` gives where the
    NetCDF goes (written only with ``attrs``, i.e. when :func:`have_netcdf`)."""
    name = stem(day)
    text(f"hmd_{name}.csv", hmd_csv(day))
    text(f"decidecade_{name}.csv", decidecade_csv(day))
    text(f"percentiles_{name}.csv", percentile_csv(day, settings))
    if attrs is not None:
        write_netcdf(day, path(f"hmd_{name}.nc"), attrs)


def write_days(
    by_day: dict[dt.date, list[Callable[[], tuple[int, list[Minute]]]]],
    settings: SoundscapeSettings,
    text: Callable[[str, str], None],
    path: Callable[[str], Path],
    attrs_of: Callable[[Day], dict[str, Any]],
) -> dict[str, Any]:
    """Every day of ``by_day`` (each day: loaders of the recordings holding minutes of it,
    called when the day is written, so memory holds one day), as :func:`write_day` writes
    it; returns what run.json says of them."""
    netcdf = have_netcdf()
    written = []
    for date in sorted(by_day):
        recorded = []
        for load in by_day[date]:
            rate, minutes = load()
            recorded.append((rate, [m for m in minutes if m.start_utc.date() == date]))
        for day in days(recorded, settings.fmax):
            write_day(day, settings, text, path, attrs_of(day) if netcdf else None)
            written.append(stem(day))
    return {
        "days": written,
        "netcdf": netcdf,
        **({} if netcdf else {"netcdf_missing": f"NetCDF needs xarray and netCDF4: {INSTALL_HINT}"}),
    }
