"""The impulse detector (edge.clicks) on synthetic click trains with known times: what it finds,
what it measures, how it groups clicks into trains, and that the stream's cut does not matter."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.clicks import ClickSettings, ImpulseDetector, _row_medians, bank, colour_margins, train_text
from edge.cluster.engine import run_units
from edge.cluster.task import run_unit
from edge.config import load_deployment
from edge.detect import RunOptions, detect
from edge.errors import ConfigError
from edge.pipeline import prepare, process_recording
from edge.types import AudioBlock, SpectralFrames
from tests.support.data import DEPLOYMENTS, ROOT
from tests.support.signals import porpoise_clicks

SR = 96_000
NOISE = 0.01  # white noise RMS, full scale
EMPTY = SpectralFrames(np.zeros((0, 3), np.float32), 0)


def clicks_in_noise(rng, seconds, times, snr_db, fc=20_000.0):
    """White noise with a 50-us Gabor click (centre ``fc``) at each of ``times``, its peak
    amplitude ``snr_db`` over the noise RMS."""
    x = NOISE * rng.standard_normal(int(seconds * SR))
    t = np.arange(-48, 48) / SR
    for when, snr in zip(times, snr_db):
        i = int(when * SR)
        x[i - 48 : i + 48] += NOISE * 10 ** (snr / 20) * np.exp(-((t / 50e-6) ** 2)) * np.cos(2 * np.pi * fc * t)
    return x.astype(np.float32)


def run(x, settings=None, block=SR):
    found = []
    d = ImpulseDetector(settings or ClickSettings(fmin=5000), SR, level_db=170.0, hop=512, on_click=found.append)
    d.clicks = found  # the test's record of every click (the detector itself keeps only the open train)
    rois = []
    for start in range(0, len(x), block):
        rois += d.push(EMPTY, AudioBlock(x[start : start + block], start))
    return d, rois + d.flush()


@pytest.fixture(scope="module")
def train():
    rng = np.random.default_rng(4)
    times = np.arange(0.5, 59.5, 0.5) + rng.uniform(-0.05, 0.05, 118)
    return clicks_in_noise(rng, 60, times, rng.uniform(12, 20, len(times))), times


@pytest.mark.slow
def test_clicks_of_a_train_are_found_and_noise_gives_none(train):
    x, times = train
    d, rois = run(x)
    found = np.array([c.time_s for c in d.clicks])
    hits = sum(bool(np.any(np.abs(found - t) < 0.001)) for t in times)
    false = sum(not np.any(np.abs(times - f) < 0.001) for f in found)
    assert hits >= 0.95 * len(times) and false <= 1
    assert len(rois) == 1 and rois[0].clicks == len(found) and abs(rois[0].ici_s - 0.5) < 0.05
    noise = (NOISE * np.random.default_rng(9).standard_normal(60 * SR)).astype(np.float32)
    quiet, none = run(noise)
    assert len(quiet.clicks) <= 1 and none == []  # at most one false click per minute of noise


def test_a_trains_interval_is_its_principal_clicks_not_the_faint_impulses_between_them():
    rng = np.random.default_rng(12)
    strong = np.arange(2.5, 11.6, 0.8)  # a whale's clicks, 0.8 s apart, 32-34 dB (after the floor's first 2 s)
    faint = strong[:-1] + rng.uniform(0.15, 0.65, len(strong) - 1)  # an impulse between each two, 15-17 dB
    times = np.concatenate([strong, faint])
    snr = np.concatenate([rng.uniform(32, 34, len(strong)), rng.uniform(15, 17, len(faint))])
    d, rois = run(clicks_in_noise(rng, 12, times, snr))
    assert len(d.clicks) == len(times) and len(rois) == 1
    assert rois[0].clicks == len(times) and rois[0].ici_s == pytest.approx(0.8, abs=0.002)  # all: about 0.4 s
    # two loud clicks 4 s apart in a train of faint ones every 0.5 s: no train of their own, so
    # the interval is every click's (a train's cannot exceed the 2-s gap that ends a train)
    faint = np.arange(2.5, 11.0, 0.5)
    snr = np.where(np.isin(faint, [4.5, 8.5]), 33.0, 16.0)
    d, rois = run(clicks_in_noise(rng, 12, faint, snr))
    assert len(rois) == 1 and rois[0].clicks == len(faint) and rois[0].ici_s == pytest.approx(0.5, abs=0.002)
    lone = clicks_in_noise(rng, 4, [2.5], [33.0])
    (one,) = run(lone, ClickSettings(fmin=5000, train_min_clicks=1))[1]
    assert one.clicks == 1 and np.isnan(one.ici_s)  # one click: no interval


def test_low_narrowband_clicks_are_found_like_high_broad_ones():
    """A 6-kHz click of 30 % bandwidth (about 0.6 ms) holds its energy in one octave of the
    5-43 kHz band: the octave's band finds it (the whole band's energy alone, or Teager-Kaiser
    energy, which weights each sample by its frequency squared, found 36 of these 118)."""
    rng = np.random.default_rng(4)
    times = np.arange(0.5, 59.5, 0.5) + rng.uniform(-0.05, 0.05, 118)
    sigma = 2.355 / (2 * np.pi * 0.3 * 6_000)  # the spectrum's half-power width: 30 % of 6 kHz
    t = np.arange(-int(3 * sigma * SR), int(3 * sigma * SR) + 1) / SR
    click = np.exp(-0.5 * (t / sigma) ** 2) * np.cos(2 * np.pi * 6_000 * t)
    x = NOISE * rng.standard_normal(60 * SR)
    for when, snr in zip(times, rng.uniform(12, 20, len(times))):
        i = int(when * SR) - len(click) // 2
        x[i : i + len(click)] += NOISE * 10 ** (snr / 20) * click
    d, _ = run(x.astype(np.float32))
    found = np.array([c.time_s for c in d.clicks])
    assert sum(bool(np.any(np.abs(found - w) < 0.001)) for w in times) >= 0.95 * len(times)
    assert sum(not np.any(np.abs(times - f) < 0.001) for f in found) <= 1
    assert abs(np.median([c.peak_hz for c in d.clicks]) - 6_000) < 500


def coloured_noise(rng, seconds, slope_db_per_octave, rate=SR):
    """Gaussian noise whose power falls ``slope_db_per_octave`` an octave from 50 Hz up (rises, when
    negative), as the sea's does above its shipping band (wind and rain: 5-6 dB an octave)."""
    n = int(seconds * rate)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.maximum(np.fft.rfftfreq(n, 1 / rate), 50.0) ** (slope_db_per_octave / 6.02)
    x = np.fft.irfft(spectrum, n)
    return (NOISE * x / x.std()).astype(np.float32)


@pytest.mark.parametrize("slope_db", [-18, -12, 3, 6, 9, 12])
def test_noise_that_falls_or_rises_with_frequency_gives_no_clicks(slope_db):
    """In noise falling 6 dB an octave the whole band's energy is its lowest octave's, averaged over
    the time that suits the whole band's width: it fluctuated past the threshold 237 times a minute
    from 2 kHz at 48 kHz (869 at 9 dB an octave, 4 at 3) before each band's threshold took the noise's
    colour into account (colour_margins). A recorder's self-noise can rise towards the top of the band
    (12 and 18 dB an octave: 29 and 130 in 20 s before), and then each octave is coloured too."""
    x = coloured_noise(np.random.default_rng(abs(slope_db)), 20, slope_db, rate=48_000)
    seen = []
    d = ImpulseDetector(ClickSettings(fmin=2000), 48_000, level_db=170.0, hop=512, on_click=seen.append)
    for start in range(0, len(x), 48_000):
        d.push(EMPTY, AudioBlock(x[start : start + 48_000], start))
    d.flush()
    assert len(seen) <= 1


def test_the_colour_margin_is_none_for_white_noise_and_grows_as_the_noise_reddens():
    d = ImpulseDetector(ClickSettings(fmin=2000), 48_000, level_db=170.0, hop=512)
    bins = np.fft.rfftfreq(1024, 1 / 48_000)
    white = colour_margins(np.ones(len(bins)), d._gains, 4.0, 10**0.85)
    assert white == pytest.approx(np.ones(len(d._bands)))
    reds = [colour_margins(np.maximum(bins, 50.0) ** -s, d._gains, 4.0, 10**0.85) for s in (0.5, 1.0, 2.0, 4.0)]
    whole = [m[0] for m in reds]
    assert 1.0 < whole[0] < whole[1] < whole[2] < whole[3]  # the whole band most: it spans 3 octaves
    assert all(m[1] < m[0] for m in reds)  # an octave's noise is nearly flat across it
    rising = colour_margins(np.maximum(bins, 50.0) ** 2.0, d._gains, 4.0, 10**0.85)  # a recorder's self-noise
    assert rising[-1] > 1.0 and rising[0] > 1.0


def test_the_bank_is_the_whole_band_and_its_octaves():
    assert bank(5_000, 43_200, 1) == [(5_000, 43_200), (5_000, 10_000), (10_000, 20_000), (20_000, 43_200)]
    assert bank(5_000, 43_200, 0) == [(5_000, 43_200)]
    assert bank(5_000, 8_000, 1) == [(5_000, 8_000)]  # less than an octave: the whole band alone
    # a last sub-band narrower than half a step joins the one below it
    assert bank(2_000, 9_000, 1) == [(2_000, 9_000), (2_000, 4_000), (4_000, 9_000)]
    edges = bank(2_000, 43_200, 2)[1:]
    assert edges[0][0] == 2_000 and edges[-1][1] == 43_200
    assert all(a[1] == b[0] for a, b in zip(edges, edges[1:]))  # contiguous


def test_each_click_is_measured(train):
    x, _ = train
    d, _ = run(x)
    assert abs(np.median([c.peak_hz for c in d.clicks]) - 20_000) < 500
    # a broad 50-us click at 12-20 dB: a weak one's peak may stray by a few bins
    assert np.mean([abs(c.peak_hz - 20_000) <= 2_500 for c in d.clicks]) >= 0.9
    assert np.median([c.duration_s for c in d.clicks]) < 0.0003  # a 50-us Gaussian envelope, smoothed
    for c in d.clicks:  # the centroid holds for every one
        assert 16_000 < c.centroid_hz < 24_000
        assert c.low10_hz <= c.low3_hz < c.peak_hz < c.high3_hz <= c.high10_hz
        assert 0 < c.duration_s < 0.001 and c.snr_db > ClickSettings().threshold_db
    # a 50-us click of peak amplitude a: peak-to-peak about 2a, in dB re 1 uPa pp with the 170-dB calibration
    levels = np.array([c.received_level_db for c in d.clicks])
    expected = 20 * np.log10(2 * NOISE * 10 ** (np.array([12, 20]) / 20)) + 170
    assert expected[0] - 3 < levels.min() and levels.max() < expected[1] + 3


def test_trains_split_at_long_gaps_into_rois(train):
    rng = np.random.default_rng(5)
    times = np.concatenate([np.arange(1, 4, 0.3), np.arange(10, 12, 0.2), [20.0, 20.4]])
    x = clicks_in_noise(rng, 25, times, np.full(len(times), 18.0))
    _, rois = run(x, ClickSettings(fmin=5000, train_max_ici_s=2.0, train_min_clicks=3))
    assert [r.clicks for r in rois] == [10, 10]  # the two-click group is no train
    assert [round(r.ici_s, 2) for r in rois] == [0.3, 0.2]
    for r, first in zip(rois, (1.0, 10.0)):
        assert abs(r.start_s - first) < 0.001 and r.start_frame == int(r.start_s * SR) // 512
        assert 12_000 < r.low_hz < 20_000 < r.high_hz < 28_000


def test_an_endless_click_stream_is_cut_into_trains_of_bounded_length():
    """Snapping shrimp never stop: the open train (all the detector holds of the clicks) is
    closed at train_max_s and another begins."""
    rng = np.random.default_rng(6)
    times = np.arange(0.2, 9.8, 0.1)
    x = clicks_in_noise(rng, 10, times, np.full(len(times), 18.0))
    d, rois = run(x, ClickSettings(fmin=5000, train_max_s=3.0))
    assert len(rois) >= 3 and all(r.end_s - r.start_s <= 3.1 for r in rois)
    assert sum(r.clicks for r in rois) == d.n_clicks == len(d.clicks) >= 0.95 * len(times)


@pytest.mark.slow
@pytest.mark.parametrize("block", [1_237, 48_000])
def test_the_cut_of_the_stream_does_not_matter(train, block):
    x = train[0][: 15 * SR]  # about 30 clicks and seven noise windows (the colour margins change at each)
    whole, whole_rois = run(x, block=len(x))
    cut, cut_rois = run(x, block=block)
    assert cut.clicks == whole.clicks and cut_rois == whole_rois


def excursions_sample_by_sample(ratio, over, sep):
    """What an excursion is, one sample at a time: samples over the threshold at most ``sep``
    apart are one, its peak its first highest ratio."""
    out, run = [], None
    for i in over:
        if run is not None and i - run[1] > sep:
            out.append(tuple(run))
            run = None
        if run is None:
            run = [i, i + 1, i, ratio[i]]
        else:
            run[1] = i + 1
            if ratio[i] > run[3]:
                run[2], run[3] = i, ratio[i]
    return out + ([tuple(run)] if run is not None else [])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 399), max_size=120, unique=True),
    st.lists(st.integers(1, 8), min_size=400, max_size=400),
    st.lists(st.integers(1, 399), max_size=6, unique=True),
)
def test_excursions_are_grouped_as_sample_by_sample_wherever_the_spans_are_cut(over, levels, cuts):
    """The detector groups a span's samples over the threshold a group at a time (snapping shrimp
    put hundreds of thousands an hour over it); ties in ratio (integer levels) test the first peak."""
    ratio = 1.0 + np.array(levels, float)
    over = np.array(sorted(over), int)
    d = ImpulseDetector(ClickSettings(fmin=5000, min_separation_s=0.0001), SR, level_db=170.0, hop=512)
    sep = d._sep  # 10 samples at 96 kHz
    edges = [0, *sorted(cuts), 400]
    for a, b in zip(edges[:-1], edges[1:]):
        inside = over[(over >= a) & (over < b)]
        d._excursions(a, ratio[a:b], inside - a)
        if d._run is not None and b - d._run[1] > sep:
            d._close_run()
    d._close_run()
    want = [(a, b, p, 10 * np.log10(r)) for a, b, p, r in excursions_sample_by_sample(ratio, over.tolist(), sep)]
    assert d._pending == want


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40), st.integers(1, 9), st.integers(0, 2**32 - 1), st.booleans())
def test_row_medians_are_numpys_to_the_bit(width, rows, seed, ties):
    """The floor's medians skip numpy's search for a NaN (the samples are finite by then) and
    must otherwise be its values exactly: the clicks found depend on them."""
    rng = np.random.default_rng(seed)
    a = rng.gamma(2.0, 1e-6, size=(rows, width))
    if ties:
        a = np.round(a * 1e6) / 1e6  # repeated values
    assert np.array_equal(_row_medians(a), np.median(a, axis=1))


@pytest.mark.parametrize("tone_hz", [50, 150, 1000])
def test_a_recording_cut_mid_waveform_has_no_click_at_its_start(tone_hz):
    """A recording starts mid-waveform: its low-frequency sound, here 70 dB over the noise of a
    band from 2 kHz, went through the band-pass filters as a step, one "click" at the first
    sample of every file (and a floor too low for the first segments). A lead-in reflected from
    the stream's first samples primes the filters and the floor, and no click starts before
    the filters have rung down."""
    rate = 48_000
    t = np.arange(2 * rate) / rate
    rng = np.random.default_rng(tone_hz)
    for phase in (0.3, 1.9, 4.0):
        x = 1e-4 * (
            10 ** (70 / 20) * np.sqrt(2) * np.sin(2 * np.pi * tone_hz * t + phase) + rng.standard_normal(len(t))
        )
        found = []
        d = ImpulseDetector(ClickSettings(fmin=2000), rate, level_db=170.0, hop=512, on_click=found.append)
        d.push(EMPTY, AudioBlock(x, 0))
        d.flush()
        assert found == [], [c.time_s for c in found]


def test_the_first_clicks_of_a_stream_are_found_and_a_short_stream_is_cut_anyhow():
    """The lead-in is made of the stream's first half second, gathered over as many blocks as it
    takes (here shorter than the stream itself): the clicks are those of the whole stream in one
    block, the first 20 ms in."""
    rng = np.random.default_rng(6)
    times = [0.02, 0.1, 0.2, 0.25]
    x = clicks_in_noise(rng, 0.3, times, [16.0] * 4)
    whole, whole_rois = run(x, block=len(x))
    assert [round(c.time_s, 3) for c in whole.clicks] == times and len(whole_rois) == 1
    for block in (100, 4_800, 20_000):
        cut, cut_rois = run(x, block=block)
        assert cut.clicks == whole.clicks and cut_rois == whole_rois


def _tone_and_clicks(seconds, seed):
    """A low-frequency tone 60 dB over white noise at 96 kHz, with a 16-dB click every 0.25 s
    from 0.5 s on: a recording whose start and any gap in it are steps to the band-pass filters."""
    rng = np.random.default_rng(seed)
    times = np.arange(0.5, seconds - 0.1, 0.25)
    x = clicks_in_noise(rng, seconds, times, [16.0] * len(times)).astype(np.float64)
    x += NOISE * 1000 * np.sin(2 * np.pi * 120 * np.arange(len(x)) / SR + 0.7)
    return x.astype(np.float32), times


def test_zero_padding_either_side_changes_no_click():
    """Clip libraries pad clips with digital silence: the clicks are those of the clip alone (the
    lead-in is made from the first sound, silence is no floor, the sound's start and end no click)."""
    x, times = _tone_and_clicks(3.0, 7)
    alone, alone_rois = run(x)
    assert [round(c.time_s, 3) for c in alone.clicks] == [round(t, 3) for t in times] and len(alone_rois) == 1
    for pad_s, block in ((0.3, SR), (1.0, 4_801), (3.0, SR)):
        pad = np.zeros(int(pad_s * SR), np.float32)
        padded, rois = run(np.concatenate((pad, x, pad)), block=block)
        assert [c.time_s - len(pad) / SR for c in padded.clicks] == pytest.approx([c.time_s for c in alone.clicks])
        assert [r.start_s - len(pad) / SR for r in rois] == pytest.approx([r.start_s for r in alone_rois])


def test_a_dropout_is_neither_a_click_nor_a_floor():
    """A recorder's dropout (a second and a half of zeros) in the middle of a recording: before,
    the sound resuming was a click and the zeros dragged the floor down for the next second."""
    x, times = _tone_and_clicks(6.0, 8)
    gap = slice(int(2.6 * SR), int(4.1 * SR))
    x[gap] = 0
    kept = times[(times < 2.6) | (times > 4.1 + 0.01)]
    d, _ = run(x, block=10_000)
    assert [round(c.time_s, 3) for c in d.clicks] == [round(t, 3) for t in kept]


def test_non_finite_samples_are_silence_and_the_clicks_after_them_are_found():
    """A float recording's NaN or inf samples: before, one NaN stayed in the band filters' state
    and no click after it was found (4 of the bundled sperm-whale clip's 30)."""
    x, times = _tone_and_clicks(6.0, 8)
    with_zeros = x.copy()
    with_zeros[int(1.3 * SR)] = 0
    with_zeros[int(2.6 * SR) : int(2.7 * SR)] = 0
    bad = x.copy()
    bad[int(1.3 * SR)] = np.nan
    bad[int(2.6 * SR) : int(2.7 * SR)] = np.inf
    found, _ = run(bad, block=10_000)
    want, _ = run(with_zeros, block=10_000)
    assert found.clicks == want.clicks
    assert sum(c.time_s > 2.7 for c in found.clicks) >= sum(t > 2.71 for t in times) > 0


def test_a_band_the_rate_cannot_hold_is_refused():
    with pytest.raises(ValueError, match="does not fit below the Nyquist frequency 24000 Hz"):
        ImpulseDetector(ClickSettings(fmin=5000, fmax=30_000), 48_000, level_db=170.0, hop=512)
    with pytest.raises(ConfigError, match="threshold_db"):
        ClickSettings(threshold_db=0)


@pytest.fixture(scope="module")
def click_deployment(tmp_path_factory):
    """multispecies.yaml (44.1 kHz) with the impulse detector on, no model."""
    import yaml

    from tests.support.data import HYDROPHONES

    data = yaml.safe_load((DEPLOYMENTS / "multispecies.yaml").read_text())
    data.update(name="sperm-clicks", clicks={"fmin": 2000})
    data["calibration"]["table"] = str(HYDROPHONES)
    data.pop("model")
    path = tmp_path_factory.mktemp("clicks") / "deployment.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


SPERM = ROOT / "examples" / "species" / "SanctSound_HI03_02_spermwhale_20191216T115715Z.wav"


def test_the_sperm_whale_clip_is_one_click_train_among_the_rois(click_deployment):
    config = load_deployment(click_deployment)
    res = process_recording(SPERM, config, None)
    trains = [r for r in res.rois if r.clicks]
    assert len(trains) == 1 and trains[0].clicks >= 20 and trains[0].end_s - trains[0].start_s > 3.0
    assert trains[0].start_s > 0.1  # its first click, not the file's first sample (a recording's start is no click)
    # its interval is the whale's (its six strong clicks 0.77-0.88 s apart), not that of every
    # pulse and faint impulse counted among its clicks (most under 0.05 s apart)
    assert 0.76 <= trains[0].ici_s <= 0.88
    (record,) = [d for d in res.detections if d.start_s == trains[0].start_s]  # a record like any ROI
    assert (record.clicks, record.ici_s) == (trains[0].clicks, trains[0].ici_s)  # with its count and ICI
    assert all(d.clicks == 0 and d.ici_s != d.ici_s for d in res.detections if d is not record)  # tonal: none


def test_a_deployment_without_clicks_keeps_its_hash_and_one_with_them_changes_it(click_deployment, tmp_path):
    import yaml

    with_clicks = load_deployment(click_deployment)
    data = yaml.safe_load(click_deployment.read_text())
    data.pop("clicks")
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(data))
    without = load_deployment(tmp_path / "plain.yaml")
    assert "clicks" not in without.as_dict() and with_clicks.as_dict()["clicks"]["fmin"] == 2000
    assert replace(with_clicks, clicks=None).hash == without.hash != with_clicks.hash
    plain = load_deployment(DEPLOYMENTS / "multispecies.yaml")
    with pytest.raises(ConfigError, match="clicks.fmax=30000.0 is above the Nyquist frequency of sample_rate=44100"):
        replace(plain, clicks=ClickSettings(fmax=30000.0))


def test_clicks_csv_lists_every_click_with_its_train(click_deployment, tmp_path):
    import csv

    config = load_deployment(click_deployment)
    res = process_recording(SPERM, config, None, keep_clicks=True)
    (train,) = [r for r in res.rois if r.clicks]
    detect([SPERM], tmp_path / "run", config, RunOptions(outputs=frozenset({"csv", "clicks"})))
    with open(tmp_path / "run" / "clicks.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["time_s"]) for r in rows] == pytest.approx([c.time_s for c in res.clicks], abs=1e-4)
    in_train = [r for r in rows if r["train_start_s"] == f"{train.start_s:.3f}"]
    assert len(in_train) == train.clicks
    assert all(train.start_s <= float(r["time_s"]) <= train.end_s for r in in_train)
    assert all(float(r["low10_hz"]) <= float(r["peak_hz"]) <= float(r["high10_hz"]) for r in rows)
    assert not (tmp_path / "run" / "scores.csv").exists()
    with open(tmp_path / "run" / "detections.csv", newline="") as fh:
        (record,) = [r for r in csv.DictReader(fh) if r["clicks"]]
    assert record["start_s"] == f"{train.start_s:.3f}" and record["clicks"] == str(train.clicks)
    assert float(record["ici_s"]) == pytest.approx(train.ici_s, abs=5e-5)


def test_cluster_units_give_the_clicks_of_the_whole_run(click_deployment, tmp_path):
    config = load_deployment(click_deployment)
    options = RunOptions(outputs=frozenset({"csv", "levels", "clicks"}))
    detect([SPERM], tmp_path / "whole", config, options)
    run_units(
        [SPERM],
        tmp_path / "units",
        config,
        options,
        chunk_s=1,
        execute=lambda units, job: [run_unit(u, job) for u in units],
    )
    for name in ("detections.csv", "levels.csv", "clicks.csv"):
        assert (tmp_path / "units" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


def test_a_low_rate_recording_is_heard_only_in_the_band_it_holds(click_deployment, tmp_path):
    import soundfile as sf

    from edge.clicks import heard_top

    config = load_deployment(click_deployment)
    rng = np.random.default_rng(11)
    # 2 kHz: nothing above 1 kHz, the clicks band starts at 2 kHz: no clicks (the resampler's
    # residue up there gave thousands an hour before)
    sf.write(tmp_path / "low.wav", (0.01 * rng.standard_normal(2000 * 60)).astype(np.float32), 2000)
    res = process_recording(tmp_path / "low.wav", config, None, keep_clicks=True)
    assert res.clicks == [] and not [r for r in res.rois if r.clicks]
    held = prepare(tmp_path / "low.wav", config, None).held_hz
    assert held == pytest.approx(0.91 * 1000)
    assert heard_top(config.clicks, 44100, held) is None
    with pytest.raises(ValueError, match=r"lies above what the recording holds \(up to 910 Hz\)"):
        ImpulseDetector(config.clicks, 44100, level_db=170.0, hop=1024, held_hz=held)
    # 8 kHz: heard up to the resampler's pass band, 91 % of 4 kHz; clicks at 3 kHz are found there
    assert heard_top(config.clicks, 44100, 0.91 * 4000) == pytest.approx(0.91 * 4000)
    assert heard_top(config.clicks, 44100, None) == pytest.approx(0.9 * 22050)
    rate = 8000
    x = 0.001 * rng.standard_normal(rate * 20)
    t = np.arange(-40, 41) / rate
    click = np.exp(-0.5 * (t / 6e-4) ** 2) * np.cos(2 * np.pi * 3000 * t)  # about 2.4-3.6 kHz
    times = np.arange(1.0, 19.0, 0.8)
    for s in times:
        i = int(s * rate)
        x[i - 40 : i + 41] += 0.05 * click
    sf.write(tmp_path / "mid.wav", x.astype(np.float32), rate)
    res = process_recording(tmp_path / "mid.wav", config, None, keep_clicks=True)
    found = np.array([c.time_s for c in res.clicks])
    assert len(found) == len(times) and np.allclose(found, times, atol=5e-3)  # the band filter delays peaks by ~2 ms
    assert all(2600 <= c.peak_hz <= 3400 for c in res.clicks)


def test_a_train_is_said_with_its_count_and_interval():
    assert train_text(14, 0.845) == "14 clicks, ICI 0.845 s"
    assert train_text(1, float("nan")) == "1 click"
    assert train_text(0, float("nan")) == ""


def test_memory_does_not_grow_with_the_block():
    """A 10-s block at 384 kHz (porpoise recorders) is filtered a chunk at a time: whole, its
    eight bands' float64 arrays took hundreds of MB."""
    import tracemalloc

    rate = 384_000
    x = (NOISE * np.random.default_rng(5).standard_normal(10 * rate)).astype(np.float32)
    detector = ImpulseDetector(ClickSettings(fmin=2000), rate, level_db=170.0, hop=512)
    tracemalloc.start()
    try:
        detector.push(EMPTY, AudioBlock(x, 0))
        detector.flush()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40e6, f"{peak / 1e6:.0f} MB"


def test_the_clicks_deployment_hears_a_porpoise_at_384_khz_and_the_sperm_whale_at_its_own_rate(tmp_path):
    """firmware-config/deployments/clicks.yaml: each recording at its own rate, no model."""
    import csv

    import soundfile as sf
    from click.testing import CliRunner

    from edge.cli.detect import main

    rate, rng = 384_000, np.random.default_rng(21)
    times = np.arange(0.5, 5.5, 0.07)
    x = porpoise_clicks(rng, 6, times, NOISE, rate)  # narrow-band 130-kHz clicks of about 100 us
    sf.write(tmp_path / "porpoise.wav", x.astype(np.float32), rate, subtype="FLOAT")
    out = tmp_path / "out"
    args = [str(tmp_path / "porpoise.wav"), str(SPERM), "-o", str(out), "--config", str(DEPLOYMENTS / "clicks.yaml")]
    result = CliRunner().invoke(main, [*args, "--no-model", "--outputs", "csv,clicks", "-q"])
    assert result.exit_code == 0, result.output
    with open(out / "detections.csv", newline="") as fh:
        trains = {r["file"]: r for r in csv.DictReader(fh) if r["clicks"]}
    porpoise, sperm = trains[str(tmp_path / "porpoise.wav")], trains[str(SPERM)]
    assert int(porpoise["clicks"]) == len(times) and float(porpoise["ici_s"]) == pytest.approx(0.07, abs=0.001)
    assert 100_000 <= float(porpoise["low_hz"]) < 130_000 < float(porpoise["high_hz"]) <= 172_800
    assert 0.76 <= float(sperm["ici_s"]) <= 0.88  # at its own 48 kHz, as under multispecies at 44.1 kHz
    with open(out / "clicks.csv", newline="") as fh:
        peaks = [float(r["peak_hz"]) for r in csv.DictReader(fh) if r["file"].endswith("porpoise.wav")]
    # each peak inside the click's -3 dB band (122-138 kHz) give or take a 1.5-kHz bin; the median at it
    assert len(peaks) == len(times) and all(120_500 <= p <= 139_500 for p in peaks)
    assert abs(np.median(peaks) - 130_000) <= 1_500


def test_a_recording_below_the_clicks_deployments_band_fails_in_one_line_and_the_run_goes_on(tmp_path):
    import soundfile as sf
    from click.testing import CliRunner

    from edge.cli.detect import main

    sf.write(tmp_path / "low.wav", np.zeros(2000 * 5, np.float32) + 0.001, 2000)  # Nyquist 1 kHz, band from 2 kHz
    out = tmp_path / "out"
    args = [str(tmp_path / "low.wav"), str(SPERM), "-o", str(out), "--config", str(DEPLOYMENTS / "clicks.yaml")]
    result = CliRunner().invoke(main, [*args, "--no-model", "-q"])
    assert result.exit_code == 1  # some failed, the others complete
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed:")]
    assert failed == [
        f"failed: {tmp_path / 'low.wav'}: sample rate 2000 Hz cannot be analysed by deployment 'clicks': "
        "its Nyquist frequency 1000 Hz is below the deployment's band, which starts at 2000 Hz"
    ]
    assert (out / "detections.csv").read_text().count(str(SPERM)) >= 1
