"""edge.roi: the adaptive-floor ROI detector on synthetic calls in seeded noise.

Settings are the shipped ``narw-upcall.yaml`` (2 kHz, nfft 256, hop 64, 1 s noise segments,
60 s noise window) unless a test changes one of them to show what it does.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edge.config import load_deployment
from edge.errors import ConfigError
from edge.frontend import FrontendSpec, StreamingFrontend
from edge.roi import RoiSettings, StreamingRoiDetector
from edge.types import AudioBlock, SpectralFrames
from tests.support.data import DEPLOYMENTS

RATE = 2000
# The detector's behaviour is tested with fixed settings (the right-whale band and durations, and
# the hysteresis the first deployment used), not with whatever the shipped deployment tunes.
_SHIPPED = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
NARW = dataclasses.replace(_SHIPPED, roi=dataclasses.replace(_SHIPPED.roi, on_db=10, off_db=5, min_duration_s=0.4))
SPEC = NARW.spec_for(RATE)
SIGMA = 0.01  # background noise, full scale


# -- synthetic calls ---------------------------------------------------------------------------
def noise(rng: np.random.Generator, seconds: float, sigma: float = SIGMA) -> np.ndarray:
    return sigma * rng.standard_normal(int(round(seconds * RATE)))


def upcall(*, f0: float = 60.0, f1: float = 200.0, seconds: float = 1.0, amplitude: float = 0.05) -> np.ndarray:
    """A right-whale-like upcall: a linear sweep from ``f0`` to ``f1`` Hz."""
    t = np.arange(int(round(seconds * RATE))) / RATE
    return amplitude * np.sin(2 * np.pi * (f0 * t + (f1 - f0) / (2 * seconds) * t**2))


def tonal(freq: float, seconds: float, amplitude: float, *, ramp_s: float = 0.0) -> np.ndarray:
    """A constant-frequency call, optionally with linear onset/offset ramps."""
    t = np.arange(int(round(seconds * RATE))) / RATE
    envelope = np.minimum(1.0, np.minimum(t, seconds - t) / ramp_s) if ramp_s else 1.0
    return amplitude * envelope * np.sin(2 * np.pi * freq * t)


def mix(background: np.ndarray, *calls: tuple[float, np.ndarray]) -> np.ndarray:
    out = background.copy()
    for at_s, call in calls:
        i = int(round(at_s * RATE))
        out[i : i + len(call)] += call
    return out.astype(np.float32)


def detect(
    samples: np.ndarray,
    settings: RoiSettings = NARW.roi,
    *,
    noise_state=None,
    bin_gain_db=0.0,
    block: int | None = None,
):
    frontend = StreamingFrontend(SPEC, bin_gain_db)
    detector = StreamingRoiDetector(settings, SPEC, noise_state=noise_state)
    rois = []
    block = block or len(samples)
    for start in range(0, len(samples), block):
        rois += detector.push(frontend.push(AudioBlock(samples[start : start + block], start)))
    return rois + detector.flush(), detector


# -- finding calls -----------------------------------------------------------------------------
def test_upcall_in_noise_is_found_once_with_its_box(rng):
    rois, _ = detect(mix(noise(rng, 30), (10.0, upcall())))
    assert len(rois) == 1
    roi = rois[0]
    assert roi.start_s == pytest.approx(10.0, abs=0.2)
    assert roi.end_s == pytest.approx(11.0, abs=0.2)
    assert roi.low_hz <= 60.0 and roi.high_hz >= 200.0
    assert NARW.roi.fmin - SPEC.sample_rate / SPEC.nfft <= roi.low_hz and roi.high_hz <= NARW.roi.fmax + 4
    assert roi.snr_db > 20.0
    assert roi.duration_s == roi.end_s - roi.start_s


def test_pure_noise_gives_almost_nothing(rng):
    rois, _ = detect(noise(rng, 120).astype(np.float32))
    assert len(rois) <= 2


def test_call_outside_the_roi_band_is_ignored(rng):
    rois, _ = detect(mix(noise(rng, 30), (10.0, upcall(f0=400, f1=600))))  # band is 45-300 Hz
    assert rois == []


def test_results_do_not_depend_on_how_frames_are_chunked(rng):
    x = mix(noise(rng, 120), (10.0, upcall()), (50.3, upcall()), (50.9, upcall(amplitude=0.02)))
    frames = StreamingFrontend(SPEC).push(AudioBlock(x, 0))
    whole = StreamingRoiDetector(NARW.roi, SPEC)
    expected = whole.push(frames) + whole.flush()
    assert len(expected) == 2
    for _ in range(5):
        detector, rois, first = StreamingRoiDetector(NARW.roi, SPEC), [], 0
        while first < frames.n_frames:
            n = int(rng.choice([0, 1, 30, 31, 32, int(rng.integers(1, 1000))]))
            rois += detector.push(SpectralFrames(frames.psd[first : first + n], first))
            first += n
        assert rois + detector.flush() == expected


def test_an_upcall_just_after_a_dropout_is_found(rng):
    """Digital silence (a recorder's dropout) stays out of the floor: before, the floor fell to
    -300 dB and the first half minute after the dropout was one event, dropped as longer than
    max_duration_s, the upcall in it with it."""
    x = np.concatenate([noise(rng, 90), np.zeros(40 * RATE), mix(noise(rng, 30), (5.0, upcall()))])
    rois, _ = detect(x.astype(np.float32))
    after = [r for r in rois if r.start_s >= 130.0]
    assert len(after) == 1 and after[0].start_s == pytest.approx(135.0, abs=0.2)
    assert not [r for r in rois if 90.0 <= r.start_s < 130.0]  # nothing in or at the end of the silence


def test_results_with_a_dropout_do_not_depend_on_how_frames_are_chunked(rng):
    x = np.concatenate([noise(rng, 70), np.zeros(25 * RATE), mix(noise(rng, 40), (3.0, upcall()), (20.0, upcall()))])
    frames = StreamingFrontend(SPEC).push(AudioBlock(x.astype(np.float32), 0))
    whole = StreamingRoiDetector(NARW.roi, SPEC)
    expected = whole.push(frames) + whole.flush()
    assert len(expected) >= 2
    detector, rois, first = StreamingRoiDetector(NARW.roi, SPEC), [], 0
    while first < frames.n_frames:
        n = int(rng.integers(1, 1000))
        rois += detector.push(SpectralFrames(frames.psd[first : first + n], first))
        first += n
    assert rois + detector.flush() == expected


def test_audio_block_size_does_not_change_results(rng):
    x = mix(noise(rng, 40), (10.0, upcall()), (25.0, upcall(amplitude=0.1)))
    assert detect(x, block=4321)[0] == detect(x)[0]


# -- durations and merging -----------------------------------------------------------------------
def test_min_duration_drops_a_click(rng):
    click = 0.3 * np.hanning(100) * rng.standard_normal(100)  # 50 ms broadband
    x = mix(noise(rng, 30), (10.0, click))
    assert NARW.roi.min_duration_s == 0.4
    assert detect(x)[0] == []
    found, _ = detect(x, dataclasses.replace(NARW.roi, min_duration_s=0.0))
    assert len(found) == 1 and found[0].start_s == pytest.approx(10.0, abs=0.2)
    assert found[0].duration_s < 0.4  # one 128 ms frame plus the smoothing


def test_max_duration_drops_a_continuous_tone(rng):
    x = mix(noise(rng, 60), (30.0, tonal(150.0, 20.0, 0.1)))
    assert NARW.roi.max_duration_s == 10.0
    assert detect(x)[0] == []
    found, _ = detect(x, dataclasses.replace(NARW.roi, max_duration_s=None))
    assert len(found) == 1
    assert found[0].start_s == pytest.approx(30.0, abs=0.2) and found[0].end_s == pytest.approx(50.0, abs=0.2)


@pytest.mark.parametrize(
    ("gap_s", "merge_gap_s", "count"),
    [
        (0.05, 0.15, 1),  # shipped setting: calls 50 ms apart are one event
        (2.0, 0.15, 2),
        (0.4, 0.15, 2),
        (0.4, 1.0, 1),  # a wider merge gap joins them
        (2.0, 1.0, 2),
    ],
)
def test_merge_gap(rng, gap_s, merge_gap_s, count):
    first, second = tonal(150.0, 0.6, 0.1), tonal(150.0, 0.6, 0.1)
    x = mix(noise(rng, 30), (10.0, first), (10.6 + gap_s, second))
    rois, _ = detect(x, dataclasses.replace(NARW.roi, merge_gap_s=merge_gap_s))
    assert len(rois) == count
    assert rois[0].start_s == pytest.approx(10.0, abs=0.2)
    assert rois[-1].end_s == pytest.approx(11.2 + gap_s, abs=0.2)


# -- noise floor carried across recordings ---------------------------------------------------------
def test_noise_state_round_trips_and_is_bounded(rng):
    _, first = detect(noise(rng, 120).astype(np.float32))
    state = first.noise_state()
    n_band_bins = np.count_nonzero((SPEC.bin_freqs() >= 45) & (SPEC.bin_freqs() <= 300))
    assert len(state) == 60  # noise_window_s / noise_segment_s
    assert all(s.shape == (n_band_bins,) for s in state)
    carried = StreamingRoiDetector(NARW.roi, SPEC, noise_state=state)
    assert all(np.array_equal(a, b) for a, b in zip(carried.noise_state(), state, strict=True))
    state[0][:] = 0.0  # the detector keeps its own copy
    assert not np.array_equal(carried.noise_state()[0], state[0])


def test_upcall_early_in_the_next_recording_is_found_with_the_carried_floor(rng):
    _, previous = detect(noise(rng, 30).astype(np.float32))
    x = mix(noise(rng, 10), (0.5, upcall()))
    rois, _ = detect(x, noise_state=previous.noise_state())
    assert len(rois) == 1
    assert rois[0].start_s == pytest.approx(0.5, abs=0.2) and rois[0].end_s == pytest.approx(1.5, abs=0.2)
    # Without the carried floor the first segment's floor is that segment's own mean level, call
    # included.  A sweep crosses each bin briefly, so it is still found, with a few dB less SNR.
    alone, _ = detect(x)
    assert len(alone) == 1 and alone[0].snr_db < rois[0].snr_db - 2


def test_tonal_call_at_the_start_is_missed_without_the_carried_floor(rng):
    """Documents the cost of a fresh detector: a tonal call filling half of the first 1 s noise
    segment raises that segment's floor by half its level in dB and halves its SNR (about
    15 dB -> 7 dB, below on_db=10), so only the carried floor finds it."""
    _, previous = detect(noise(rng, 30).astype(np.float32))
    x = mix(noise(rng, 10), (0.5, tonal(150.0, 1.0, 0.01)))
    carried, _ = detect(x, noise_state=previous.noise_state())
    assert len(carried) == 1 and carried[0].start_s == pytest.approx(0.5, abs=0.2)
    assert 12.0 < carried[0].snr_db < 18.0
    fresh, _ = detect(x)
    assert fresh == []


# -- the box and its level ------------------------------------------------------------------------
def test_received_level_of_a_tone_is_its_spl(rng):
    cal_db = 177.6
    x = mix(noise(rng, 30, sigma=0.001), (10.0, tonal(150.0, 2.0, 0.1, ramp_s=0.05)))
    rois, _ = detect(x, bin_gain_db=cal_db)
    assert len(rois) == 1
    spl = 20 * np.log10(0.1 / np.sqrt(2)) + cal_db  # 154.59 dB re 1 uPa
    assert rois[0].received_level_db == pytest.approx(spl, abs=1.0)
    assert rois[0].low_hz < 150.0 < rois[0].high_hz


def test_band_is_the_strong_run_around_the_peak(rng):
    x = mix(noise(rng, 30), (10.0, tonal(250.0, 1.5, 0.05, ramp_s=0.1)))
    (roi,) = detect(x)[0]
    assert 200.0 < roi.low_hz < 250.0 < roi.high_hz < 300.0


def _held_below(x: np.ndarray, top_hz: float) -> np.ndarray:
    """``x`` with nothing above ``top_hz`` but a floor 100 dB down: a recording resampled up, whose
    band above its own Nyquist frequency holds only the resampler's residue."""
    spectrum = np.fft.rfft(x)
    spectrum[np.fft.rfftfreq(len(x), 1 / RATE) > top_hz] = 0.0
    floor = 1e-5 * SIGMA * np.random.default_rng(9).standard_normal(len(x))
    return (np.fft.irfft(spectrum, len(x)) + floor).astype(np.float32)


def _detect_recorded(samples: np.ndarray, recorded_top_hz: float | None):
    frontend = StreamingFrontend(SPEC, 0.0)
    detector = StreamingRoiDetector(NARW.roi, SPEC, recorded_top_hz=recorded_top_hz)
    return detector.push(frontend.push(AudioBlock(samples, 0))) + detector.flush()


def test_an_roi_is_placed_on_the_band_the_recording_holds(rng):
    """A call at 80-180 Hz rings faintly at 270 Hz, where the recording holds only a residue
    100 dB down (above 230 Hz): against that floor the ringing's SNR outshines the call's, and
    the ROI went there; measured on the band held, it is the call's, as long as the event was."""
    ring = 1e-4 * tonal(270.0, 1.0, 1.0)
    x = _held_below(mix(noise(rng, 30), (10.0, upcall(f0=80.0, f1=180.0))), 230.0)
    x = mix(x, (10.0, ring))
    (placed,) = _detect_recorded(x, None)
    assert placed.low_hz > 230.0  # on the residue's band
    (roi,) = _detect_recorded(x, 230.0)
    assert 40.0 < roi.low_hz < 80.0 and 180.0 < roi.high_hz <= 230.0 + SPEC.rate / SPEC.nfft / 2
    assert (roi.start_s, roi.end_s) == (placed.start_s, placed.end_s)
    assert 10.0 <= roi.snr_db < placed.snr_db


def test_an_event_only_the_band_above_the_recording_raised_is_no_roi(rng):
    x = mix(_held_below(noise(rng, 30), 230.0), (10.0, 1e-4 * tonal(270.0, 1.0, 1.0)))
    assert len(_detect_recorded(x, None)) == 1
    assert _detect_recorded(x, 230.0) == []


# -- settings and misuse ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"on_db": 6, "off_db": 10}, r"off_db=10 must be <= on_db=6 \(hysteresis\)"),
        ({"on_db": 0}, r"on_db=0 must be > 0"),
        ({"fmin": 300, "fmax": 100}, r"fmax=100 must be > fmin=300"),
        ({"smooth_bins": 2}, r"smooth_bins=2 must be odd"),
        ({"smooth_frames": 4}, r"smooth_frames=4 must be odd"),
        ({"smooth_bins": 3.0}, r"smooth_bins=3\.0 is not an integer"),
        ({"min_duration_s": 1.0, "max_duration_s": 0.5}, r"max_duration_s=0\.5 must be > min_duration_s=1\.0"),
        ({"merge_gap_s": -0.1}, r"merge_gap_s=-0\.1 must be >= 0"),
        ({"noise_segment_s": 0}, r"noise_segment_s=0 must be > 0"),
        ({"noise_window_s": 0.5}, r"noise_window_s=0\.5 must be >= noise_segment_s=1\.0"),
    ],
)
def test_settings_validation(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        RoiSettings(**kwargs)


def test_band_without_bins_is_refused():
    with pytest.raises(ValueError, match=r"ROI band 1\.0-2\.0 Hz holds no frequency bin at sample_rate=2000, nfft=256"):
        StreamingRoiDetector(RoiSettings(fmin=1.0, fmax=2.0), SPEC)


def test_frames_must_be_contiguous():
    detector = StreamingRoiDetector(NARW.roi, SPEC)
    detector.push(SpectralFrames(np.ones((10, SPEC.n_bins), np.float32), 0))
    with pytest.raises(ValueError, match="frames start at 12, expected 10"):
        detector.push(SpectralFrames(np.ones((10, SPEC.n_bins), np.float32), 12))


def test_spec_must_be_bound():
    with pytest.raises(ValueError, match="not bound"):
        StreamingRoiDetector(NARW.roi, FrontendSpec(nfft=256, hop=64))
