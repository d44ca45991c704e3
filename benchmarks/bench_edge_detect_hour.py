"""edge-detect over one hour of 2 kHz right-whale audio, whole process including start-up, this
checkout beside a baseline checkout (e.g. a git worktree of an earlier commit), alternated.

Reports each run's seconds, the medians and their ratio, and what each run found (candidates,
detections, model identity from run.json).  Both run with this checkout's interpreter, each
with its own tree first on PYTHONPATH, so the code and shipped bundles compared are the
checkouts'.

    git worktree add /tmp/base 28ab492
    python benchmarks/bench_edge_detect_hour.py --baseline /tmp/base [--repeats 5]
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


def run(tree: Path, out: Path) -> tuple[float, dict]:
    cmd = [
        sys.executable,
        "-c",
        "from edge.cli.detect import main; main()",
        "--config",
        "firmware-config/deployments/narw-upcall.yaml",
        "-q",
        "-o",
        str(out),
        *map(str, HOUR),
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
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", required=True, type=Path, help="another checkout to compare with")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    trees = {"baseline": args.baseline.resolve(), "this": ROOT}
    seconds: dict[str, list[float]] = {k: [] for k in trees}
    found: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):  # alternated, so drift on the host hits both
            for name, tree in trees.items():
                s, found[name] = run(tree, Path(tmp) / f"{name}-{i}")
                seconds[name].append(s)
    med = {k: statistics.median(v) for k, v in seconds.items()}
    for name in trees:
        print(
            f"{name:<9} {found[name]['model']:<28} candidates {found[name]['candidates']:>5}  detections "
            f"{found[name]['detections']:>4}  s: {' '.join(f'{x:.2f}' for x in seconds[name])}  median {med[name]:.2f}"
        )
    print(f"this / baseline: {med['this'] / med['baseline']:.2f}x")


if __name__ == "__main__":
    main()
