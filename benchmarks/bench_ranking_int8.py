"""The species ranking through the INT8 bundle against the FP32 checkpoint it came from, per
recording: edge-detect's ranking.csv over every recording of the clip list, and the same
pooling (training.folds.rank_recording, edge.ranking.Tally) on the run's torch model.

    python benchmarks/bench_ranking_int8.py [--run runs/multispecies] [--out /tmp/ranking-int8]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from edge.classify import load_classifier
    from edge.config import load_deployment
    from edge.frontend import FrontendSpec
    from training.config import load_config
    from training.features import recording_features
    from training.folds import rank_recording
    from training.loop import load_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default=str(ROOT / "runs" / "multispecies"))
    ap.add_argument("--recipe", default=str(ROOT / "training" / "recipes" / "multispecies.yaml"))
    ap.add_argument("--config", default=str(ROOT / "firmware-config" / "deployments" / "multispecies.yaml"))
    ap.add_argument("--out", default="/tmp/ranking-int8")
    args = ap.parse_args()
    recipe = load_config(args.recipe)
    assert recipe.data.clips is not None
    clips = recipe.path(recipe.data.clips)
    with open(clips, newline="") as fh:
        paths = [str((clips.parent / r["path"]).resolve()) for r in csv.DictReader(fh)]
    out = Path(args.out)
    deployment = load_deployment(args.config)
    assert deployment.ranking is not None
    # an earlier run's ranking is reused only when it ran this bundle (a retrained model's files
    # differ): the identity edge-detect writes into run.json for the deployment's model
    ran = json.loads((out / "run.json").read_text())["model"]["identity"] if (out / "run.json").exists() else None
    if ran != load_classifier(deployment).identity:
        cmd = [sys.executable, "-m", "edge.cli.detect", *paths, "-o", str(out), "-q", "--config", args.config]
        subprocess.run([*cmd, "--outputs", "ranking", "--top-k", "6", "--overwrite"], check=False)
    int8: dict[str, list[str]] = {}
    with open(out / "ranking.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            int8.setdefault(str(Path(r["file"]).resolve()), []).append(r["label"])
    model, ckpt = load_model(Path(args.run))
    hop_s = FrontendSpec(**ckpt["spec"]).hop_s
    n, hop = round(recipe.window_s / hop_s), round(deployment.ranking.hop_s / hop_s)
    first = order = total = 0
    for p in paths:
        if p not in int8:
            continue
        rf = recording_features(p, deployment, None, with_rois=False)
        fp32 = [
            r.label
            for r in rank_recording(
                model,
                rf,
                n,
                hop,
                tuple(ckpt["classes"]),
                recipe.negative,
                deployment.ranking.pool,
                recipe.inference.pad,
            )
        ]
        total += 1
        first += fp32[0] == int8[p][0]
        order += fp32[:3] == int8[p][:3]
    print(f"recordings {total}: INT8 first class = FP32 first class for {first}, same top-3 order for {order}")


if __name__ == "__main__":
    main()
