"""Synthetic calls: bands, exact labels, SNR as asked."""

from __future__ import annotations

import numpy as np
import pytest

from training.synth import GENERATORS, band_power, coloured_noise, mix, synth_recording


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
