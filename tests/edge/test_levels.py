"""edge.levels: decidecade bands, band integration, and splitting a stream into periods."""

from __future__ import annotations

import numpy as np
import pytest

from edge.config import load_deployment
from edge.errors import ConfigError
from edge.frontend import FrontendSpec, StreamingFrontend
from edge.levels import DecidecadeBands, LevelSettings, StreamingLevels, to_rows
from edge.outputs import level_row
from edge.pipeline import process_recording
from edge.types import AudioBlock, SpectralFrames
from tests.support.data import DEPLOYMENTS
from tests.support.signals import tone

CAL_DB = 177.6


def run_levels(spec: FrontendSpec, samples: np.ndarray, settings: LevelSettings, block: int | None = None):
    frontend = StreamingFrontend(spec, CAL_DB)
    levels = StreamingLevels(spec, settings)
    periods = []
    block = block or len(samples)
    for start in range(0, len(samples), block):
        periods += levels.push(frontend.push(AudioBlock(samples[start : start + block].astype(np.float32), start)))
    return levels, periods + levels.flush()


def db(x):
    return 10 * np.log10(x)


def test_band_names_and_centres_at_48k():
    bands = DecidecadeBands.for_spec(FrontendSpec(nfft=1024, hop=512, sample_rate=48000))
    # the lowest band at least one bin (46.9 Hz) wide is 251 Hz; the highest whose upper edge is below 24 kHz
    assert bands.names[0] == "band_250hz" and bands.names[-1] == "band_20000hz"
    assert len(bands.names) == 20
    assert bands.names[6] == "band_1000hz" and bands.centres[6] == 1000.0
    assert bands.names[:7] == (
        "band_250hz",
        "band_315hz",
        "band_400hz",
        "band_500hz",
        "band_630hz",
        "band_800hz",
        "band_1000hz",
    )
    np.testing.assert_allclose(bands.centres, 1000 * 10 ** (np.arange(-6, 14) / 10))
    assert bands.weights.shape == (20, 513)


def test_low_band_names_with_fine_resolution():
    bands = DecidecadeBands.for_spec(FrontendSpec(nfft=8192, hop=4096, sample_rate=2000))
    assert bands.names == (
        "band_10hz",
        "band_12.5hz",
        "band_16hz",
        "band_20hz",
        "band_25hz",
        "band_31.5hz",
        "band_40hz",
        "band_50hz",
        "band_63hz",
        "band_80hz",
        "band_100hz",
        "band_125hz",
        "band_160hz",
        "band_200hz",
        "band_250hz",
        "band_315hz",
        "band_400hz",
        "band_500hz",
        "band_630hz",
        "band_800hz",
    )
    assert bands.centres[5] == pytest.approx(31.6228, abs=1e-4)


@pytest.mark.parametrize(
    ("fmin", "first"),
    [
        (31.5, "band_31.5hz"),
        (20, "band_20hz"),
        (16, "band_16hz"),
        (80, "band_80hz"),
        (40, "band_40hz"),
        (100, "band_100hz"),
        (105, "band_125hz"),
        (19.0, "band_20hz"),
    ],
)
def test_fmin_names_the_lowest_band_by_its_nominal_centre(fmin, first):
    spec = FrontendSpec(nfft=8192, hop=4096, sample_rate=2000)
    assert DecidecadeBands.for_spec(spec, fmin).names[0] == first


@pytest.mark.parametrize(("rate", "nfft"), [(48000, 1024), (2000, 256), (2000, 8192), (96000, 1000)])
def test_band_weights_sum_to_the_bandwidth(rate, nfft):
    spec = FrontendSpec(nfft=nfft, hop=nfft // 2, sample_rate=rate)
    bands = DecidecadeBands.for_spec(spec)
    lower, upper = bands.centres * 10**-0.05, bands.centres * 10**0.05
    assert upper[-1] <= rate / 2
    np.testing.assert_allclose(bands.weights.sum(axis=1), upper - lower, rtol=1e-9)
    assert np.all(bands.weights >= 0) and np.all(bands.weights <= rate / nfft + 1e-9)
    # adjacent bands share their edge: a bin's weights never exceed its width
    assert np.all(bands.weights.sum(axis=0) <= rate / nfft + 1e-9)


def test_band_weights_narrower_than_a_bin_take_the_fraction():
    spec = FrontendSpec(nfft=256, hop=128, sample_rate=2000)  # 7.8 Hz bins
    bands = DecidecadeBands.for_spec(spec, fmin=10.0)  # band_10hz is 2.3 Hz wide
    assert bands.names[0] == "band_10hz"
    row = bands.weights[0]
    assert np.count_nonzero(row) == 1 and row[1] == pytest.approx(10 * (10**0.05 - 10**-0.05))


@pytest.mark.parametrize(("freq", "band"), [(1000.0, "band_1000hz"), (2500.0, "band_2500hz"), (5000.0, "band_5000hz")])
def test_tone_energy_lands_in_its_band(freq, band):
    spec = FrontendSpec(nfft=1024, hop=512, sample_rate=48000)
    levels, periods = run_levels(spec, tone(freq, 0.1, 10, 48000), LevelSettings(period_s=60))
    ((index, broadband, bands),) = periods
    spl = 20 * np.log10(0.1 / np.sqrt(2)) + CAL_DB  # 154.59 dB re 1 uPa
    assert index == 0
    assert db(broadband) == pytest.approx(spl, abs=0.05)
    k = levels.bands.names.index(band)
    assert db(bands[k]) == pytest.approx(spl, abs=0.05)
    others = np.delete(bands, k)
    assert db(others.max()) < spl - 30  # Hann leakage into the next band is about -35 dB


def test_periods_split_by_frame_centre_with_a_short_last_period(rng):
    spec = FrontendSpec(nfft=256, hop=64, sample_rate=2000)
    sigmas = (0.02, 0.01, 0.04)  # a different level in each period: 60 s, 60 s, 30 s
    x = np.concatenate([s * rng.standard_normal(n * 2000) for s, n in zip(sigmas, (60, 60, 30))])
    settings = LevelSettings(period_s=60)
    _, periods = run_levels(spec, x, settings)
    assert [p[0] for p in periods] == [0, 1, 2]
    # broadband spans the lowest band's lower edge (40 Hz band: 35.5 Hz) to Nyquist, so white
    # noise contributes that fraction of its variance; frames straddling a boundary move it a little
    span = 1 - DecidecadeBands.for_spec(spec).centres[0] * 10**-0.05 / 1000
    for (_, broadband, _), sigma in zip(periods, sigmas):
        assert db(broadband) == pytest.approx(20 * np.log10(sigma) + CAL_DB + 10 * np.log10(span), abs=0.1)
    rows = to_rows(periods, file="f.wav", start_utc_of=lambda s: f"t+{s:g}", period_s=60, total_s=150.0)
    assert [(r.start_s, r.duration_s, r.start_utc) for r in rows] == [
        (0, 60, "t+0"),
        (60, 60, "t+60"),
        (120, 30.0, "t+120"),
    ]
    assert rows[2].file == "f.wav"
    assert len(rows[0].bands_db) == len(DecidecadeBands.for_spec(spec).names)
    assert rows[1].broadband_db == pytest.approx(db(periods[1][1]))


@pytest.mark.parametrize("chunk", [1, 4, 9, 10, 11, 100])
def test_a_frame_belongs_to_the_period_holding_its_centre(chunk):
    spec = FrontendSpec(nfft=16, hop=8, sample_rate=80)  # frame k is centred at (k + 1) / 10 s
    levels = StreamingLevels(spec, LevelSettings(period_s=1.0))
    psd = np.repeat(np.arange(25, dtype=np.float32)[:, None], spec.n_bins, axis=1)  # frame k holds k
    periods = []
    for first in range(0, 25, chunk):
        periods += levels.push(SpectralFrames(psd[first : first + chunk], first))
    periods += levels.flush()
    # period 0: frames 0..8 (frame 9 is centred at exactly 1.0 s); period 1: 9..18; period 2: 19..24
    assert [p[0] for p in periods] == [0, 1, 2]
    df_total = DecidecadeBands.for_spec(spec).broadband.sum()  # Hz from the 25 Hz band's lower edge to 40 Hz
    np.testing.assert_allclose([p[1] for p in periods], [4.0 * df_total, 13.5 * df_total, 21.5 * df_total])


def test_period_results_do_not_depend_on_block_size(rng):
    spec = FrontendSpec(nfft=256, hop=64, sample_rate=2000)
    x = 0.05 * rng.standard_normal(2000 * 25)
    _, whole = run_levels(spec, x, LevelSettings(period_s=10))
    _, streamed = run_levels(spec, x, LevelSettings(period_s=10), block=777)
    assert [p[0] for p in whole] == [p[0] for p in streamed] == [0, 1, 2]
    for a, b in zip(whole, streamed):
        assert a[1] == pytest.approx(b[1], rel=1e-9)
        np.testing.assert_allclose(a[2], b[2], rtol=1e-9)


def test_empty_push_and_flush():
    spec = FrontendSpec(nfft=256, hop=64, sample_rate=2000)
    levels = StreamingLevels(spec, LevelSettings())
    assert levels.push(SpectralFrames(np.zeros((0, 129), np.float32), 0)) == []
    assert levels.flush() == []


def test_silence_is_minus_infinity_not_an_error():
    rows = to_rows([(0, 0.0, np.array([0.0, 1.0]))], file="f", start_utc_of=lambda s: "", period_s=60, total_s=60)
    assert rows[0].broadband_db == float("-inf")
    assert rows[0].bands_db == (float("-inf"), 0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"period_s": 0}, r"period_s=0 must be > 0"),
        ({"period_s": "1m"}, r"period_s='1m' is not a number"),
        ({"fmin": 0}, r"fmin=0 must be > 0"),
    ],
)
def test_settings_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        LevelSettings(**kwargs)


def test_broadband_ignores_a_dc_offset(rng):
    spec = FrontendSpec(nfft=256, hop=64, sample_rate=2000)
    noise = 0.01 * rng.standard_normal(2000 * 60)
    _, plain = run_levels(spec, noise, LevelSettings(period_s=60))
    _, offset = run_levels(spec, noise - 0.17, LevelSettings(period_s=60))  # a recorder's DC offset
    assert db(offset[0][1]) == pytest.approx(db(plain[0][1]), abs=0.05)


def test_bands_above_what_a_recording_holds_are_not_measured():
    spec = FrontendSpec(nfft=1024, hop=512, sample_rate=48000)
    held = DecidecadeBands.for_spec(spec, held_hz=3640.0)  # a 8 kHz recording's resampler pass band
    whole = DecidecadeBands.for_spec(spec)
    assert held.names == whole.names  # the same columns for every recording of a run
    upper = held.centres * 10**0.05
    assert list(held.measured) == list(upper <= 3640.0) and held.names[int(held.measured.sum())] == "band_4000hz"
    assert whole.measured.all()
    freqs = spec.bin_freqs()
    assert held.broadband[freqs > 3640.0 + spec.rate / spec.nfft].sum() == 0  # the broadband level stops there too
    np.testing.assert_array_equal(held.broadband[freqs < 3600.0], whole.broadband[freqs < 3600.0])


def test_a_recording_resampled_up_keeps_its_levels_and_leaves_the_band_above_it_empty(write_audio):
    rng = np.random.default_rng(11)
    path = write_audio("noise8k.wav", (0.05 * rng.standard_normal(8000 * 20)).astype(np.float32), 8000)
    own = process_recording(path, load_deployment(DEPLOYMENTS / "generic.yaml"), None)  # at its own 8 kHz
    up = process_recording(path, load_deployment(DEPLOYMENTS / "multispecies.yaml"), None)  # at 44.1 kHz
    (own_row,), (up_row,) = own.levels, up.levels
    own_bands = dict(zip(own.level_bands, own_row.bands_db))
    up_bands = dict(zip(up.level_bands, up_row.bands_db))
    shared = [b for b in own_bands if b in up_bands and not np.isnan(up_bands[b])]
    assert "band_125hz" in shared and "band_3150hz" in shared
    for b in shared:  # white noise: each band's level is the recording's, whatever the analysis rate
        assert up_bands[b] == pytest.approx(own_bands[b], abs=0.3), b
    above = [b for b, v in up_bands.items() if np.isnan(v)]
    assert above[0] == "band_4000hz" and "band_16000hz" in above  # the resampler's residue: not the sea's
    # the broadband level is the measured bands' (and the 92 Hz up to the pass band's top), not the residue's
    in_bands = 10 * np.log10(sum(10 ** (v / 10) for v in up_row.bands_db if not np.isnan(v)))
    assert up_row.broadband_db == pytest.approx(in_bands + 10 * np.log10((3640 - 89) / (3548 - 89)), abs=0.05)
    assert "" in level_row(up_row)  # an empty cell in levels.csv
