"""edge-detect over one hour of 2 kHz right-whale audio, whole process including start-up, this
checkout beside a baseline checkout (e.g. a git worktree of an earlier commit), alternated.

Reports each run's seconds, the medians and their ratio, and what each run found (candidates,
detections, model identity from run.json).  Both run with this checkout's interpreter, each
with its own tree first on PYTHONPATH, so the code and shipped bundles compared are the
checkouts'.

``--species MINUTES`` runs the ``multispecies`` deployment instead (tonal ROIs, the impulse
detector and the ranker, every window classified) over one recording of that many minutes at
48 kHz: the 48-kHz SanctSound clips of ../shared in name order, end to end, repeated (snapping
shrimp, dolphins, sperm-whale clicks and baleen whales: an impulse-rich soundscape).

    git worktree add /tmp/base 28ab492
    python benchmarks/bench_edge_detect_hour.py --baseline /tmp/base [--repeats 5] [--species 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT.parent / "shared" / "data" / "real" / "meridian-osmose-narw" / "task-2a" / "data" / "train"
HOUR = [TRAIN / "narw" / f"NOPP6_EST_20090328_{t}.wav" for t in ("000000", "001500", "003000")] + [
    TRAIN / "background" / "GSC_2000-05-19_00-00-00.wav"
]
SANCTSOUND = ROOT.parent / "shared" / "data" / "real" / "noaa-sanctsound" / "files"


def species_recording(minutes: float, path: Path) -> Path:
    """The 48-kHz SanctSound clips end to end, repeated to ``minutes``, as one 16-bit WAV."""
    import numpy as np
    import soundfile as sf

    clips = []
    for clip in sorted(SANCTSOUND.glob("*.wav")):
        x, rate = sf.read(clip, dtype="float32", always_2d=True)
        if rate == 48_000:
            clips.append(x[:, 0])
    whole = np.concatenate(clips)
    n = int(minutes * 60 * 48_000)
    sf.write(path, np.tile(whole, -(-n // len(whole)))[:n], 48_000, subtype="PCM_16")
    return path


def run(tree: Path, out: Path, config: str, recordings: list[Path]) -> tuple[float, dict]:
    cmd = [
        sys.executable,
        "-c",
        "from edge.cli.detect import main; main()",
        "--config",
        config,
        "-q",
        "-o",
        str(out),
        *map(str, recordings),
    ]
    t0 = time.perf_counter()
    subprocess.run(
        cmd, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, check=True, capture_output=True, timeout=600
    )
    seconds = time.perf_counter() - t0
    doc = json.loads((out / "run.json").read_text())
    return seconds, {
        "model": doc["model"]["identity"],
        "candidates": sum(f.get("roi_count", 0) for f in doc["files"]),
        "detections": sum(f.get("detections", 0) for f in doc["files"]),
        "outputs": {p.name: p.read_bytes() for p in sorted(out.glob("*.csv"))},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, type=Path, help="another checkout to compare with")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--species", type=float, metavar="MINUTES", help="multispecies over 48-kHz audio instead")
    args = ap.parse_args()
    trees = {"baseline": args.baseline.resolve(), "this": ROOT}
    seconds: dict[str, list[float]] = {k: [] for k in trees}
    found: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        config, recordings = "firmware-config/deployments/narw-upcall.yaml", HOUR
        if args.species:
            config = "firmware-config/deployments/multispecies.yaml"
            recordings = [species_recording(args.species, Path(tmp) / "sanctsound-48k.wav")]
        for i in range(args.repeats):  # alternated, so drift on the host hits both
            for name, tree in trees.items():
                s, found[name] = run(tree, Path(tmp) / f"{name}-{i}", config, recordings)
                seconds[name].append(s)
    med = {k: statistics.median(v) for k, v in seconds.items()}
    for name in trees:
        print(
            f"{name:<9} {found[name]['model']:<28} candidates {found[name]['candidates']:>5}  detections "
            f"{found[name]['detections']:>4}  s: {' '.join(f'{x:.2f}' for x in seconds[name])}  median {med[name]:.2f}"
        )
    same = found["this"]["outputs"] == found["baseline"]["outputs"]
    print(f"outputs ({', '.join(found['this']['outputs'])}) byte-identical: {same}")
    print(f"this / baseline: {med['this'] / med['baseline']:.2f}x")


if __name__ == "__main__":
    main()
