"""How many demo clips got their species ranked first: ``python check_ranking.py OUTDIR``.

The clips' species are in their file names (NOTICE.md); this reads OUTDIR/ranking.csv, the
ranked answer edge-detect wrote, and prints one line per clip and the count.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

# a word of the file name -> the model's class
SPECIES = {
    "minkewhale": "minke",
    "spermwhale": "sperm",
    "dolphin": "dolphin",
    "dolphinsandfish": "dolphin",
    "humpback": "humpback",
    "humpbackwhale": "humpback",
    "killerwhale": "killer_whale",
}


def species_of(name: str) -> str | None:
    words = Path(name).stem.replace("-", "_").lower().split("_")
    found = [SPECIES[w] for w in words if w in SPECIES]
    return found[0] if found else None


def main(outdir: str) -> int:
    path = Path(outdir) / "ranking.csv"
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise SystemExit(f"{path}: cannot read: {exc.strerror}") from None
    ranked: dict[str, list[str]] = {}
    for r in rows:
        ranked.setdefault(r["file"], []).append(r["label"])
    right = named = 0
    for file, labels in ranked.items():
        truth = species_of(file)
        if truth is None:
            print(f"{Path(file).name}: {' > '.join(labels)}  (no species in its name)")
            continue
        named += 1
        right += labels[0] == truth
        mark = "right" if labels[0] == truth else f"wrong (it is {truth})"
        print(f"{Path(file).name}: {' > '.join(labels)}  {mark}")
    print(f"right species first for {right} of {named} clips")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "demo-out"))
