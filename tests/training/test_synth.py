"""Synthetic calls: bands, exact labels, SNR as asked."""

from __future__ import annotations

import numpy as np
import pytest

from training.synth import GENERATORS, band_power, coloured_noise, isolate_call, mix, nominal_band, synth_recording


@pytest.mark.parametrize(
    "kind,rate", [("whistle", 32000), ("hf_pulsed", 96000), ("upcall", 2000), ("pulse_train", 8000)]
)
def test_call_energy_lies_in_its_labelled_band(kind, rate, rng):
    x, low, high = GENERATORS[kind](rng, rate)
    assert 0 < low < high < rate / 2
    inside = band_power(x, rate, low, high)
    assert inside / band_power(x, rate, 0, rate / 2) > 0.8


def test_upcall_and_whistle_ranges(rng):
    for _ in range(5):
        _, low, high = GENERATORS["upcall"](rng, 2000)
        assert 40 <= low <= 75 and 175 <= high <= 255
        _, low, _ = GENERATORS["whistle"](rng, 48000)
        assert 2000 <= low <= 12000


def test_call_above_nyquist_is_refused(rng):
    with pytest.raises(ValueError, match="Nyquist"):
        GENERATORS["upcall"](rng, 400)


def test_mix_reaches_the_requested_snr(rng):
    rate = 2000
    noise = coloured_noise(rng, rate * 10, alpha=1.0, rms=0.01)
    call, low, high = GENERATORS["upcall"](rng, rate)
    out = mix(noise, call, 3000, 6.0, rate, low, high)
    seg = slice(3000, 3000 + len(call))
    added = out[seg] - noise[seg]
    snr = 10 * np.log10(np.mean(added**2) / band_power(noise[seg], rate, low, high))
    assert snr == pytest.approx(6.0, abs=1e-6)


def test_recording_labels_are_exact_and_seeded(rng):
    x, anns = synth_recording(
        np.random.default_rng(3), sample_rate=2000, duration_s=30, calls={"upcall": 4}, snr_db=(20, 20), noise_rms=0.001
    )
    x2, anns2 = synth_recording(
        np.random.default_rng(3), sample_rate=2000, duration_s=30, calls={"upcall": 4}, snr_db=(20, 20), noise_rms=0.001
    )
    assert np.array_equal(x, x2) and anns == anns2
    assert len(anns) == 4 and all(a.label == "upcall" for a in anns)
    energy = x.astype(float) ** 2
    inside = np.zeros(len(x), bool)
    for a in anns:
        inside[int(a.start_s * 2000) : int(a.end_s * 2000)] = True
    assert energy[inside].mean() > 10 * energy[~inside].mean()
    for a, b in zip(anns, anns[1:]):
        assert a.end_s <= b.start_s


def test_unknown_call_type_and_short_background(rng):
    with pytest.raises(ValueError, match="unknown call type 'song'"):
        synth_recording(rng, sample_rate=2000, duration_s=5, calls={"song": 1})
    with pytest.raises(ValueError, match="background holds"):
        synth_recording(rng, sample_rate=2000, duration_s=5, calls={"upcall": 1}, background=np.zeros(100))


def _sweep(rate: int, f0: float, f1: float, dur: float) -> np.ndarray:
    t = np.arange(int(dur * rate)) / rate
    return np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * dur))) * np.hanning(len(t))


def test_isolate_call_lifts_the_call_out_of_its_recordings_noise(rng):
    """A recorded upcall beside a tonal line inside its own box: the call comes out, the line
    and the noise around it do not; a box holding noise alone gives nothing."""
    rate = 2000
    t = np.arange(40 * rate) / rate
    line = 0.05 * np.sin(2 * np.pi * 245 * t)  # the array's tonal line, inside the annotation's box
    noise = coloured_noise(rng, len(t), alpha=1.0, rms=0.02)
    call = 0.2 * _sweep(rate, 60, 220, 1.0)
    x = noise + line
    at = 20 * rate
    x[at : at + len(call)] += call
    lifted = isolate_call(x, rate, 20.0, 21.0, 50.0, 260.0)
    assert lifted is not None
    y, low, high = lifted
    assert np.max(np.abs(y)) == pytest.approx(1.0)
    assert 40 <= low <= 80 and 200 <= high <= 235
    assert 0.7 <= len(y) / rate <= 1.3
    # the sweep, not the line: its shape explains most of what was lifted (best lag)
    ref = call / np.max(np.abs(call))
    corr = np.correlate(y, ref, mode="full") / (np.linalg.norm(y) * np.linalg.norm(ref))
    assert corr.max() > 0.8
    # the line's power beside the call's: a sixth in the recording, next to nothing once lifted
    before = band_power(line[at : at + len(call)], rate, 235, 255) / band_power(call, rate, 50, 260)
    after = band_power(y, rate, 235, 255) / band_power(y, rate, 50, 260)
    assert before > 0.1 and after < 0.01 * before
    # noise and the line only, wherever the box lies: nothing stands out
    assert all(isolate_call(x, rate, s, s + 1.0, 50.0, 260.0) is None for s in (3.0, 5.0, 9.0, 12.0, 30.0, 35.0))


def test_isolate_call_without_frequency_bounds_and_nominal_band():
    """The band a call type's generator draws in, widened a fifth: where a recorded call of the
    type without frequency bounds is looked for."""
    low, high = nominal_band("upcall", 2000)
    assert 30 < low < 45 and 250 < high <= 310
    assert nominal_band("upcall", 2000) == (low, high)  # its own fixed seed


def test_recorded_calls_replace_that_share_of_the_generated_ones(rng):
    rate = 2000
    pool = {"upcall": [(_sweep(rate, 300, 400, 0.5), 300.0, 400.0)]}  # out of the generator's band
    kwargs = dict(sample_rate=rate, duration_s=60, calls={"upcall": 20}, snr_db=(20, 20), noise_rms=0.001)
    plain = synth_recording(np.random.default_rng(1), **kwargs)
    assert synth_recording(np.random.default_rng(1), **kwargs, recorded=pool, recorded_share=0.0)[1] == plain[1]
    x, anns = synth_recording(np.random.default_rng(1), **kwargs, recorded=pool, recorded_share=0.5)
    recorded = [a for a in anns if a.low_hz == 300.0]
    assert 4 <= len(recorded) <= 16 and all(a.label == "upcall" for a in anns)
    for a in recorded:  # labelled where the recorded call lies, in its band
        seg = x[int(a.start_s * rate) : int(a.end_s * rate)].astype(float)
        assert a.end_s - a.start_s == pytest.approx(0.5, abs=1e-3)
        assert band_power(seg, rate, 300, 400) > 10 * band_power(seg, rate, 40, 260)
