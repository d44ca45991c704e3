"""The impulse detector at 96 kHz: its cost per audio hour beside the tonal stage, and what it
finds against the clicks' SNR.

Cost: a seeded synthetic recording (white noise with a click train, 96 kHz) goes block by
block (10 s) through the frontend and the tonal ROI detector, and through the impulse
detector; each is timed on its own (one core, medians of ``--repeats``), reported as seconds per
audio hour and as the ratio of the two.

Recall: minutes of white noise, each with a click every 0.5 s (jittered) whose peak amplitude is
6-20 dB (uniform) over the noise RMS, of four kinds: 50-us Gabor clicks at 20 kHz; Gabor clicks
at 5-40 kHz of 15-60 % relative bandwidth; broadband clicks at 15-25 kHz (80-100 %); narrowband
clicks at 5-40 kHz (10-20 %, up to a few ms long). Clicks found (within 1 ms of a true one),
false clicks among them, false clicks per minute of ``--noise-minutes`` of the noise alone, and
clicks per minute on the real recordings of baleen whales in ``../shared`` at 32 kHz and up
(not click-free: snapping shrimp and other impulses), at several ``threshold_db``; the same
kind of clicks at 6-20 dB put into those real clips instead of white noise (real noise is red:
the SNR the detector's band sees is far higher); the
clicks and click trains of each SanctSound clip with real clicks or of baleen whales; and the clicks per minute in a
2 kHz recording of background analysed at 44.1 kHz (multispecies.yaml). For the
20-kHz clicks, the bound no detector can pass: a matched filter knowing the click's waveform,
its threshold set for the same false clicks per minute of noise.

    python benchmarks/bench_clicks.py [--minutes 10] [--repeats 3] [--thresholds 8 8.5 9 10] [--json]
    python benchmarks/bench_clicks.py --edge WORKTREE ...   # another checkout's detector, same signals
    python benchmarks/bench_clicks.py --skip-cost --snr band   # SNR of click and noise in the click's -3 dB band
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "real" / "noaa-sanctsound" / "files"
if "--edge" in sys.argv:  # before edge is imported: the detector of another checkout
    sys.path.insert(0, str(Path(sys.argv[sys.argv.index("--edge") + 1]).resolve()))
sys.path.insert(1, str(ROOT))

from edge.clicks import ClickSettings, ImpulseDetector  # noqa: E402
from edge.frontend import FrontendSpec, StreamingFrontend  # noqa: E402
from edge.roi import RoiSettings, StreamingRoiDetector  # noqa: E402
from edge.types import AudioBlock, SpectralFrames  # noqa: E402

SR = 96_000
BLOCK = 10 * SR
NOISE = 0.01  # RMS, full scale
KINDS = {  # centre frequency (Hz) and relative bandwidth ranges, or a fixed 50-us Gabor click
    "20 kHz, 50 us": None,
    "5-40 kHz, 15-60 %": ((5_000, 40_000), (0.15, 0.6)),
    "broadband 15-25 kHz": ((15_000, 25_000), (0.8, 1.0)),
    "narrowband 5-40 kHz": ((5_000, 40_000), (0.1, 0.2)),
}
BALEEN = ("humpback", "blue", "fin", "gray", "minke", "northatlanticright")


def recording(minutes: float) -> np.ndarray:
    rng = np.random.default_rng(8)
    x = NOISE * rng.standard_normal(int(minutes * 60 * SR))
    for at in np.arange(0.5, minutes * 60 - 0.5, 0.4):
        i = int(at * SR)
        x[i - 48 : i + 48] += 6 * NOISE * _gabor20()
    return x.astype(np.float32)


def _gabor20() -> np.ndarray:
    t = np.arange(-48, 48) / SR
    return np.exp(-((t / 50e-6) ** 2)) * np.cos(2 * np.pi * 20_000 * t)


def tonal(x: np.ndarray) -> float:
    spec = FrontendSpec(nfft=1024, hop=512, sample_rate=SR)
    frontend = StreamingFrontend(spec, 0.0)
    detector = StreamingRoiDetector(RoiSettings(fmin=1000), spec)
    t0 = time.perf_counter()
    for start in range(0, len(x), BLOCK):
        block = AudioBlock(x[start : start + BLOCK], start)
        detector.push(frontend.push(block), block)
    detector.flush()
    return time.perf_counter() - t0


def clicks(x: np.ndarray) -> tuple[float, int]:
    spec = FrontendSpec(nfft=1024, hop=512, sample_rate=SR)
    frontend = StreamingFrontend(spec, 0.0)
    detector = ImpulseDetector(ClickSettings(fmin=5000), SR, level_db=170.0, hop=512)
    frames = [frontend.push(AudioBlock(x[s : s + BLOCK], s)) for s in range(0, len(x), BLOCK)]  # not timed
    t0 = time.perf_counter()
    for i, start in enumerate(range(0, len(x), BLOCK)):
        detector.push(frames[i], AudioBlock(x[start : start + BLOCK], start))
    detector.flush()
    return time.perf_counter() - t0, detector.n_clicks


def band_scale(click: np.ndarray) -> float:
    """The amplitude that puts ``click`` (unit scale) at 0 dB SNR in its own -3 dB band: its peak
    through an ideal band-pass on that band over the RMS of the white noise through the same band
    (the band-passed SNR a click detector's trigger filter sees, as PAMGuard's is usually set)."""
    n = 1 << int(np.ceil(np.log2(len(click) * 8)))
    spectrum = np.fft.rfft(click, n)
    power = np.abs(spectrum) ** 2
    peak = int(np.argmax(power))
    low, high = peak, peak
    while low > 0 and power[low - 1] >= power[peak] / 2:
        low -= 1
    while high < len(power) - 1 and power[high + 1] >= power[peak] / 2:
        high += 1
    mask = np.zeros(len(power))
    mask[low : high + 1] = 1
    click_peak = float(np.max(np.abs(np.fft.irfft(spectrum * mask, n))))
    noise_rms = NOISE * np.sqrt((high - low + 1) / len(power))  # white noise: RMS by the share of the band
    return noise_rms / click_peak


def gabor(fc: float, bandwidth: float, rate: int) -> np.ndarray:
    """A unit Gabor click at ``fc`` whose spectrum's FWHM is ``bandwidth`` x ``fc``, at ``rate``."""
    sigma = 2.355 / (2 * np.pi * bandwidth * fc)
    t = np.arange(-int(3 * sigma * rate) - 1, int(3 * sigma * rate) + 2) / rate
    return np.exp(-0.5 * (t / sigma) ** 2) * np.cos(2 * np.pi * fc * t)


def click_minute(kind: str, seed: int, snr: str = "peak") -> tuple[np.ndarray, np.ndarray]:
    """A minute of white noise with 118 clicks of ``kind`` at 6-20 dB SNR: with ``snr`` "peak",
    the click's peak over the broadband noise RMS; with "band", both measured in the click's own
    -3 dB band (:func:`band_scale`)."""
    rng = np.random.default_rng(seed)
    times = np.arange(0.5, 59.5, 0.5) + rng.uniform(-0.05, 0.05, 118)
    x = NOISE * rng.standard_normal(60 * SR)
    for at in times:
        db = rng.uniform(6, 20)
        if KINDS[kind] is None:
            click = _gabor20()
        else:
            (f0, f1), (b0, b1) = KINDS[kind]  # type: ignore[misc]
            fc = rng.uniform(f0, f1)
            click = gabor(fc, rng.uniform(b0, b1), SR)
        i = int(at * SR) - len(click) // 2
        scale = band_scale(click) if snr == "band" else NOISE
        x[i : i + len(click)] += scale * 10 ** (db / 20) * click
    return times, x.astype(np.float32)


def found_times(x: np.ndarray, settings: ClickSettings, rate: int = SR) -> np.ndarray:
    seen: list[float] = []
    detector = ImpulseDetector(settings, rate, level_db=170.0, hop=512, on_click=lambda c: seen.append(c.time_s))
    empty = SpectralFrames(np.zeros((0, 3), np.float32), 0)  # the impulse detector reads the samples only
    for start in range(0, len(x), BLOCK):
        detector.push(empty, AudioBlock(x[start : start + BLOCK], start))
    detector.flush()
    return np.array(seen)


def score(found: np.ndarray, times: np.ndarray) -> tuple[int, int]:
    hits = sum(bool(np.any(np.abs(found - s) < 0.001)) for s in times)
    false = sum(not np.any(np.abs(times - f) < 0.001) for f in found)
    return hits, false


def matched_filter_bound(noise: np.ndarray, false_per_min: float, snr: str = "peak") -> int:
    """Clicks of the 20-kHz minute a matched filter (quadrature pair on the known waveform,
    peaks 2 ms apart) finds at the threshold giving ``false_per_min`` on ``noise``."""
    from scipy.signal import fftconvolve, find_peaks

    t = np.arange(-48, 48) / SR
    env = np.exp(-((t / 50e-6) ** 2))
    pair = [env * np.cos(2 * np.pi * 20_000 * t), env * np.sin(2 * np.pi * 20_000 * t)]
    pair = [(p / np.linalg.norm(p))[::-1] for p in pair]

    def out(x: np.ndarray) -> np.ndarray:
        return np.hypot(*(fftconvolve(x.astype(np.float64), p, "same") for p in pair))

    y = out(noise)
    peaks = np.sort(y[find_peaks(y, distance=int(0.002 * SR))[0]])[::-1]
    allowed = int(false_per_min * len(noise) / SR / 60)
    level = peaks[allowed] if allowed < len(peaks) else 0.0
    times, x = click_minute("20 kHz, 50 us", 1, snr)
    y = out(x)
    return score(find_peaks(y, height=level + 1e-12, distance=int(0.002 * SR))[0] / SR, times)[0]


def _clips(kinds: tuple[str, ...]) -> list[tuple[str, np.ndarray, int]]:
    """(name, samples, rate) of the SanctSound clips at 32 kHz and up whose names hold one of ``kinds``."""
    import soundfile as sf

    out = []
    for path in sorted(SHARED.glob("*.wav")) if SHARED.is_dir() else []:
        if any(k in path.name.lower() for k in kinds):
            x, rate = sf.read(path, dtype="float32", always_2d=True)
            if rate >= 32_000:
                out.append((path.name, x[:, 0], rate))
    return out


def real_background() -> list[tuple[np.ndarray, int]]:
    return [(x, rate) for _, x, rate in _clips(BALEEN)]


def real_clicks() -> list[dict]:
    """Per SanctSound clip with real clicks (dolphins, sperm and killer whales) and of baleen
    whales (no odontocete clicks, but snapping shrimp and other impulses), with the clicks section
    of multispecies.yaml: clicks found and click trains (no truth: whether the trains hold, not
    which count is right; a train in a baleen-whale clip is one the classifier has to reject)."""
    from edge.config import load_deployment

    settings = load_deployment(ROOT / "firmware-config" / "deployments" / "multispecies.yaml").clicks
    assert settings is not None
    out = []
    for name, x, rate in _clips(("dolphin", "sperm", "killer") + BALEEN):
        detector = ImpulseDetector(settings, rate, level_db=170.0, hop=512)
        empty = SpectralFrames(np.zeros((0, 3), np.float32), 0)
        trains = detector.push(empty, AudioBlock(x, 0)) + detector.flush()
        out.append({"clip": name, "clicks": detector.n_clicks, "trains": len(trains), "minutes": len(x) / rate / 60})
    return out


def recall(thresholds: list[float], noise_minutes: float, snr: str = "peak") -> dict:
    noise = (NOISE * np.random.default_rng(9).standard_normal(int(noise_minutes * 60 * SR))).astype(np.float32)
    minutes = {kind: click_minute(kind, seed, snr) for seed, kind in enumerate(KINDS, start=1)}
    real = real_background()
    real_min = sum(len(x) / rate for x, rate in real) / 60
    rows = []
    for threshold in thresholds:
        settings = ClickSettings(fmin=5000, threshold_db=threshold)
        row: dict = {"threshold_db": threshold, "kinds": {}}
        for kind, (times, x) in minutes.items():
            hits, false = score(found_times(x, settings), times)
            row["kinds"][kind] = {"clicks": len(times), "found": hits, "false": false}
        row["false_per_min_noise"] = len(found_times(noise, settings)) / noise_minutes
        row["clicks_per_min_real"] = (
            sum(len(found_times(x, ClickSettings(fmin=2000, threshold_db=threshold), rate)) for x, rate in real)
            / real_min
            if real
            else None
        )
        rows.append(row)
    bound_rate = max(min(r["false_per_min_noise"] for r in rows), 1 / noise_minutes)
    return {
        "rows": rows,
        "noise_minutes": noise_minutes,
        "real_minutes": real_min,
        "snr": snr,
        "matched_filter_20khz": {"false_per_min": bound_rate, "found": matched_filter_bound(noise, bound_rate, snr)},
    }


def real_background_recall(thresholds: list[float]) -> dict | None:
    """Clicks in real background instead of white noise: into each real baleen-whale clip (44.1-48
    kHz; its calls, shrimp and other impulses are the background) a click every 0.5 s (jittered),
    Gabor clicks at 5 kHz to 40 % of the clip's rate, 15-60 % relative bandwidth, 6-20 dB peak over
    the clip's broadband RMS, as the white-noise minutes put them; detector band from 5 kHz. Real
    noise is red, so a click at a given broadband SNR stands far higher over the noise in its own
    band than in white noise: the median of that in-band SNR is reported beside what is found, and
    the clips' own detections per minute (no clicks added) at each threshold."""
    from scipy.signal import butter, sosfilt

    clips = _clips(BALEEN)
    if not clips:
        return None
    mixed = []  # (clip, clip with clicks, click times, rate): the same clicks at every threshold
    in_band: list[float] = []
    for k, (_, x, rate) in enumerate(clips):
        rng = np.random.default_rng(100 + k)
        rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))
        times = np.arange(0.25, len(x) / rate - 0.25, 0.5)
        times = times + rng.uniform(-0.05, 0.05, len(times))
        y = x.astype(np.float64)
        sos = butter(4, [5000, 0.45 * rate], btype="bandpass", fs=rate, output="sos")
        band_rms = float(np.sqrt(np.mean(sosfilt(sos, x.astype(np.float64)) ** 2)))
        for at in times:
            fc = rng.uniform(5000, 0.4 * rate)
            click = gabor(fc, rng.uniform(0.15, 0.6), rate)
            click *= rms * 10 ** (rng.uniform(6, 20) / 20)
            i = int(at * rate) - len(click) // 2
            y[i : i + len(click)] += click
            in_band.append(20 * np.log10(np.max(np.abs(click)) / band_rms))
        mixed.append((x, y.astype(np.float32), times, rate))
    minutes = sum(len(x) / rate for x, _, _, rate in mixed) / 60
    rows = []
    for threshold in thresholds:
        settings = ClickSettings(fmin=5000, threshold_db=threshold)
        found = sum(score(found_times(y, settings, rate), times)[0] for _, y, times, rate in mixed)
        own = sum(len(found_times(x, settings, rate)) for x, _, _, rate in mixed)
        total = sum(len(times) for _, _, times, _ in mixed)
        rows.append({"threshold_db": threshold, "found": found, "clicks": total, "own_per_min": own / minutes})
    return {"clips": len(clips), "minutes": minutes, "in_band_snr_db_median": float(np.median(in_band)), "rows": rows}


def low_rate_clicks() -> dict | None:
    """Clicks per minute that edge-detect's chain finds under multispecies.yaml (44.1 kHz, clicks
    from 2 kHz) in a 2 kHz recording of background (GSC, no clicks above its 1-kHz Nyquist
    frequency): before the impulse detector learned what a resampled recording holds, the
    resampler's residue up there gave hundreds a minute."""
    from edge.config import load_deployment
    from edge.pipeline import Chain, prepare

    path = (
        ROOT.parent / "shared/data/real/meridian-osmose-narw/task-2a/data/train/background/GSC_2000-05-19_00-00-00.wav"
    )
    if not path.exists():
        return None
    config = load_deployment(ROOT / "firmware-config" / "deployments" / "multispecies.yaml")
    prep = prepare(path, config, None)
    res = Chain(prep, config, levels=False, clicks=True).run()
    minutes = prep.info.duration_s / 60
    return {
        "file": path.name,
        "rate": prep.info.sample_rate,
        "clicks_per_min": len(res.clicks) / minutes,
        "trains": sum(1 for r in res.rois if r.clicks),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[8.0, 8.5, 9.0, 10.0])
    parser.add_argument("--noise-minutes", type=float, default=10.0)
    parser.add_argument("--edge", help="a checkout whose edge package is measured instead of this one's")
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument(
        "--snr",
        choices=("peak", "band"),
        default="peak",
        help="the clicks' 6-20 dB: peak over the broadband noise RMS, or both in the click's -3 dB band",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    result: dict = {}
    if not args.skip_cost:
        x = recording(args.minutes)
        hours = len(x) / SR / 3600
        tonal_s, click_s, found = [], [], 0
        for _ in range(args.repeats):  # interleaved: the same machine state for both
            tonal_s.append(tonal(x))
            seconds, found = clicks(x)
            click_s.append(seconds)
        result.update(
            audio_h=hours,
            frontend_and_tonal_s_per_audio_h=statistics.median(tonal_s) / hours,
            impulse_detector_s_per_audio_h=statistics.median(click_s) / hours,
            clicks_found=found,
            clicks_in_recording=len(np.arange(0.5, args.minutes * 60 - 0.5, 0.4)),
        )
        result["ratio"] = result["impulse_detector_s_per_audio_h"] / result["frontend_and_tonal_s_per_audio_h"]
    result["recall_6_to_20_db"] = recall(args.thresholds, args.noise_minutes, args.snr)
    result["real_background"] = real_background_recall(args.thresholds + [12.0, 16.0, 20.0])
    result["real_clicks"] = real_clicks()
    result["low_rate"] = low_rate_clicks()
    if args.json:
        print(json.dumps(result, indent=2))
        return
    if not args.skip_cost:
        print(
            f"96 kHz, per audio hour (median of {args.repeats}): frontend + tonal ROI detector "
            f"{result['frontend_and_tonal_s_per_audio_h']:.1f} s, impulse detector "
            f"{result['impulse_detector_s_per_audio_h']:.1f} s ({result['ratio']:.2f}x); "
            f"{result['clicks_found']} of {result['clicks_in_recording']} clicks found"
        )
    rec = result["recall_6_to_20_db"]
    print(
        f"clicks at 6-20 dB {'peak over the noise RMS' if args.snr == 'peak' else 'SNR in their own -3 dB band'}: "
        f"found of 118 (false among them); noise {rec['noise_minutes']:g} min"
    )
    print(
        "| threshold_db | "
        + " | ".join(KINDS)
        + " | false per min of noise | clicks per min of real baleen-whale clips |"
    )
    for r in rec["rows"]:
        cells = [f"{k['found']} ({k['false']})" for k in r["kinds"].values()]
        real = "n/a" if r["clicks_per_min_real"] is None else f"{r['clicks_per_min_real']:.0f}"
        print(f"| {r['threshold_db']:g} | " + " | ".join(cells) + f" | {r['false_per_min_noise']:.2f} | {real} |")
    mf = rec["matched_filter_20khz"]
    print(
        f"matched filter on the known 20-kHz waveform at {mf['false_per_min']:.2f} false per minute: {mf['found']} of 118"
    )
    if (bg := result["real_background"]) is not None:
        print(
            f"clicks in {bg['clips']} real baleen-whale clips ({bg['minutes']:.1f} min), 6-20 dB peak over each clip's "
            f"broadband RMS (median {bg['in_band_snr_db_median']:.0f} dB over the noise in the 5 kHz-and-up band):"
        )
        print("| threshold_db | found | the clips' own detections per min |")
        for r in bg["rows"]:
            print(f"| {r['threshold_db']:g} | {r['found']} of {r['clicks']} | {r['own_per_min']:.0f} |")
    for r in result["real_clicks"]:
        print(f"{r['clip']}: {r['clicks']} clicks, {r['trains']} trains, {r['minutes']:.2f} min")
    if (low := result["low_rate"]) is not None:
        print(
            f"{low['file']} ({low['rate']} Hz) under multispecies: {low['clicks_per_min']:.1f} clicks per minute, "
            f"{low['trains']} trains"
        )


if __name__ == "__main__":
    main()
