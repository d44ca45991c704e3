"""The right-whale candidate stage on both annotated days: for each setting of the ROI detector,
the upcalls a candidate overlaps per day and the candidates per hour of background (GSC).

    python benchmarks/bench_candidates.py "on_db=5,off_db=3,min_duration_s=0.3" "on_db=10,off_db=5,min_duration_s=0.4" ...

Each argument is a set of ``roi:`` overrides of firmware-config/deployments/narw-upcall.yaml
(no argument: the deployment as it is).  Needs ../shared/data/real.
"""

from __future__ import annotations

import csv
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data" / "real"
TRAIN = SHARED / "meridian-osmose-narw" / "task-2a" / "data" / "train"
DAY2 = (
    SHARED
    / "pamguard-examples"
    / "src"
    / "test"
    / "resources"
    / "rawDeepLearningClassifier"
    / "Generic"
    / "multi-species-Google"
    / "NOPP6_EST_20090329_121500.wav"
)
DAY2_TRUTH = SHARED / "pamguard-examples" / "annotations" / "NOPP6_EST_20090329_121500.upcalls.csv"


def annotations() -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = {}
    for path in (TRAIN / "annotations_train.csv", DAY2_TRUTH):
        with open(path) as fh:
            for row in csv.DictReader(fh):
                out.setdefault(row["filename"], []).append((float(row["start"]), float(row["end"])))
    return out


def measure(config, anns) -> dict:
    from edge.pipeline import process_recording

    sets = {
        "2009-03-28": sorted((TRAIN / "narw").glob("*.wav")),
        "2009-03-29": [DAY2],
        "background": sorted((TRAIN / "background").glob("*.wav")),
    }
    row = {}
    for name, files in sets.items():
        hit = calls = rois = 0
        hours = 0.0
        for f in files:
            res = process_recording(f, config, None)
            spans = [(r.start_s, r.end_s) for r in res.rois]
            own = anns.get(f.name, [])
            calls += len(own)
            rois += len(spans)
            hours += res.info.duration_s / 3600
            hit += sum(any(s < e_ann and e > s_ann for s, e in spans) for s_ann, e_ann in own)
        row[name] = f"{hit}/{calls}" if calls else f"{rois / hours:.0f}/h"
    return row


def main() -> None:
    from edge.config import load_deployment

    base = load_deployment(ROOT / "firmware-config" / "deployments" / "narw-upcall.yaml")
    base = replace(base, model=None)
    anns = annotations()
    for spec in sys.argv[1:] or [""]:
        overrides = {k: float(v) for k, v in (kv.split("=") for kv in spec.split(",") if kv)}
        row = measure(replace(base, roi=replace(base.roi, **overrides)), anns)
        print(f"{spec or 'as deployed':<45} " + "  ".join(f"{k} {v}" for k, v in row.items()), flush=True)


if __name__ == "__main__":
    main()
