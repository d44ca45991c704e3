"""Turn an ``edge-train`` config's ``data`` section into a :class:`~training.datasets.Dataset`."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import soundfile as sf

from edge._hashing import stable_hash
from edge.audio import discover, probe
from edge.calibration import HydrophoneTable
from edge.config import DeploymentConfig, load_deployment
from edge.crops import CENTRE
from edge.outputs import output_tag
from edge.timestamps import stretches
from edge.types import AudioInfo
from training.annotations import (
    RecordingLengths,
    is_audacity_labels,
    is_multi_recording_table,
    raven_recording,
    read_audacity,
    read_csv,
    read_raven,
    read_raven_multi,
)
from training.config import ANNOTATED_SYNTHETIC, SyntheticSettings, TrainConfig
from training.datasets import (
    NEGATIVE,
    Dataset,
    build_annotated,
    build_clips,
    clip_entries,
    read_channel,
    stamps,
)
from training.synth import GENERATORS, RecordedCall, coloured_noise, isolate_call, mix, nominal_band, synth_recording
from training.tethys import is_tethys_detections, read_tethys
from training.triton import is_triton_log, read_triton
from training.types import Annotation, AnnotationError, Stretch, TrainConfigError


def _background(path: Path, settings: SyntheticSettings, rng: np.random.Generator) -> np.ndarray:
    """A background recording at the synthetic sample rate (resampled when allowed)."""
    try:
        x, rate = read_channel(path, 0, "float64")
    except (OSError, RuntimeError) as exc:
        raise TrainConfigError(f"data: synthetic: background {path}: cannot read: {exc}") from None
    if rate == settings.sample_rate:
        return x
    if not settings.resample_background:
        raise TrainConfigError(
            f"data: synthetic: {path}: {rate} Hz, synthetic sample_rate is {settings.sample_rate} "
            f"(set resample_background: true to resample it)"
        )
    from edge.resample import resample_blocks  # the device's resampler

    x = np.concatenate(list(resample_blocks(iter([x.astype(np.float32)]), rate, settings.sample_rate))).astype(
        np.float64
    )
    # the band the original rate could not hold gets coloured noise rather than silence
    return x + coloured_noise(rng, len(x), alpha=settings.noise_alpha, rms=settings.noise_rms)


def quiet_stretches(
    path: Path, anns: list[Annotation], settings: SyntheticSettings, rng: np.random.Generator
) -> list[np.ndarray]:
    """The stretches of an annotated recording at least ``quiet_margin_s`` from every
    annotation and at least ``duration_s`` long, at the synthetic sample rate."""
    x = _background(path, settings, rng)
    rate, m = settings.sample_rate, settings.quiet_margin_s
    spans, prev = [], 0.0
    for a in sorted(anns, key=lambda a: a.start_s):
        spans.append((prev, a.start_s - m))
        prev = max(prev, a.end_s + m)
    spans.append((prev, len(x) / rate))
    n = int(settings.duration_s * rate)
    cuts = [(int(s * rate), int(e * rate)) for s, e in spans]
    return [x[s:e] for s, e in cuts if e - s >= n]


def _quiet_segment(stretches: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` samples from a uniformly drawn position among all the stretches' positions."""
    room = np.array([len(s) - n + 1 for s in stretches], dtype=np.float64)
    k = int(rng.choice(len(stretches), p=room / room.sum()))
    start = int(rng.integers(0, int(room[k])))
    return stretches[k][start : start + n]


def recorded_calls(
    recordings: list[tuple[Path, list[Annotation]]], settings: SyntheticSettings, rng: np.random.Generator
) -> dict[str, list[RecordedCall]]:
    """Call type -> the calls of that type in ``recordings`` that ``isolate_call`` lifts out of
    their noise, at the synthetic sample rate (those where nothing stands out are left out).
    An annotation without frequency bounds is searched in its type's ``nominal_band``."""
    kinds = set(settings.calls)
    try:  # where to look for a call whose annotation has no frequency bounds
        bands = {k: nominal_band(k, settings.sample_rate) for k in sorted(kinds)}
    except ValueError as exc:  # an unknown call type, a band above Nyquist
        raise TrainConfigError(f"data: synthetic: {exc}") from None
    out: dict[str, list[RecordedCall]] = {k: [] for k in kinds}
    for path, anns in recordings:
        ours = [a for a in anns if a.label in kinds]
        if not ours:
            continue
        x = _background(path, settings, rng)
        for a in ours:
            low, high = (a.low_hz, a.high_hz) if np.isfinite(a.high_hz) else bands[a.label]
            call = isolate_call(x, settings.sample_rate, a.start_s, a.end_s, low, high)
            if call is not None:
                out[a.label].append(call)
    empty = sorted(k for k, calls in out.items() if not calls)
    if empty:
        raise TrainConfigError(
            f"data: synthetic: recorded_calls: no call of {', '.join(empty)} could be lifted out of the annotated "
            f"recordings outside the held-out ones ({', '.join(sorted(p.name for p, _ in recordings)) or 'none'})"
        )
    return out


def write_synthetic(
    settings: SyntheticSettings,
    folder: Path,
    seed: int,
    base: Path | None = None,
    quiet_from: list[tuple[Path, list[Annotation]]] | None = None,
) -> Path:
    """Generate the synthetic recordings and their ``annotations.csv`` into ``folder``
    (relative background paths are taken from ``base``).  ``quiet_from``: the annotated
    recordings (none held out) that ``annotated_background`` and ``recorded_calls`` draw on.
    With ``annotated_background``, that share of the recordings (the first ones) is mixed
    into their quiet stretches, a recording at a time in turn; the rest into ``background``
    as before.  With ``recorded_calls``, that share of the calls is their own calls."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = settings.backgrounds
    backgrounds = [_background((base or Path.cwd()) / b, settings, rng) for b in names]
    n = int(settings.duration_s * settings.sample_rate)
    quiet: list[list[np.ndarray]] = []
    if settings.annotated_background and quiet_from:
        quiet = [q for q in (quiet_stretches(p, anns, settings, rng) for p, anns in quiet_from) if q]
        if not quiet:
            raise TrainConfigError(
                f"data: synthetic: annotated_background: no annotated recording has a stretch of "
                f"duration_s={settings.duration_s} s at least quiet_margin_s={settings.quiet_margin_s} s "
                "from every annotation"
            )
    recorded = recorded_calls(quiet_from or [], settings, rng) if settings.recorded_calls else None
    n_quiet = int(round(settings.annotated_background * settings.recordings)) if quiet else 0
    rows = []
    for i in range(settings.recordings):
        name = f"synthetic_{i:03d}.wav"
        bg = None
        if i < n_quiet:
            bg = _quiet_segment(quiet[i % len(quiet)], n, rng)
        elif backgrounds:
            k = i - n_quiet
            background = backgrounds[k % len(backgrounds)]
            if len(background) < n:
                raise TrainConfigError(
                    f"data: synthetic: background {names[k % len(names)]} is shorter than "
                    f"duration_s={settings.duration_s}"
                )
            start = int(rng.integers(0, max(1, len(background) - n)))
            bg = background[start : start + n]
        try:
            x, anns = synth_recording(
                rng,
                sample_rate=settings.sample_rate,
                duration_s=settings.duration_s,
                calls=dict(settings.calls),
                snr_db=settings.snr_db,
                background=bg,
                noise_alpha=settings.noise_alpha,
                noise_rms=settings.noise_rms,
                name=name,
                recorded=recorded,
                recorded_share=settings.recorded_calls,
            )
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


def synthetic_clips(
    entries: list[tuple[Path, str, str]], settings: dict, folder: Path, seed: int, channel: int = 0
) -> list[tuple[Path, str, str]]:
    """Clips of synthetic calls mixed into clips of the library (``data.synthetic_clips``):
    per label, ``count`` clips of ``call`` in turn into the clips labelled ``into`` recorded at
    ``min_rate`` or more, ``duration_s`` long (or the clip's length) at an SNR in ``snr_db``
    (the call's mean power over the clip's in its band).  Each keeps the group of the clip it
    was mixed into, so no background is on both sides of a split.  Written once into
    ``folder``; reused while the settings and seed hold."""
    key = stable_hash(
        {
            "settings": settings,
            "seed": seed,
            "into": [(str(p), g) for p, _, g in entries],
            "stamps": stamps(p for p, _, _ in entries),
        }
    )
    stamp, index = folder / "settings.key", folder / "clips.csv"
    if stamp.exists() and index.exists() and stamp.read_text() == key:
        with open(index, newline="") as fh:
            return [(folder / r["path"], r["label"], r["group"]) for r in csv.DictReader(fh)]
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    rows = []
    for label, s in sorted(settings.items()):
        if s["call"] not in GENERATORS:
            raise TrainConfigError(f"data: synthetic_clips: {label}: unknown call {s['call']!r}")
        into = [(p, g) for p, lab, g in entries if lab == s["into"] and probe(p).sample_rate >= s.get("min_rate", 0)]
        if not into:
            raise TrainConfigError(
                f"data: synthetic_clips: {label}: no clip labelled {s['into']!r} at {s.get('min_rate', 0)} Hz or more"
            )
        low_snr, high_snr = s.get("snr_db", (0.0, 20.0))
        for i in range(int(s["count"])):
            path, group = into[i % len(into)]
            x, rate = read_channel(path, channel, "float64")
            n = min(len(x), int(float(s.get("duration_s", 4.0)) * rate))
            start = int(rng.integers(0, len(x) - n + 1))
            background = x[start : start + n]
            call, low, high = GENERATORS[s["call"]](rng, rate, duration_s=n / rate)
            y = mix(background, call[:n], 0, float(rng.uniform(low_snr, high_snr)), rate, low, high)
            name = f"{label}_{i:04d}.wav"
            sf.write(folder / name, np.clip(y, -1, 1).astype(np.float32), rate, subtype="FLOAT")
            rows.append((name, label, group))
    with open(index, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "group"])
        w.writerows(rows)
    stamp.write_text(key)
    return [(folder / name, label, group) for name, label, group in rows]


def clip_sources(config: TrainConfig, run_dir: Path, channel: int = 0) -> list[tuple[Path, str, str]]:
    """``(clip, label, group)`` of a clip-library recipe: its clips and synthetic clips."""
    d = config.data
    assert d.clips is not None
    entries = clip_entries(config.path(d.clips), d.label_from)
    if d.synthetic_clips:
        entries += synthetic_clips(entries, d.synthetic_clips, run_dir / "synthetic_clips", config.seed, channel)
    return entries


def _tables(path: Path) -> list[Path]:
    """The Raven tables (``*.selections.txt``) and Audacity label tracks (other ``.txt`` files
    whose first line is a label) of a folder, or the one file named."""
    if path.is_dir():
        tables = sorted(p for p in path.rglob("*.txt") if p.name.endswith(".selections.txt") or is_audacity_labels(p))
        if not tables:
            raise AnnotationError(
                f"{path}: no Raven selection tables (*.selections.txt) or Audacity label tracks (REC.txt) in this folder"
            )
        return tables
    return [path]


def is_raven(path: Path) -> bool:
    """Raven tables or Audacity label tracks: a folder of them or one ``.txt`` file (else: the
    CSV format)."""
    return path.is_dir() or path.suffix.lower() == ".txt"


def recording_names(audio_dir: Path) -> tuple[dict[str, Path], dict[str, tuple[str, ...]]]:
    """The recordings under ``audio_dir`` by the names annotations may give them: each by its
    path under the folder and, unless another recording there shares it, by its file name (two
    recorders' ``20240501_120000.WAV`` in folders of their own); the shared file names, each with
    the paths of the recordings sharing it."""
    found = discover([audio_dir])
    names: dict[str, Path] = {}
    by_name: dict[str, list[str]] = {}
    for p in found:
        rel = p.relative_to(audio_dir).as_posix() if audio_dir.is_dir() else p.name
        names[rel] = p
        by_name.setdefault(p.name, []).append(rel)
    shared = {name: tuple(rels) for name, rels in by_name.items() if len(rels) > 1}
    for name, rels in by_name.items():
        if name not in shared:
            names.setdefault(name, names[rels[0]])
    return names, shared


def read_annotations(
    path: Path,
    names: dict[str, Path],
    labels: dict | None,
    *,
    label_column: str | None = None,
    default_label: str | None = None,
    negative: str = "noise",
    shared: dict[str, tuple[str, ...]] | None = None,
    channel: int | None = None,
    on_effort: set[str] | None = None,
) -> list[Annotation]:
    """Annotations from a CSV, a Triton log (training.triton), a Tethys Detections document
    (training.tethys), Raven tables or Audacity label tracks; ``names`` maps the names
    annotations give recordings to their paths (``shared``: file names several recordings share,
    see :func:`recording_names`). A Raven table of one recording, or an Audacity label track, is
    matched to it by its name (see :func:`raven_recording`); a table over several (``Begin File``:
    Raven Pro's multi-file tables, edge-detect's reviewed run table, see
    :func:`~training.annotations.read_raven_multi`) names each row's recording, and its rejected
    detections become ``negative``. A folder may hold every kind.  ``channel`` (from 0): the one
    analysed, whose selections a Raven table's ``Channel`` column gives (the others left out)."""
    infos: dict[Path, AudioInfo] = {}
    for p in names.values():
        if p not in infos:
            infos[p] = probe(p)
    durations = RecordingLengths({name: infos[p].duration_s for name, p in names.items()}, shared)
    # each recording once: by its file name where that is its own, else by its path under the folder
    key_of = {p: p.name if names.get(p.name) == p else name for name, p in names.items()}
    if is_tethys_detections(path):
        return read_tethys(
            path, labels=labels, durations=durations, timeline=timeline(infos, key_of), on_effort=on_effort
        )
    if is_triton_log(path):
        return read_triton(path, labels=labels, durations=durations, timeline=timeline(infos, key_of))
    if not is_raven(path):
        return read_csv(path, labels=labels, durations=durations, timeline=timeline(infos, key_of))
    stems: dict[str, list[str]] = {}
    for p, key in key_of.items():
        stems.setdefault(p.stem, []).append(key)
        stems.setdefault(p.stem + output_tag(p), []).append(key)  # edge-detect's name for it, when shared
    out: list[Annotation] = []
    seen: dict[tuple[str, float, float], tuple[Annotation, Path]] = {}
    root = path if path.is_dir() else path.parent
    for table in _tables(path):
        out += _once(
            _read_table(table, root, stems, durations, labels, label_column, default_label, negative, channel),
            table,
            seen,
        )
    return out


def timeline(infos: Mapping[Path, AudioInfo], key_of: Mapping[Path, str]) -> list[Stretch]:
    """Every recording's stretches in UTC (a duty-cycled one's each period), named as
    annotations name it; recordings with no start time are in none."""
    out = []
    for p, info in infos.items():
        if info.start_utc is None:
            continue
        for begins, start, end in stretches(info.start_utc, info.duration_s, info.periods):
            out.append(Stretch(start, end, key_of[p], begins))
    return out


def _once(
    anns: list[Annotation], table: Path, seen: dict[tuple[str, float, float], tuple[Annotation, Path]]
) -> list[Annotation]:
    """``anns`` less the selections an earlier table of the folder holds (edge-detect's raven/
    holds each recording's table and all.selections.txt, the same selections twice); the same
    selection labelled otherwise there is an error naming both tables."""
    kept = []
    for a in anns:
        key = (a.file, round(a.start_s, 3), round(a.end_s, 3))
        earlier = seen.get(key)
        if earlier is None:
            seen[key] = (a, table)
            kept.append(a)
        elif earlier[1] != table and earlier[0].label != a.label:
            raise AnnotationError(
                f"{table}: the selection of {a.file} at {a.start_s:.3f}-{a.end_s:.3f} s is labelled {a.label!r} "
                f"here and {earlier[0].label!r} in {earlier[1]}: give one of the two tables"
            )
        elif earlier[1] == table:
            kept.append(a)  # a table may hold a selection twice (two call types at once)
    return kept


def _read_table(
    table: Path,
    root: Path,
    stems: dict[str, list[str]],
    durations: RecordingLengths,
    labels: dict | None,
    label_column: str | None,
    default_label: str | None,
    negative: str,
    channel: int | None = None,
) -> list[Annotation]:
    """One table's annotations: of the recording it is named after (a Raven table of one
    recording, an Audacity label track), or of those its rows name."""
    if is_multi_recording_table(table):
        return read_raven_multi(
            table,
            negative=negative,
            labels=labels,
            durations=durations,
            label_column=label_column,
            default_label=default_label,
            channel=channel,
        )
    rec = _table_recording(table, root, stems)
    if not table.name.endswith(".selections.txt") and is_audacity_labels(table):
        return read_audacity(table, rec, labels=labels, duration_s=durations[rec], default_label=default_label)
    return read_raven(
        table,
        rec,
        labels=labels,
        duration_s=durations[rec],
        default_label=default_label,
        label_column=label_column,
        channel=channel,
    )


def _table_recording(table: Path, root: Path, stems: dict[str, list[str]]) -> str:
    """The recording a table of one recording is named after; of several recordings of that
    name in folders of their own, the one whose folder the table's (under ``root``) names."""
    stem = raven_recording(table)
    found = stems.get(stem, [])
    if len(found) > 1:
        folder = table.parent.relative_to(root).as_posix() if table.is_relative_to(root) else ""
        found = [rec for rec in found if folder not in ("", ".") and Path(rec).parent.as_posix().endswith(folder)]
        if len(found) != 1:
            raise AnnotationError(
                f"{table}: line 1: {len(stems[stem])} recordings are named {stem}.* ({', '.join(stems[stem])}): "
                f"put the table in a folder of the same name as its recording's"
            )
    if not found:
        raise AnnotationError(
            f"{table}: line 1: no recording named {stem}.* for this table (Raven tables are named "
            f"REC.Table.1.selections.txt, or name each row's recording in Begin File; Audacity label tracks REC.txt)"
        )
    return found[0]


def annotated_recordings(
    csv_path: Path,
    audio_dir: Path,
    labels: dict | None,
    background: list[Path],
    *,
    label_column: str | None = None,
    default_label: str | None = None,
    negative: str = "noise",
    channel: int | None = None,
) -> dict[str, list[Annotation]]:
    """Recording path -> annotations from a CSV or Raven table(s) (files of ``audio_dir``
    with no annotation are left out, but for those a Tethys document's effort spans;
    ``background`` recordings get none; ``channel``: the one analysed, see :func:`read_annotations`)."""
    names, shared = recording_names(audio_dir)
    on_effort: set[str] = set()
    anns = read_annotations(
        csv_path,
        names,
        labels,
        label_column=label_column,
        default_label=default_label,
        negative=negative,
        shared=shared,
        channel=channel,
        on_effort=on_effort,
    )
    recordings: dict[str, list[Annotation]] = {}
    for a in anns:
        recordings.setdefault(str(names[a.file]), []).append(a)
    for key in sorted(on_effort):  # looked at, nothing found: negatives
        recordings.setdefault(str(names[key]), [])
    for p in discover(background) if background else []:
        recordings.setdefault(str(p), [])
    return recordings


def _synthetic(
    config: TrainConfig,
    run_dir: Path,
    settings: dict,
    relative: dict,
    folder: Path,
    seed: int,
    annotated: dict[str, list[Annotation]] | None = None,
) -> Path:
    """The annotations CSV of synthetic recordings in ``folder``, generated once and reused
    while the settings (``relative``: their paths relative to the run) and seed hold, and for
    ``annotated_background`` the annotated recordings it draws on (``annotated``: recording
    path -> its annotations, none empty; the held-out ones, ``split.holdout``, are never drawn on), and
    so for ``recorded_calls``."""
    parsed = SyntheticSettings(**settings)
    quiet_from: list[tuple[Path, list[Annotation]]] = []
    drawing = [k for k in ANNOTATED_SYNTHETIC if getattr(parsed, k)]
    if drawing:
        held = set(config.split.holdout)
        quiet_from = [(Path(p), a) for p, a in (annotated or {}).items() if Path(p).name not in held]
        if not quiet_from:
            raise TrainConfigError(
                f"{config.source}: data: synthetic: {drawing[0]}: no annotated recording outside "
                f"the held-out ones ({', '.join(sorted(held)) or 'none held out'})"
            )
    csv_path, stamp = folder / "annotations.csv", folder / "settings.key"
    drawn_on = {"quiet_from": sorted(p.name for p, _ in quiet_from)} if quiet_from else {}
    base = Path(config.source).parent if config.source else Path.cwd()
    read = [base / b for b in parsed.backgrounds] + [p for p, _ in quiet_from]  # replaced in place: mixed anew
    key = stable_hash({"synthetic": relative, "seed": seed, **drawn_on, "stamps": stamps(read)})
    if not (csv_path.exists() and stamp.exists() and stamp.read_text() == key):
        shutil.rmtree(folder, ignore_errors=True)  # other settings: these recordings are not the recipe's
        csv_path = write_synthetic(parsed, folder, seed, base=base, quiet_from=quiet_from)
        stamp.write_text(key)
    return csv_path


def config_recordings(
    config: TrainConfig, run_dir: Path, deployment: DeploymentConfig | None = None
) -> dict[str, list[Annotation]]:
    """Recording path -> annotations of an annotated or synthetic ``data`` section (synthetic
    recordings are written to ``run_dir/synthetic`` once and reused while the settings hold);
    ``deployment``: the recipe's, when the caller has it loaded."""
    d = config.data
    if d.synthetic is not None:
        csv_path = _synthetic(
            config,
            run_dir,
            d.synthetic,
            config.as_dict(relative_to=run_dir)["data"]["synthetic"],
            run_dir / "synthetic",
            config.seed,
        )
        return annotated_recordings(csv_path, csv_path.parent, None, [])
    if d.annotations is None:
        raise TrainConfigError(f"{config.source}: data: a clip library has no recordings to evaluate events on")
    labels = {str(k): str(val) for k, val in d.labels.items()} if d.labels else None
    # a Raven table's selections on the channel analysed
    channel = (deployment or load_deployment(config.path(config.deployment))).channel
    recordings: dict[str, list[Annotation]] = {}
    sources = [{"annotations": d.annotations, "audio_dir": d.audio_dir}, *d.more]
    relative = [None, *config.as_dict(relative_to=run_dir)["data"]["more"]]  # as the synthetic stamps key them
    # every annotated source is read first: synthetic calls may be mixed into their quiet stretches
    found_by_source: dict[int, dict[str, list[Annotation]]] = {}
    for i, source in enumerate(sources):
        if "synthetic" in source:
            continue
        path = config.path(source["annotations"])
        audio_dir = (
            config.path(source["audio_dir"]) if source.get("audio_dir") else (path if path.is_dir() else path.parent)
        )
        found_by_source[i] = annotated_recordings(
            path,
            audio_dir,
            labels,
            [config.path(b) for b in d.background] if i == 0 else [],
            label_column=d.raven_label_column,
            default_label=d.raven_default_label,
            negative=config.negative,
            channel=channel,
        )
    annotated = {rec: anns for found in found_by_source.values() for rec, anns in found.items() if anns}
    for i, source in enumerate(sources):  # in the recipe's order: the dataset's order
        if "synthetic" in source:  # calls mixed into real backgrounds, written once into the run folder
            csv_path = _synthetic(
                config,
                run_dir,
                source["synthetic"],
                relative[i]["synthetic"],
                run_dir / f"synthetic_{i}",
                config.seed + i,
                annotated,
            )
            recordings.update(annotated_recordings(csv_path, csv_path.parent, None, []))
            continue
        for rec, anns in found_by_source[i].items():
            if rec in recordings and anns:
                raise TrainConfigError(f"{config.source}: data: {rec} is annotated by more than one source")
            recordings.setdefault(rec, []).extend(anns)
    return recordings


def _teacher(config: TrainConfig, deployment: DeploymentConfig) -> Callable[[np.ndarray], np.ndarray]:
    """Raw windows -> probability of any call, by ``data.vet_hard_negatives.teacher``'s model."""
    from training.loop import load_model, predict

    run = config.path(str((config.data.vet_hard_negatives or {})["teacher"]))
    if not (run / "best.pt").is_file():
        raise TrainConfigError(f"{config.source}: data: vet_hard_negatives: {run} holds no trained model (best.pt)")
    model, ckpt = load_model(run)
    if list(ckpt["classes"])[0] != NEGATIVE or ckpt["model_settings"]["head"] != "single":
        raise TrainConfigError(f"{run}: a teacher must be a single-output model whose first class is {NEGATIVE!r}")
    if deployment.spec_for(ckpt["spec"]["sample_rate"]).hash != ckpt["spec_hash"]:
        raise TrainConfigError(f"{run}: the teacher's frontend spec differs from this recipe's deployment")
    return lambda x: 1.0 - predict(model, x)[:, 0]


def build_dataset(config: TrainConfig, run_dir: Path) -> Dataset:
    """The dataset the config describes, from ``run_dir/dataset.npz`` when cached with the
    same frontend spec."""
    deployment = load_deployment(config.path(config.deployment))
    table_path = config.path(config.hydrophones) or deployment.table_path()
    table = HydrophoneTable.load(table_path) if table_path else None
    d = config.data
    cache = run_dir / "dataset.npz"
    # what the windows depend on besides the frontend: a changed data section, window or class
    # list must rebuild the cache, never train on windows the recipe no longer describes
    what = {
        "data": config.as_dict(relative_to=run_dir)["data"],
        "window_s": config.window_s,
        "classes": list(config.classes),
        "seed": config.seed,
    }
    # and the deployment's parts they come from: the rate and channel read, the candidates (hard
    # negatives, ROI positives) and the calibration (levels in dB re 1 uPa)
    dep = deployment.as_dict()
    what["deployment"] = {k: dep.get(k) for k in ("sample_rate", "min_sample_rate", "channel", "roi", "calibration")}
    policy = config.inference.policy()
    if policy != CENTRE:  # scanned ROIs' and short clips' windows
        what["inference"] = policy.as_card()
    # the files read (the synthetic ones written into the run folder among them, remade when what
    # they mix changes): a recording or clip replaced in place must rebuild the cache too
    if d.clips is not None:
        entries = clip_sources(config, run_dir, deployment.channel)
        read = [p for p, _, _ in entries]
    else:
        recordings = config_recordings(config, run_dir, deployment)
        read = [Path(p) for p in recordings]
    what["stamps"] = stamps(read + ([table_path] if table_path else []))  # the hydrophone table's edits too
    key = stable_hash(what)
    if cache.exists():
        cached = Dataset.load(cache)
        if deployment.spec_for(cached.spec.sample_rate).hash == cached.spec.hash and cached.key == key:
            return cached
        cache.unlink()  # the frontend or the data section changed since: rebuild
    if d.clips is not None:
        ds = build_clips(
            entries,
            deployment,
            window_s=config.window_s,
            classes=config.classes,
            table=table,
            seed=config.seed,
            max_windows_per_clip=d.max_windows_per_clip,
            band_limits=tuple(d.band_limits),
            band_limit_floor=d.band_limit_floor,
            work=run_dir / "band_limited",
            pad=config.inference.pad,
            codecs=tuple(d.codecs),
        )
    else:
        groups = {p: str(d.groups[Path(p).name]) for p in recordings if Path(p).name in d.groups}
        ds = build_annotated(
            recordings,
            deployment,
            window_s=config.window_s,
            classes=config.classes,
            groups=groups,
            table=table,
            seed=config.seed,
            jitter_s=d.jitter_s,
            positives_per_call=d.positives_per_call,
            negatives_per_recording=d.negatives_per_recording,
            hard_negatives=d.hard_negatives,
            roi_positives=d.roi_positives,
            roi_jitter_s=d.roi_jitter_s,
            vet=_teacher(config, deployment) if d.vet_hard_negatives else None,
            vet_above=float((d.vet_hard_negatives or {}).get("above", 0.5)),
            scan=config.inference.policy() if d.scan_rois else None,
        )
    ds.key = key
    ds.save(cache)
    return ds
