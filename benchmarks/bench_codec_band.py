"""Regions of interest in lossy recordings, with and without the band their encoder kept
(edge.codec): the SanctSound clips of ../shared at 44.1-48 kHz, each as FLAC and encoded as MP3
at four bit rates (libsndfile's LAME at its default, and at ``compression_level`` 0, 0.5 and 0.9), Ogg Vorbis and
(at 48 kHz) Opus, run through a deployment's candidate stages (no model: ROIs as edge-detect
--no-model writes them).  For each encoding: ROIs found with the band (``Prepared.kept_top_hz``,
as edge-detect runs), without it (the same recording with the band set to None, as before
edge.codec), and how many of each reach within 1 kHz of the encoder's top or above it, beside the
FLAC copies' own ROIs (what a lossless copy of the same sound gives), and the median time
measuring the band takes per recording (``edge.codec.recording_kept_top``; none for FLAC).

    python benchmarks/bench_codec_band.py [--config multispecies] [--out DIR] [--json]

The encoded clips are written to DIR (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge import shipped  # noqa: E402
from edge.audio import probe  # noqa: E402
from edge.codec import recording_kept_top  # noqa: E402
from edge.config import DeploymentConfig, load_deployment  # noqa: E402
from edge.pipeline import Chain, prepare  # noqa: E402
from edge.types import Roi  # noqa: E402

CLIPS = ROOT.parent / "shared" / "data" / "real" / "noaa-sanctsound" / "files"
# (name, soundfile format, subtype, compression_level or None, rates it applies to)
ENCODINGS = [
    ("flac", "FLAC", None, None, (44100, 48000)),
    ("mp3 default", "MP3", None, None, (44100, 48000)),
    ("mp3 level 0", "MP3", None, 0.0, (44100, 48000)),
    ("mp3 level 0.5", "MP3", None, 0.5, (44100, 48000)),
    ("mp3 level 0.9", "MP3", None, 0.9, (44100, 48000)),
    ("ogg vorbis", "OGG", "VORBIS", None, (44100, 48000)),
    ("ogg opus", "OGG", "OPUS", None, (48000,)),
]


def encode(src: Path, out: Path) -> list[tuple[str, Path]]:
    audio, rate = sf.read(src, dtype="float32")
    made = []
    for name, fmt, subtype, level, rates in ENCODINGS:
        if rate not in rates:
            continue
        suffix = ".flac" if fmt == "FLAC" else ".mp3" if fmt == "MP3" else ".ogg"
        target = out / f"{src.stem}.{name.replace(' ', '_')}{suffix}"
        if not target.exists():
            extra = {"compression_level": level} if level is not None else {}
            sf.write(target, audio, rate, format=fmt, subtype=subtype, **extra)
        made.append((name, target))
    return made


def rois(path: Path, config: DeploymentConfig, band: bool) -> tuple[list[Roi], float | None]:
    prep = prepare(path, config, None)
    top = prep.kept_top_hz
    if not band:
        prep = replace(prep, kept_top_hz=None)
    return Chain(prep, config).run().rois, top


@dataclass
class Row:
    """One encoding's counts over the clips, with the band (True) and without (False)."""

    tops: list[float | None] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # measuring the band (edge.codec), per recording
    found: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})
    near: dict[bool, int] = field(default_factory=lambda: {True: 0, False: 0})

    def add(self, band: bool, found: int, near: int) -> None:
        self.found[band] += found
        self.near[band] += near


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="multispecies", help="a deployment's name or YAML")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not CLIPS.is_dir():
        sys.exit(f"{CLIPS} not found: this benchmark needs ../shared")
    config = load_deployment(shipped.deployment(args.config) if "/" not in args.config else args.config)
    out = args.out or Path(tempfile.mkdtemp(prefix="codec-band-"))
    out.mkdir(parents=True, exist_ok=True)
    clips = [p for p in sorted(CLIPS.glob("*.wav")) if sf.info(str(p)).samplerate >= 44100]
    rows: dict[str, Row] = {}
    for clip in clips:
        for name, path in encode(clip, out):
            row = rows.setdefault(name, Row())
            for band in (True, False):
                found, top = rois(path, config, band)
                near = sum(r.high_hz > top - 1000 for r in found) if top is not None else 0
                row.add(band, len(found), near)
            row.tops.append(top)
            info = probe(path)
            started = time.perf_counter()
            recording_kept_top(info, 0)
            row.seconds.append(time.perf_counter() - started)
    if args.json:
        print(json.dumps({name: asdict(row) for name, row in rows.items()}, indent=1))
        return
    print(f"{len(clips)} SanctSound clips at 44.1-48 kHz, deployment {config.name}, ROIs (no model)")
    print(
        "| encoding | recordings | band found in | median top, kHz | ROIs with the band | without "
        "| within 1 kHz of the top or above: with | without | measuring the band, ms (median) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, row in rows.items():
        tops = sorted(t for t in row.tops if t is not None)
        median = f"{tops[len(tops) // 2] / 1000:.1f}" if tops else "-"
        print(
            f"| {name} | {len(row.tops)} | {len(tops)} | {median} | {row.found[True]} | {row.found[False]} "
            f"| {row.near[True]} | {row.near[False]} | {1000 * statistics.median(row.seconds):.0f} |"
        )


if __name__ == "__main__":
    main()
