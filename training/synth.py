"""Synthetic calls with exact labels, mixed into background audio at a chosen SNR.

There are no beluga or seal recordings in the shared data; these parametric calls stand in
for them (and give tests data whose truth is known exactly).  Each generator returns samples
(float64, peak 1) of a call and its ``(low_hz, high_hz)`` band.  SNR is the call's power over
the background's power *in the call's band* during the call, in dB.
"""

from __future__ import annotations

import numpy as np

from training.types import Annotation

CALL_TYPES = ("whistle", "hf_pulsed", "upcall", "pulse_train", "sperm_clicks", "dolphins", "minke")


def _check_band(kind: str, high_hz: float, sample_rate: int) -> None:
    if high_hz >= sample_rate / 2:
        raise ValueError(f"{kind} reaches {high_hz:.0f} Hz, above the Nyquist frequency of sample_rate={sample_rate}")


def _gabor(fc: float, sigma: float, sample_rate: int) -> np.ndarray:
    """A Gabor click: a ``fc`` cosine under a Gaussian envelope of ``sigma`` seconds, +-3 sigma long."""
    half = int(3 * sigma * sample_rate) + 1
    tt = np.arange(-half, half + 1) / sample_rate
    return np.exp(-0.5 * (tt / sigma) ** 2) * np.cos(2 * np.pi * fc * tt)


def whistle(
    rng: np.random.Generator,
    sample_rate: int,
    *,
    fmin: float = 2000.0,
    fmax: float = 12000.0,
    duration_s: float | None = None,
    harmonics: int = 2,
) -> tuple[np.ndarray, float, float]:
    """Beluga-like FM whistle in ``fmin..fmax``: a smooth random contour plus harmonics."""
    dur = duration_s or rng.uniform(0.4, 1.2)
    n = int(dur * sample_rate)
    t = np.arange(n) / sample_rate
    lo = rng.uniform(fmin, fmin + 0.4 * (fmax - fmin))
    hi = rng.uniform(lo + 0.2 * (fmax - fmin), fmax)
    phase0 = rng.uniform(0, 2 * np.pi)
    contour = lo + (hi - lo) * 0.5 * (1 - np.cos(2 * np.pi * rng.uniform(0.5, 1.5) * t / dur + phase0))
    phase = 2 * np.pi * np.cumsum(contour) / sample_rate
    x = np.sin(phase)
    high = hi  # harmonics above 0.48 * sample_rate are left out
    for h in range(2, harmonics + 2):
        if hi * h < 0.48 * sample_rate:
            x = x + 0.5 ** (h - 1) * np.sin(h * phase)
            high = hi * h
    _check_band("whistle", hi, sample_rate)
    x *= np.hanning(n)
    return x / np.max(np.abs(x)), float(contour.min()), float(high)


def hf_pulsed(
    rng: np.random.Generator, sample_rate: int, *, centre_hz: float | None = None, duration_s: float | None = None
) -> tuple[np.ndarray, float, float]:
    """Pulsed high-frequency call: a burst of short Gabor clicks at 100-600 pulses/s."""
    dur = duration_s or rng.uniform(0.3, 0.8)
    fc = centre_hz or rng.uniform(0.25, 0.35) * sample_rate
    bw = 0.15 * fc
    _check_band("hf_pulsed", fc + bw, sample_rate)
    n = int(dur * sample_rate)
    x = np.zeros(n)
    click = _gabor(fc, 1.0 / (2 * np.pi * bw / 2.355), sample_rate)  # its spectrum's FWHM ~ bw
    period = int(sample_rate / rng.uniform(100, 600))
    for start in range(0, n - len(click), max(period, 1)):
        x[start : start + len(click)] += click
    return x / np.max(np.abs(x)), float(fc - bw), float(fc + bw)


def upcall(
    rng: np.random.Generator, sample_rate: int, *, duration_s: float | None = None
) -> tuple[np.ndarray, float, float]:
    """Right-whale-like upcall: a tonal sweep from about 50 to about 250 Hz over about 1 s."""
    dur = duration_s or rng.uniform(0.7, 1.3)
    f0 = rng.uniform(45, 70)
    f1 = rng.uniform(180, 250)
    _check_band("upcall", f1, sample_rate)
    n = int(dur * sample_rate)
    u = np.arange(n) / n
    contour = f0 + (f1 - f0) * u**1.5  # slow start, faster rise
    x = np.sin(2 * np.pi * np.cumsum(contour) / sample_rate) * np.hanning(n)
    return x / np.max(np.abs(x)), float(f0), float(f1)


def pulse_train(
    rng: np.random.Generator, sample_rate: int, *, duration_s: float | None = None
) -> tuple[np.ndarray, float, float]:
    """Seal-like pulse train: 5-20 pulses/s of short tonal pulses at 300-1500 Hz."""
    dur = duration_s or rng.uniform(0.8, 2.0)
    fc = rng.uniform(300, 1500)
    bw = 0.3 * fc
    _check_band("pulse_train", fc + bw, sample_rate)
    n = int(dur * sample_rate)
    x = np.zeros(n)
    plen = int(0.02 * sample_rate)
    pulse = np.sin(2 * np.pi * fc * np.arange(plen) / sample_rate) * np.hanning(plen)
    period = int(sample_rate / rng.uniform(5, 20))
    for start in range(0, n - plen, period):
        x[start : start + plen] += pulse
    return x / np.max(np.abs(x)), float(fc - bw), float(fc + bw)


def sperm_clicks(
    rng: np.random.Generator, sample_rate: int, *, duration_s: float | None = None
) -> tuple[np.ndarray, float, float]:
    """Sperm-whale-like usual clicks: broadband multipulse clicks (2-4 decaying pulses 2-6 ms
    apart, energy about 2-20 kHz) every 0.5-1.3 s; the train fills ``duration_s`` (default
    2-5 s).  No creaks (clicks every 0.05-0.25 s): beside the few real recordings they taught a
    model that any fast click train, a dolphin's echolocation, is a sperm whale."""
    dur = duration_s or rng.uniform(2.0, 5.0)
    high = min(20000.0, 0.45 * sample_rate)
    _check_band("sperm_clicks", 2000.0, sample_rate)
    n = int(dur * sample_rate)
    x = np.zeros(n)
    ici = rng.uniform(0.5, 1.3)
    fc = rng.uniform(0.35, 0.75) * high
    pulse = _gabor(fc, 1.0 / (2 * np.pi * 0.6 * fc / 2.355), sample_rate)  # about 60 % relative bandwidth
    ipi = int(rng.uniform(0.002, 0.006) * sample_rate)
    pulses = int(rng.integers(2, 5))
    t = rng.uniform(0, ici)
    while True:
        start = int(t * sample_rate)
        if start + pulses * ipi + len(pulse) >= n:
            break
        amp = rng.uniform(0.6, 1.0)
        for k in range(pulses):
            s = start + k * ipi
            x[s : s + len(pulse)] += amp * 0.5**k * pulse
        t += ici * rng.uniform(0.9, 1.1)
    if not np.any(x):
        x[n // 2 : n // 2 + len(pulse)] += pulse[: n - n // 2]
    return x / np.max(np.abs(x)), 2000.0, float(high)


# delphinid whistle contours (upsweep, downsweep, convex, concave, sine): the shapes whistle
# catalogues sort them into; u runs 0..1 over the whistle
_CONTOURS = {
    "upsweep": lambda u, k: u,
    "downsweep": lambda u, k: 1 - u,
    "convex": lambda u, k: np.sin(np.pi * u),
    "concave": lambda u, k: 1 - np.sin(np.pi * u),
    "sine": lambda u, k: 0.5 * (1 - np.cos(2 * np.pi * k * u)),
}


def dolphins(
    rng: np.random.Generator, sample_rate: int, *, duration_s: float | None = None
) -> tuple[np.ndarray, float, float]:
    """A delphinid group: whistles, one every 0.3-1.5 s (they may overlap, as a group's do), each
    0.2-1.5 s long with a fundamental swept over 2-12 kHz within 4-18 kHz in one of five contour
    shapes, its second harmonic 6-15 dB down where it fits below the Nyquist frequency; and one
    time in two an echolocation click train over part of it (single broadband clicks, peak
    energy near the top of the band, every 20-150 ms: faster, higher and simpler than a sperm
    whale's clicks, which a model must not take for them).  Fills ``duration_s`` (default 2-5 s)."""
    dur = duration_s or rng.uniform(2.0, 5.0)
    top = min(18000.0, 0.45 * sample_rate)
    _check_band("dolphins", 4000.0 + 2000.0, sample_rate)
    n = int(dur * sample_rate)
    x = np.zeros(n)
    low_all, high_all = top, 0.0
    t = rng.uniform(0.0, 0.5)
    while t < dur - 0.1:
        length = min(rng.uniform(0.2, 1.5), dur - t)
        m = int(length * sample_rate)
        lo = rng.uniform(4000.0, top - 2000.0)
        hi = min(top, lo + rng.uniform(2000.0, 12000.0))
        shape = _CONTOURS[str(rng.choice(list(_CONTOURS)))]
        contour = lo + (hi - lo) * shape(np.arange(m) / m, rng.uniform(1.0, 3.0))
        phase = 2 * np.pi * np.cumsum(contour) / sample_rate + rng.uniform(0, 2 * np.pi)
        w = np.sin(phase)
        if 2 * hi < 0.48 * sample_rate:
            w += 10 ** (-rng.uniform(6, 15) / 20) * np.sin(2 * phase)
        taper = min(m // 2, int(0.02 * sample_rate))  # 20-ms onset and offset
        env = np.ones(m)
        if taper:
            env[:taper] = env[-taper:][::-1] = np.hanning(2 * taper)[:taper]
        start = int(t * sample_rate)
        x[start : start + m] += rng.uniform(0.5, 1.0) * w * env
        low_all, high_all = min(low_all, float(contour.min())), max(high_all, float(contour.max()))
        t += rng.uniform(0.3, 1.5)
    if not np.any(x):
        raise ValueError(f"dolphins: {dur:.2f} s holds no whistle")
    x /= np.max(np.abs(x))
    if rng.random() < 0.5:
        fc = rng.uniform(0.3, 0.4) * sample_rate
        click = _gabor(fc, 1.0 / (2 * np.pi * 0.8 * fc / 2.355), sample_rate)  # about 80 % relative bandwidth
        t, stop = rng.uniform(0, dur / 2), rng.uniform(dur / 2, dur)
        ici, level = rng.uniform(0.02, 0.15), rng.uniform(0.3, 1.0)
        while (start := int(t * sample_rate)) + len(click) < min(n, int(stop * sample_rate)):
            x[start : start + len(click)] += level * rng.uniform(0.7, 1.0) * click
            t += ici * rng.uniform(0.95, 1.05)
        high_all = max(high_all, min(fc * 1.4, 0.48 * sample_rate))
    return x / np.max(np.abs(x)), low_all, high_all


def minke(
    rng: np.random.Generator, sample_rate: int, *, duration_s: float | None = None
) -> tuple[np.ndarray, float, float]:
    """Minke-whale-like calls, one of the two best described, fills ``duration_s`` (default
    2-5 s).  One time in two a boing (North Pacific): a 1.3-1.5 kHz tone pulsed 90-120 times a
    second (sidebands every pulse rate), 1.5-3.5 s long, drifting a few tens of hertz, after a
    short precursor tone 50-150 Hz lower; else a pulse train (North Atlantic): 40-100 ms pulses
    sweeping down from 150-400 Hz to 50-120 Hz, each with a sharp onset whose energy reaches about
    1 kHz, every 0.3-0.8 s, the interval speeding up or slowing down along the train."""
    dur = duration_s or rng.uniform(2.0, 5.0)
    n = int(dur * sample_rate)
    x = np.zeros(n)
    if rng.random() < 0.5:
        fc, rate = rng.uniform(1300.0, 1500.0), rng.uniform(90.0, 120.0)
        _check_band("minke", fc + 4 * rate, sample_rate)
        start = rng.uniform(0.0, max(0.0, dur - 1.5) / 2)
        length = min(rng.uniform(1.5, 3.5), dur - start)
        m = int(length * sample_rate)
        t = np.arange(m) / sample_rate
        contour = fc + rng.uniform(-30, 30) * t / max(length, 1e-9)
        am = (0.5 + 0.5 * np.cos(2 * np.pi * rate * t)) ** rng.uniform(1.0, 3.0)
        call = am * np.sin(2 * np.pi * np.cumsum(contour) / sample_rate) * np.hanning(m) ** 0.25
        pre = int(rng.uniform(0.05, 0.2) * sample_rate)
        a = int(start * sample_rate)
        if a >= pre:  # the precursor just before the boing
            tp = np.arange(pre) / sample_rate
            x[a - pre : a] += 0.7 * np.sin(2 * np.pi * (fc - rng.uniform(50, 150)) * tp) * np.hanning(pre)
        x[a : a + m] += call
        low, high = fc - 4 * rate, fc + 4 * rate
    else:
        _check_band("minke", 1000.0, sample_rate)
        f_hi, f_lo = rng.uniform(150.0, 400.0), rng.uniform(50.0, 120.0)
        ici, drift = rng.uniform(0.3, 0.8), rng.uniform(-0.3, 0.3)  # relative change over the train
        t = rng.uniform(0.0, ici)
        while (a := int(t * sample_rate)) < n:
            m = min(int(rng.uniform(0.04, 0.1) * sample_rate), n - a)
            tp = np.arange(m) / sample_rate
            sweep = f_hi + (f_lo - f_hi) * tp / (m / sample_rate)
            pulse = np.sin(2 * np.pi * np.cumsum(sweep) / sample_rate) * np.exp(-tp / (m / sample_rate / 3))
            sigma = rng.uniform(0.0003, 0.0005)  # a sharp start: a Gaussian thump, energy to about 1 kHz
            pulse += 1.5 * np.exp(-0.5 * ((tp - 3 * sigma) / sigma) ** 2)
            x[a : a + m] += rng.uniform(0.6, 1.0) * pulse
            t += ici * (1 + drift * t / dur)
        low, high = 50.0, 1000.0
    if not np.any(x):
        raise ValueError(f"minke: {dur:.2f} s holds no call")
    return x / np.max(np.abs(x)), float(low), float(high)


GENERATORS = {
    "whistle": whistle,
    "hf_pulsed": hf_pulsed,
    "upcall": upcall,
    "pulse_train": pulse_train,
    "sperm_clicks": sperm_clicks,
    "dolphins": dolphins,
    "minke": minke,
}


def generator(kind: str):
    """The generator of call type ``kind``; ValueError naming the known ones otherwise."""
    if kind not in GENERATORS:
        raise ValueError(f"unknown call type {kind!r}; known: {', '.join(CALL_TYPES)}")
    return GENERATORS[kind]


def nominal_band(kind: str, sample_rate: int, draws: int = 32) -> tuple[float, float]:
    """The band a call type's generator draws its calls in (the union of ``draws`` calls from
    a fixed seed), widened by a fifth either side: where to look for a recorded call of the
    type whose annotation gives no frequency bounds."""
    rng, generate = np.random.default_rng(0), generator(kind)
    bands = [generate(rng, sample_rate)[1:] for _ in range(draws)]
    return 0.8 * min(b[0] for b in bands), min(1.2 * max(b[1] for b in bands), sample_rate / 2)


def coloured_noise(rng: np.random.Generator, n: int, *, alpha: float = 1.0, rms: float = 0.01) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1/f**alpha (0 white, 1 pink, 2 brown), RMS ``rms``."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spectrum), dtype=float)
    f[0] = 1.0
    spectrum /= f ** (alpha / 2)
    x = np.fft.irfft(spectrum, n)
    return x * (rms / np.sqrt(np.mean(x**2)))


def band_power(x: np.ndarray, sample_rate: int, low_hz: float, high_hz: float) -> float:
    """Mean power of ``x`` within ``low_hz..high_hz`` (periodogram sum, Parseval-scaled)."""
    spec = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / sample_rate)
    keep = (freqs >= low_hz) & (freqs <= high_hz)
    return float(2 * np.sum(spec[keep]) / len(x) ** 2)


def mix(
    background: np.ndarray, call: np.ndarray, start: int, snr_db: float, sample_rate: int, low_hz: float, high_hz: float
) -> np.ndarray:
    """``background`` with ``call`` added at sample ``start``, scaled to ``snr_db`` in its band."""
    out = np.array(background, dtype=np.float64)
    seg = out[start : start + len(call)]
    noise = max(band_power(seg, sample_rate, low_hz, high_hz), 1e-20)
    power = np.mean(call**2)
    gain = np.sqrt(noise * 10 ** (snr_db / 10) / power)
    out[start : start + len(call)] += gain * call[: len(seg)]
    return out


# isolate_call's settings, fixed from the upcall's size in a 64-ms spectrogram (not tuned on
# any held-out figure): cells 6 dB over their bin's median after 3x5 smoothing (about one
# cell in 130 of pink noise passes, in specks that regions too weak beside the call's drop),
# the median over 10 s either side of the call; nothing is lifted unless some cell stands
# ISOLATE_PEAK_DB over its floor (the strongest of a 1-s, 240-Hz box of pink noise with a
# tonal line in it: at most 9.5 dB over 1,000 boxes)
ISOLATE_DB = 6.0
ISOLATE_PEAK_DB = 10.0
ISOLATE_CONTEXT_S = 10.0

# A call of a recording, lifted out by isolate_call: its samples and band, ready to be mixed
RecordedCall = tuple[np.ndarray, float, float]


def isolate_call(
    x: np.ndarray, sample_rate: int, start_s: float, end_s: float, low_hz: float, high_hz: float
) -> RecordedCall | None:
    """A recorded call lifted out of its recording's noise, as a generator returns one:
    ``(samples, low_hz, high_hz)``, peak 1, or None when nothing stands out (no cell of the
    annotation ``ISOLATE_PEAK_DB`` over its floor).

    The call is the time-frequency cells within its annotation (``start_s..end_s``,
    ``low_hz..high_hz``, widened by a frame and a bin) whose smoothed power stands
    ``ISOLATE_DB`` over their bin's median across ``ISOLATE_CONTEXT_S`` either side, in
    connected regions holding at least a fifth of the strongest region's excess power (a
    contour, not specks of noise); those cells, grown by a bin and two frames, are kept with
    a spectral-subtraction gain (``1 - floor / power``), so the recording's own noise, its
    tonal lines among it, is not carried into the new background.  Without frequency bounds
    (``high_hz`` infinite) the band is the whole spectrum.
    """
    from scipy import ndimage, signal

    nper = 2 ** int(round(np.log2(0.064 * sample_rate)))  # 64 ms: 15.6 Hz bins at 2 kHz
    hop = nper // 8
    a = max(0, int((start_s - ISOLATE_CONTEXT_S) * sample_rate))
    b = min(len(x), int((end_s + ISOLATE_CONTEXT_S) * sample_rate))
    seg = np.asarray(x[a:b], dtype=np.float64)
    if len(seg) < 2 * nper:
        return None
    f, t, z = signal.stft(seg, fs=sample_rate, nperseg=nper, noverlap=nper - hop)
    power = ndimage.uniform_filter(np.abs(z) ** 2, size=(3, 5), mode="nearest")
    floor = np.median(power, axis=1, keepdims=True) + 1e-30
    t0, t1 = start_s - a / sample_rate, end_s - a / sample_rate
    frame, step = nper / sample_rate, sample_rate / nper
    inside = (t >= t0 - frame) & (t <= t1 + frame)
    band = (f >= low_hz - step) & (f <= min(high_hz, sample_rate / 2) + step)
    mask = (power > floor * 10 ** (ISOLATE_DB / 10)) & band[:, None] & inside[None, :]
    # a faint stretch of a contour dipping under the threshold for a few frames stays one call
    mask = ndimage.binary_closing(mask, structure=np.ones((3, 9), dtype=bool)) & band[:, None] & inside[None, :]
    regions, n = ndimage.label(mask)
    if n == 0:
        return None
    # per region (numpy's, not ndimage.maximum, which crashes under qemu-user after scipy.signal loads)
    excess = np.bincount(regions.ravel(), weights=(power - floor).ravel(), minlength=n + 1)[1:]
    peak = np.zeros(n + 1)
    np.maximum.at(peak, regions.ravel(), (power / floor).ravel())
    if peak[1:].max() < 10 ** (ISOLATE_PEAK_DB / 10):
        return None  # what passed is the noise's own fluctuation
    mask = np.isin(regions, 1 + np.flatnonzero(excess >= 0.2 * excess.max()))
    mask = ndimage.binary_dilation(mask, structure=np.ones((3, 5), dtype=bool))
    gain = np.sqrt(np.clip(1 - floor / power, 0, 1)) * mask
    gain = ndimage.uniform_filter(gain, size=(3, 3), mode="constant")
    _, y = signal.istft(z * gain, fs=sample_rate, nperseg=nper, noverlap=nper - hop)
    cols, rows = np.flatnonzero(mask.any(axis=0)), np.flatnonzero(mask.any(axis=1))
    s0 = max(0, int((t[cols[0]] - frame / 2) * sample_rate))
    s1 = min(len(seg), int((t[cols[-1]] + frame / 2) * sample_rate))
    call = y[s0:s1]
    top = np.max(np.abs(call)) if len(call) else 0.0
    if top <= 0:
        return None
    return call / top, float(max(f[rows[0]], 0.0)), float(f[rows[-1]])


def synth_recording(
    rng: np.random.Generator,
    *,
    sample_rate: int,
    duration_s: float,
    calls: dict[str, int],
    snr_db: tuple[float, float] = (5.0, 15.0),
    background: np.ndarray | None = None,
    noise_alpha: float = 1.0,
    noise_rms: float = 0.01,
    name: str = "synthetic.wav",
    min_gap_s: float = 0.5,
    recorded: dict[str, list[RecordedCall]] | None = None,
    recorded_share: float = 0.0,
) -> tuple[np.ndarray, list[Annotation]]:
    """A recording with ``calls`` (type -> count) at random non-overlapping times.

    ``background`` (samples at ``sample_rate``, at least ``duration_s`` long) is used as is,
    else seeded coloured noise.  Each call is, with probability ``recorded_share``, one of
    ``recorded[type]`` (calls lifted out of annotated recordings) drawn at random, else the
    type's generator's.  Returns float32 samples (clipped to +-1) and the exact
    annotations, sorted by start.
    """
    n = int(round(duration_s * sample_rate))
    if background is not None:
        if len(background) < n:
            raise ValueError(f"background holds {len(background)} samples, {n} needed")
        x = np.asarray(background[:n], dtype=np.float64)
    else:
        x = coloured_noise(rng, n, alpha=noise_alpha, rms=noise_rms)
    taken: list[tuple[int, int]] = []
    annotations = []
    gap = int(min_gap_s * sample_rate)
    for kind, count in calls.items():
        generate = generator(kind)
        pool = (recorded or {}).get(kind) or []
        for _ in range(count):
            if recorded_share > 0 and pool and rng.random() < recorded_share:
                call, low, high = pool[int(rng.integers(len(pool)))]
            else:
                call, low, high = generate(rng, sample_rate)
            for _attempt in range(200):
                start = int(rng.integers(gap, max(gap + 1, n - len(call) - gap)))
                end = start + len(call)
                if all(end + gap <= a or start >= b + gap for a, b in taken):
                    break
            else:
                raise ValueError(f"no room for {sum(calls.values())} calls in {duration_s} s")
            taken.append((start, end))
            x = mix(x, call, start, float(rng.uniform(*snr_db)), sample_rate, low, high)
            annotations.append(Annotation(name, start / sample_rate, end / sample_rate, low, high, kind))
    annotations.sort(key=lambda a: a.start_s)
    return np.clip(x, -1.0, 1.0).astype(np.float32), annotations
