"""edge-detect on a local Dask cluster: 1 vs 2 worker processes over hours of real audio.

Workloads (``--workload``):

* ``beluga`` (default): the seeded 2 h, 96 kHz synthetic recording of ``bench_frontend.py``
  (cached in benchmarks/.cache/) with ``beluga.yaml``, cut into ``--chunk-s`` units: enough
  work per task (about 0.5 s per 10 min of audio) for a second worker to pay off;
* ``narw``: the six 15-minute NARW recordings (2 kHz) of ../shared/data/real, linked
  ``--copies`` times under distinct names one day apart (symlinks in
  benchmarks/.cache/cluster/), so the contiguous background series stays contiguous within
  each copy.  At 2 kHz a unit is about 0.1 s of work and the client's own bookkeeping
  dominates.  Each contender runs
``detect_on_cluster`` against an already-started ``LocalCluster`` (start-up is timed apart),
median of ``--repeats``; outputs are checked byte-identical to the single-process run.
Scheduler overhead per task: the wall time of ``--empty`` no-op tasks on one worker / count.

    python benchmarks/bench_cluster.py [--workload beluga|narw] [--copies 4] [--repeats 3] [--chunk-s 600] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("PAMEDGE_SHARED_DATA", ROOT.parent / "shared" / "data" / "real"))
NARW = SHARED / "meridian-osmose-narw" / "task-2a" / "data" / "train"
CACHE = ROOT / "benchmarks" / ".cache" / "cluster"


def corpus(copies: int) -> Path:
    """Symlinks: copy k of every recording is shifted k days (names carry the start time)."""
    folder = CACHE / f"narw-x{copies}"
    if folder.exists():
        return folder
    for k in range(copies):
        for src in sorted(NARW.glob("*/*.wav")):
            name = src.name
            if name.startswith("GSC_"):  # GSC_2000-05-19_00-00-00.wav
                day = dt.date(2000, 5, 19) + dt.timedelta(days=k)
                name = f"GSC_{day:%Y-%m-%d}{name[14:]}"
            else:  # NOPP6_EST_20090328_000000.wav
                day = dt.date(2009, 3, 28) + dt.timedelta(days=k)
                name = f"NOPP6_EST_{day:%Y%m%d}{name[18:]}"
            dst = folder / src.parent.name / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.symlink_to(src)
    return folder


def empty() -> None:
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", choices=("beluga", "narw"), default="beluga")
    ap.add_argument("--copies", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--chunk-s", type=float, default=600.0)
    ap.add_argument("--empty", type=int, default=500)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.workload == "narw" and not NARW.exists():
        print(f"needs the NARW recordings at {NARW}", file=sys.stderr)
        return 2
    import dask
    import distributed

    from edge.audio import discover, probe
    from edge.calibration import HydrophoneTable
    from edge.cluster.client import WORKER_ENVIRON, detect_on_cluster
    from edge.config import load_deployment
    from edge.detect import RunOptions, detect

    if args.workload == "beluga":
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from bench_frontend import synthetic_recording

        config = load_deployment(ROOT / "firmware-config" / "deployments" / "beluga.yaml")
        inputs = [synthetic_recording(2.0)]
    else:
        config = load_deployment(ROOT / "firmware-config" / "deployments" / "narw-upcall.yaml")
        inputs = [corpus(args.copies)]
    table = HydrophoneTable.load(config.table_path())
    audio_s = sum(probe(p).duration_s for p in discover(inputs))
    environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENVIRON.items()}
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    try:
        t0 = time.perf_counter()
        detect(inputs, work / "single", config, RunOptions(table=table))
        single_s = time.perf_counter() - t0
        reference = [(work / "single" / n).read_bytes() for n in ("detections.csv", "levels.csv")]
        results = {"audio_h": audio_s / 3600, "single_process_s": single_s, "workers": {}}
        for n in (1, 2):
            t0 = time.perf_counter()
            with (
                dask.config.set(environ),
                distributed.LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
                ) as cluster,
                distributed.Client(cluster) as client,
            ):
                startup = time.perf_counter() - t0
                times = []
                for r in range(args.repeats):
                    out = work / f"w{n}-{r}"
                    t0 = time.perf_counter()
                    detect_on_cluster(
                        inputs,
                        out,
                        config,
                        RunOptions(table=table),
                        scheduler=cluster.scheduler_address,
                        chunk_s=args.chunk_s,
                    )
                    times.append(time.perf_counter() - t0)
                    got = [(out / name).read_bytes() for name in ("detections.csv", "levels.csv")]
                    assert got == reference, "cluster outputs differ from the single-process run"
                entry = {"startup_s": startup, "wall_s": times, "median_s": statistics.median(times)}
                if n == 1:
                    client.submit(empty, pure=False).result()
                    t0 = time.perf_counter()
                    client.gather([client.submit(empty, pure=False) for _ in range(args.empty)])
                    results["overhead_per_task_ms"] = (time.perf_counter() - t0) / args.empty * 1000
                results["workers"][n] = entry
        one, two = results["workers"][1]["median_s"], results["workers"][2]["median_s"]
        results.update(
            speedup=one / two,
            efficiency=one / two / 2,
            machine=f"{platform.machine()}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()}, distributed {distributed.__version__}",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"workload {args.workload}, chunk_s {args.chunk_s:g}")
        print(f"audio: {results['audio_h']:.2f} h; single process (edge.detect.detect): {single_s:.2f} s")
        for n, e in results["workers"].items():
            print(
                f"{n} worker(s): median {e['median_s']:.2f} s ({results['audio_h'] * 3600 / e['median_s']:.0f}x "
                f"real time), repeats {', '.join(f'{t:.2f}' for t in e['wall_s'])}; cluster start-up "
                f"{e['startup_s']:.2f} s"
            )
        print(
            f"speed-up {results['speedup']:.2f}x, efficiency {results['efficiency']:.0%}; scheduler overhead "
            f"{results['overhead_per_task_ms']:.2f} ms per task ({args.empty} empty tasks)"
        )
        print(results["machine"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
