"""The ranked answer per recording when the recording is a short clip: each real recording of a
multispecies recipe run cut to its loudest L seconds (the span whose frames stand most over each
frequency bin's median over the recording: what a clip library cuts around a call), written at
its own rate and ranked by the fold model that never saw its group, pooled as edge-detect pools
(``training.folds.score_recording``: a recording shorter than the window is one window, its
last frame repeated).

Clip libraries hold many clips shorter than the 2-s window, and a training set where one class's
clips are mostly short can teach the padding as that class; this says whether a recording's
species survives being cut short.  ``--zeros S`` also ranks each recording with S seconds of
digital silence either side, as some libraries pad their clips (edge.ranking leaves the zeros out).

    python benchmarks/bench_ranking_short.py --run RUN_DIR [--lengths 1.0,1.5] [--zeros 1.0] [--json]

RUN_DIR is the output folder of ``edge-train training/recipes/multispecies.yaml``. The cuts are
written to ``RUN_DIR/short_clips``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.audio import probe  # noqa: E402
from training.features import RecordingFeatures, recording_features  # noqa: E402
from training.folds import FoldsRun, report  # noqa: E402


def loudest_start(feats: np.ndarray, n: int) -> int:
    """The first frame of the ``n`` consecutive frames that stand most over each bin's median."""
    level = (feats - np.median(feats, axis=0)).sum(axis=1)
    if len(level) <= n:
        return 0
    return int(np.argmax(np.convolve(level, np.ones(n), mode="valid")))


def cut(rf: RecordingFeatures, length_s: float, out: Path) -> Path:
    """The recording's loudest ``length_s`` seconds (by ``rf``, its features on the
    deployment's channel) at its own rate, every channel kept."""
    path = Path(rf.path)
    start_s = loudest_start(rf.feats, max(1, round(length_s / rf.spec.hop_s))) * rf.spec.hop_s
    rate = probe(path).sample_rate
    audio, _ = sf.read(path, start=int(start_s * rate), frames=int(round(length_s * rate)), dtype="float32")
    out.mkdir(parents=True, exist_ok=True)
    target = out / _name(path)
    sf.write(target, audio, rate, subtype="FLOAT")
    return target


def padded(path: Path, zeros_s: float, out: Path) -> Path:
    """``path`` with ``zeros_s`` seconds of digital silence either side."""
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    gap = int(round(zeros_s * rate))
    out.mkdir(parents=True, exist_ok=True)
    target = out / _name(path)
    sf.write(target, np.pad(audio, ((gap, gap), (0, 0))), rate, subtype="FLOAT")
    return target


def _name(path: Path) -> str:
    return f"{path.stem}-{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]}.wav"  # stems may repeat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--lengths", default="1.0,1.5", help="comma-separated, seconds")
    parser.add_argument("--zeros", type=float, default=0.0, help="seconds of zeros either side (0: not ranked)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    lengths = sorted(float(s) for s in args.lengths.split(","))
    folds = FoldsRun(args.run)
    # per length: every recording cut to it (those no longer as they are), beside the same
    # recordings whole, and the recordings longer than it alone (the ones the cut changes)
    rows: dict[str, list[dict]] = {"whole": []}
    if args.zeros:
        rows[f"whole, {args.zeros:g} s of zeros either side"] = []
    for length in lengths:
        rows |= {f"{length:g} s": [], f"{length:g} s, longer only": [], f"whole, longer than {length:g} s": []}
    for rec in folds.held_out():
        whole = folds.score(rec)
        rows["whole"].append(whole)
        if args.zeros:
            zeros = padded(rec.path, args.zeros, folds.run / "zero_padded" / f"{args.zeros:g}")
            rows[f"whole, {args.zeros:g} s of zeros either side"].append(folds.score(rec, zeros))
        duration = probe(rec.path).duration_s
        rf = None  # the recording's features, computed once for every length it is cut to
        for length in lengths:
            if duration <= length:
                rows[f"{length:g} s"].append(whole)
                continue
            rf = rf or recording_features(rec.path, folds.deployment, folds.table, with_rois=False)
            short = folds.score(rec, cut(rf, length, folds.run / "short_clips" / f"{length:g}"))
            rows[f"{length:g} s"].append(short)
            rows[f"{length:g} s, longer only"].append(short)
            rows[f"whole, longer than {length:g} s"].append(whole)
    report(rows, "recordings", args.json)


if __name__ == "__main__":
    main()
