"""Peak memory of an edge-detect run at archive scale: issue 15 asks for under 200 MB with
5,000 recordings or 2 million records.

Two measurements, each variant in a fresh process (its peak RSS, ``ru_maxrss``):

* ``files``: ``edge-detect --no-model`` over N short recordings (default 5,000 two-second
  files of noise at 2 kHz, the narw-upcall deployment): the per-recording cost of a run.
* ``records``: the engine's commit and assembly path (``start_run``, ``commit`` per recording,
  ``finish``) with R synthetic detections (default 2,000,000 over 1,000 recordings), holding
  each recording's records only until its part is committed (``light``, what edge-detect does)
  beside the baseline that held every record of the run until the end (``all``, what it did
  before); ``all`` runs at a tenth of the records (it needs gigabytes) and its figure is given
  per record too.

    python benchmarks/bench_memory.py [--files 5000] [--records 2000000] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_files(folder: Path, out: Path) -> dict:
    from edge.cli.detect import main

    try:
        main([str(folder), "-o", str(out), "--config", "narw-upcall", "--no-model", "-q"], standalone_mode=False)
    except SystemExit:
        pass
    totals = json.loads((out / "run.json").read_text())["totals"]
    return {"peak_mb": peak_mb(), "files": totals["files"], "detections": totals["detections"]}


def child_records(folder: Path, out: Path, records: int, hold: str) -> dict:
    from edge.config import load_deployment
    from edge.detect import FileOutcome, RunOptions, commit, finish, start_run
    from edge.types import Detection

    config = load_deployment("narw-upcall")
    ctx = start_run([folder], out, config, RunOptions())
    per_file = records // len(ctx.paths)
    rnd = random.Random(1)
    outcomes = []
    for path in ctx.paths:
        detections = [
            Detection(
                str(path),
                0,
                "",
                t,
                t + 1.0,
                60.0,
                220.0,
                "roi",
                float("nan"),
                rnd.uniform(5, 30),
                rnd.uniform(90, 140),
                deployment=config.name,
                config_hash=config.hash,
            )
            for t in np.linspace(0, 1.9, per_file).tolist()
        ]
        outcome = FileOutcome(str(path), "ok", "", 2.0, per_file, detections, [], [], {"warnings": []})
        commit(ctx, path, outcome, None)
        outcomes.append(outcome.light() if hold == "light" else outcome)
    report = finish(ctx, outcomes, 1.0)
    return {"peak_mb": peak_mb(), "records": sum(f.detection_count for f in report.files)}


def child(argv: list[str]) -> None:
    kind, folder, out = argv[0], Path(argv[1]), Path(argv[2])
    result = child_files(folder, out) if kind == "files" else child_records(folder, out, int(argv[3]), argv[4])
    print(json.dumps(result))


def spawn(*args: object) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *map(str, args)], capture_output=True, text=True, timeout=7200, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def recordings(folder: Path, n: int) -> None:
    rng = np.random.default_rng(2)
    folder.mkdir(parents=True)
    for i in range(n):
        sf.write(str(folder / f"site_20240501_{i:06d}.wav"), 0.01 * rng.standard_normal(4000), 2000, subtype="PCM_16")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--record-files", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = Path(tmp)
        recordings(work / "many", args.files)
        recordings(work / "some", args.record_files)
        result = {
            "files": {"n": args.files, **spawn("files", work / "many", work / "out-files")},
            "records_light": spawn("records", work / "some", work / "out-light", args.records, "light"),
            "records_light_tenth": spawn("records", work / "some", work / "out-tenth", args.records // 10, "light"),
            "records_all": spawn("records", work / "some", work / "out-all", args.records // 10, "all"),
        }
    light, tenth, held = result["records_light"], result["records_light_tenth"], result["records_all"]
    # what holding the records costs on top of the same run holding them one recording at a time
    held["mb_per_1000_records"] = (held["peak_mb"] - tenth["peak_mb"]) / held["records"] * 1000
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"edge-detect over {args.files} recordings: peak {result['files']['peak_mb']:.0f} MB")
    print(f"{light['records']:,} records, each recording's held until committed: peak {light['peak_mb']:.0f} MB")
    print(
        f"{held['records']:,} records all held to the end (the baseline): peak {held['peak_mb']:.0f} MB against "
        f"{tenth['peak_mb']:.0f} MB held until committed: {held['mb_per_1000_records']:.2f} MB per 1,000 records "
        f"held, so about {tenth['peak_mb'] + held['mb_per_1000_records'] * light['records'] / 1000:,.0f} MB "
        f"for {light['records']:,} (ratio {(tenth['peak_mb'] + held['mb_per_1000_records'] * light['records'] / 1000) / light['peak_mb']:.0f}x)"
    )


if __name__ == "__main__":
    main()
