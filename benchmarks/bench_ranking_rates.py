"""The ranked answer per recording when the recording was made at a lower rate: each real
recording of a multispecies recipe run, resampled down to each rate below its own (edge's
resampler, as a recorder at that rate would hand it over), ranked by the fold model that never
saw its group, pooled as edge-detect pools (``training.folds.score_recording``).

A further set of public clips at 4-64 kHz is scored the same way; this says how the folds'
figures move with the rate before anyone sees it, and which classes a low rate cannot hold.

    python benchmarks/bench_ranking_rates.py --run RUN_DIR [--rates 4000,8000,11025,16000,22050] [--codecs mp3]
        [--by-score] [--json]

22.05 kHz is the rate of 32 of the killer-whale training clips (HALLO) and of no other class's
recording: it says whether a band ending at 11 kHz tells the class. ``--codecs mp3`` also ranks
each recording as an MP3 of itself at its own rate (``training.datasets.codec_copy``, cached in
``RUN_DIR/codecs``; recordings at rates MP3 cannot hold are left out of that row): public clips are
often MP3s. With ``--codecs`` each recording is also ranked as an MP3 of its rendering at each rate
the codec holds (row ``mp3 R``, to read beside ``R, own rate``; 8, 11.025, 16 and 22.05 kHz, not
4 kHz): public clips made at a low rate are handed over as MP3s as often. ``--by-score`` adds
each row with the negative class ranked among the species by its score (``edge.ranking.by_score``;
edge-detect ranked so before it put the negative class after every species).

RUN_DIR is the output folder of ``edge-train training/recipes/multispecies.yaml`` (its
``folds/`` hold the fold models and ``folds/recordings.json`` the groups dealt). The renderings
are cached in ``RUN_DIR/band_limited`` (the recipe's own renderings are reused).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.audio import probe  # noqa: E402
from training.datasets import band_limited, codec_copy  # noqa: E402
from training.folds import FoldsRun, report  # noqa: E402
from training.types import CODECS  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--rates", default="4000,8000,11025,16000,22050", help="comma-separated, Hz")
    parser.add_argument("--codecs", default="", help="comma-separated: mp3")
    parser.add_argument(
        "--by-score",
        action="store_true",
        help="each row also with the negative class ranked by its score (before it came after every species)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rates = sorted(int(r) for r in args.rates.split(",") if r)
    folds = FoldsRun(args.run)
    # per rate: the recordings made above it, rendered at it and at their own rate (the fair
    # comparison: the recordings below a rate differ from class to class)
    rows: dict[str, list[dict]] = {"own rate, all": []}
    codecs = [c for c in args.codecs.split(",") if c]
    for r in rates:
        rows |= {f"{r}": [], f"{r}, own rate": []}
    for c in codecs:
        rows |= {c: [], f"{c}, own rate": []}
        # beside row f"{r}, own rate": the same recordings (those above r) at their own rate
        rows |= {f"{c} {r}": [] for r in rates if r in CODECS[c]}
    for rec in folds.held_out():
        own = probe(rec.path).sample_rate
        native = folds.score(rec) | {"rate": own}
        rows["own rate, all"].append(native)
        for r in rates:
            if r < own:
                rendered = band_limited(rec.path, r, folds.deployment.channel, folds.run / "band_limited")
                rows[f"{r}"].append(folds.score(rec, rendered) | {"rate": r})
                rows[f"{r}, own rate"].append(native)
                for c in codecs:
                    if r in CODECS[c]:
                        encoded = codec_copy(rendered, c, 0, folds.run / "codecs")
                        rows[f"{c} {r}"].append(folds.score(rec, encoded) | {"rate": r})
        for c in codecs:
            encoded = codec_copy(rec.path, c, folds.deployment.channel, folds.run / "codecs")
            if encoded is not None:
                rows[c].append(folds.score(rec, encoded) | {"rate": own})
                rows[f"{c}, own rate"].append(native)
    if args.by_score:  # each row again as the negative class ranked by its score among the species
        rows |= {
            f"{name}, other by score": [r | {"top1": r["top1_by_score"], "top3": r["top3_by_score"]} for r in rs]
            for name, rs in list(rows.items())
        }
    report(rows, "rendered at", args.json)


if __name__ == "__main__":
    main()
