"""Turn an ``edge-train`` config's ``data`` section into a :class:`~training.datasets.Dataset`."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

from edge.audio import discover, probe
from edge.calibration import HydrophoneTable
from edge.config import load_deployment
from training.annotations import read_csv
from training.config import SyntheticSettings, TrainConfig
from training.datasets import Dataset, build_annotated, build_clips
from training.synth import synth_recording
from training.types import Annotation, TrainConfigError


def write_synthetic(settings: SyntheticSettings, folder: Path, seed: int) -> Path:
    """Generate the synthetic recordings and their ``annotations.csv`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    background = None
    if settings.background:
        background, rate = sf.read(settings.background, dtype="float64", always_2d=True)
        background = background[:, 0]
        if rate != settings.sample_rate:
            raise TrainConfigError(f"data: synthetic: {settings.background}: {rate} Hz, synthetic sample_rate is {settings.sample_rate}")
    n = int(settings.duration_s * settings.sample_rate)
    rows = []
    for i in range(settings.recordings):
        name = f"synthetic_{i:03d}.wav"
        bg = None
        if background is not None:
            start = int(rng.integers(0, max(1, len(background) - n)))
            bg = background[start:start + n]
        try:
            x, anns = synth_recording(rng, sample_rate=settings.sample_rate, duration_s=settings.duration_s,
                                      calls=dict(settings.calls), snr_db=settings.snr_db, background=bg,
                                      noise_alpha=settings.noise_alpha, name=name)
        except ValueError as exc:
            raise TrainConfigError(f"data: synthetic: {exc}") from None
        sf.write(folder / name, x, settings.sample_rate, subtype="FLOAT")
        rows += [(a.file, a.start_s, a.end_s, a.low_hz, a.high_hz, a.label) for a in anns]
    path = folder / "annotations.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["filename", "start", "end", "freq_min", "freq_max", "label"])
        w.writerows(rows)
    return path


def annotated_recordings(csv_path: Path, audio_dir: Path, labels: dict | None, background: list[Path]
                         ) -> dict[str, list[Annotation]]:
    """Recording path -> annotations (files of ``audio_dir`` not in the CSV are left out;
    ``background`` recordings get none)."""
    names = {}
    for p in discover([audio_dir]):
        names.setdefault(p.name, p)
    durations = {name: probe(p).duration_s for name, p in names.items()}
    anns = read_csv(csv_path, labels=labels, durations=durations)
    recordings: dict[str, list[Annotation]] = {}
    for a in anns:
        recordings.setdefault(str(names[a.file]), []).append(a)
    for p in discover(background) if background else []:
        recordings.setdefault(str(p), [])
    return recordings


def build_dataset(config: TrainConfig, run_dir: Path) -> Dataset:
    """The dataset the config describes, from ``run_dir/dataset.npz`` when cached with the
    same frontend spec."""
    deployment = load_deployment(config.path(config.deployment))
    table_path = config.path(config.hydrophones) or deployment.table_path()
    table = HydrophoneTable.load(table_path) if table_path else None
    d = config.data
    cache = run_dir / "dataset.npz"
    if cache.exists():
        cached = Dataset.load(cache)
        if deployment.spec_for(cached.spec.sample_rate).hash == cached.spec.hash:
            return cached
        cache.unlink()  # the deployment's frontend changed since: rebuild with the new features
    if d.clips is not None:
        ds = build_clips(config.path(d.clips), deployment, window_s=config.window_s, classes=config.classes,
                         table=table, label_from=d.label_from, seed=config.seed)
    else:
        if d.synthetic is not None:
            csv_path = write_synthetic(SyntheticSettings(**d.synthetic), run_dir / "synthetic", config.seed)
            audio_dir, labels = csv_path.parent, None
        else:
            csv_path = config.path(d.annotations)
            audio_dir = config.path(d.audio_dir) if d.audio_dir else csv_path.parent
            labels = {str(k): str(val) for k, val in d.labels.items()} if d.labels else None
        recordings = annotated_recordings(csv_path, audio_dir, labels, [config.path(b) for b in d.background])
        groups = {p: str(d.groups[Path(p).name]) for p in recordings if Path(p).name in d.groups}
        ds = build_annotated(recordings, deployment, window_s=config.window_s, classes=config.classes, groups=groups,
                             table=table, seed=config.seed, jitter_s=d.jitter_s,
                             positives_per_call=d.positives_per_call,
                             negatives_per_recording=d.negatives_per_recording, hard_negatives=d.hard_negatives)
    ds.save(cache)
    return ds
