"""Dataset builders: windows of edge features around annotations, negatives, hard negatives,
clip libraries; cached as ``.npz`` with their metadata.

A dataset is ``x`` ``(n, n_frames, n_features)`` float32 (edge's features, untouched),
``y`` class indices into ``classes`` and one :class:`~training.types.WindowRef` per window
(source, split group, offset, label, kind).  The cache records the frontend spec and its hash;
loading a cache built with another spec fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge.calibration import HydrophoneTable
from edge.config import DeploymentConfig
from edge.crops import CropPolicy, crop_starts
from edge.errors import PamedgeError
from edge.frontend import FrontendSpec
from edge.ranking import sounding
from edge.types import PadName
from training.features import RecordingFeatures, recording_features
from training.types import CODECS, Annotation, TrainConfigError, WindowRef

NEGATIVE = "noise"


@dataclass
class Dataset:
    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    refs: list[WindowRef]
    spec: FrontendSpec
    key: str = ""  # what built it (training.sources: data section, window, classes, seed)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def groups(self) -> np.ndarray:
        return np.array([r.group for r in self.refs])

    def subset(self, idx: np.ndarray) -> Dataset:
        idx = np.asarray(idx, dtype=int)
        return Dataset(self.x[idx], self.y[idx], self.classes, [self.refs[i] for i in idx], self.spec)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"classes": list(self.classes), "spec": asdict(self.spec), "spec_hash": self.spec.hash, "key": self.key}
        np.savez_compressed(
            path,
            x=self.x,
            y=self.y,
            meta=json.dumps(meta),
            source=np.array([r.source for r in self.refs]),
            group=np.array([r.group for r in self.refs]),
            offset_s=np.array([r.offset_s for r in self.refs], dtype=np.float64),
            label=np.array([r.label for r in self.refs]),
            kind=np.array([r.kind for r in self.refs]),
        )
        return path

    @classmethod
    def load(cls, path: str | Path, spec: FrontendSpec | None = None) -> Dataset:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            cached = FrontendSpec(**meta["spec"])
            if spec is not None and cached.hash != spec.hash:
                raise TrainConfigError(
                    f"{path}: cached with frontend spec {cached.hash}, this run uses {spec.hash}: rebuild the cache"
                )
            refs = [
                WindowRef(str(s), str(g), float(o), str(lab), str(k))
                for s, g, o, lab, k in zip(z["source"], z["group"], z["offset_s"], z["label"], z["kind"])
            ]
            return cls(z["x"], z["y"], tuple(meta["classes"]), refs, cached, meta.get("key", ""))


def _overlaps(a0: float, a1: float, anns: Iterable[Annotation]) -> bool:
    return any(a0 < a.end_s and a.start_s < a1 for a in anns)


def windows_from_recording(
    rf: RecordingFeatures,
    annotations: list[Annotation],
    *,
    window_s: float,
    rng: np.random.Generator,
    jitter_s: float = 0.25,
    positives_per_call: int = 1,
    negatives: int = 10,
    hard_negatives: bool = True,
    group: str | None = None,
    roi_positives: int = 0,
    roi_jitter_s: float = 0.1,
    scan: CropPolicy | None = None,
) -> tuple[list[np.ndarray], list[str], list[WindowRef]]:
    """Windows of one recording: around each annotation (centred, +- ``jitter_s``), random
    unannotated windows, ROI candidates that overlap no annotation (hard negatives) and, with
    ``roi_positives``, that many windows centred on each ROI holding a call (+- ``roi_jitter_s``).

    The ROI-centred positives are the crop inference takes: the detector's ROI is rarely
    centred on the annotation, so a classifier that only saw annotation-centred calls misses
    calls sitting off-centre in its window.  An ROI whose centred window holds less than half
    of the call is neither positive nor hard negative (its label would be wrong either way).

    With ``scan`` (the model's crop policy), an ROI longer than the window gives every window
    the policy scores instead of its centred one: each is a hard negative when the part of the
    ROI it covers (its detection's span) overlaps no annotation, and a positive when it holds
    half a call or more; a short ROI is taken as above.  Without it a long ROI of noise teaches
    only its middle while inference asks about its every part."""
    n = max(1, int(round(window_s / rf.spec.hop_s)))
    span = n * rf.spec.hop_s
    group = group or rf.path
    xs, labels, refs = [], [], []

    def add(start_s: float, label: str, kind: str) -> None:
        frame = rf.frame_of(start_s)
        xs.append(rf.window(frame, n))
        labels.append(label)
        refs.append(WindowRef(rf.path, group, frame * rf.spec.hop_s, label, kind))

    for ann in annotations:
        centre = (ann.start_s + ann.end_s) / 2
        for _ in range(positives_per_call):
            add(centre - span / 2 + rng.uniform(-jitter_s, jitter_s), ann.label, "positive")
    last = max(rf.duration_s - span, 0.0)
    for _ in range(negatives):
        for _attempt in range(50):
            start = rng.uniform(0, last)
            if not _overlaps(start, start + span, annotations):
                add(start, NEGATIVE, "negative")
                break

    def take(start: float, part_start: float, part_end: float) -> None:
        # a window at ``start`` that speaks for the ROI's part [part_start, part_end]
        if not _overlaps(part_start, part_end, annotations):
            if hard_negatives:
                add(start, NEGATIVE, "hard_negative")
            return
        held = [
            (min(start + span, a.end_s) - max(start, a.start_s), a)
            for a in annotations
            if part_start < a.end_s and a.start_s < part_end
        ]
        inside, ann = max(held, key=lambda h: h[0])
        if roi_positives and inside >= 0.5 * ann.duration_s:
            for _ in range(roi_positives):
                add(start + rng.uniform(-roi_jitter_s, roi_jitter_s), ann.label, "roi_positive")

    if hard_negatives or roi_positives:
        for roi in rf.rois:
            starts = crop_starts(roi, n, rf.spec.hop_s, scan) if scan is not None else []
            if len(starts) > 1:
                for first in starts:
                    w0 = first * rf.spec.hop_s
                    take(w0, max(roi.start_s, w0), min(roi.end_s, w0 + span))
            else:
                take((roi.start_s + roi.end_s) / 2 - span / 2, roi.start_s, roi.end_s)
    return xs, labels, refs


def build_annotated(
    recordings: Mapping[str, list[Annotation]],
    config: DeploymentConfig,
    *,
    window_s: float,
    classes: tuple[str, ...],
    table: HydrophoneTable | None = None,
    seed: int = 0,
    jitter_s: float = 0.25,
    positives_per_call: int = 1,
    negatives_per_recording: int = 10,
    hard_negatives: bool | str = True,
    groups: Mapping[str, str] | None = None,
    roi_positives: int = 0,
    roi_jitter_s: float = 0.1,
    vet: Callable[[np.ndarray], np.ndarray] | None = None,
    vet_above: float = 0.5,
    scan: CropPolicy | None = None,
) -> Dataset:
    """Dataset from recordings (path -> its annotations; background files map to ``[]``).

    ``classes`` must list :data:`NEGATIVE` (``"noise"``) first when negatives are wanted.
    ``vet`` (raw windows -> probability of a call) leaves out the hard negatives of annotated
    recordings it scores >= ``vet_above``: unlabelled candidates of an annotated day that look
    like calls are more likely missed calls than noise.  ``scan``: the model's crop policy, whose
    windows of long ROIs are taken (:func:`windows_from_recording`)."""
    rng = np.random.default_rng(seed)
    xs, labels, refs, spec = [], [], [], None
    for path, anns in recordings.items():
        hard = hard_negatives is True or (hard_negatives == "background" and not anns)
        rf = recording_features(path, config, table, with_rois=hard or roi_positives > 0)
        spec = rf.spec
        a, b, c = windows_from_recording(
            rf,
            anns,
            window_s=window_s,
            rng=rng,
            jitter_s=jitter_s,
            positives_per_call=positives_per_call,
            negatives=negatives_per_recording,
            hard_negatives=hard,
            group=(groups or {}).get(path),
            roi_positives=roi_positives,
            roi_jitter_s=roi_jitter_s,
            scan=scan,
        )
        if vet is not None and anns:
            a, b, c = _vetted(a, b, c, vet, vet_above)
        xs += a
        labels += b
        refs += c
    return _assemble(xs, labels, refs, classes, spec)


def _vetted(xs, labels, refs, vet, above):
    hard = [i for i, r in enumerate(refs) if r.kind == "hard_negative"]
    if not hard:
        return xs, labels, refs
    p = vet(np.stack([xs[i] for i in hard]))
    drop = {i for i, score in zip(hard, p) if score >= above}
    keep = [i for i in range(len(refs)) if i not in drop]
    return [xs[i] for i in keep], [labels[i] for i in keep], [refs[i] for i in keep]


def _assemble(xs, labels, refs, classes, spec) -> Dataset:
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise TrainConfigError(f"labels {unknown} are not among classes {list(classes)}")
    if not xs:
        raise TrainConfigError("the dataset holds no windows")
    y = np.array([classes.index(lab) for lab in labels], dtype=np.int64)
    return Dataset(np.stack(xs).astype(np.float32), y, tuple(classes), refs, spec)


def clip_label(path: Path, root: Path, *, from_: str = "folder", separator: str = "_") -> str:
    """A clip's label: its first folder under ``root`` (``from_="folder"``) or the part of its
    file name before ``separator`` (``from_="name"``)."""
    if from_ == "folder":
        parts = path.relative_to(root).parts
        if len(parts) < 2:
            raise TrainConfigError(f"{path}: clip is not inside a label folder of {root}")
        return parts[0]
    return path.stem.split(separator)[0]


def clip_list(path: str | Path) -> list[tuple[Path, str, str]]:
    """``(clip, label, group)`` rows of a CSV clip list with columns ``path,label,group``
    (paths relative to the CSV's folder; ``group`` may be empty: the clip is its own group)."""
    import csv

    path = Path(path)
    try:
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in ("path", "label") if c not in (reader.fieldnames or [])]
            if missing:
                raise TrainConfigError(
                    f"{path}: line 1: missing column(s) {', '.join(missing)} (need path,label[,group])"
                )
            rows = []
            for row in reader:
                where = f"{path}: line {reader.line_num}"
                clip = path.parent / (row["path"] or "").strip()
                label = (row["label"] or "").strip()
                if not label:
                    raise TrainConfigError(f"{where}: empty label")
                if not clip.is_file():
                    raise TrainConfigError(f"{where}: no clip at {clip}")
                rows.append((clip, label, (row.get("group") or "").strip() or str(clip)))
    except OSError as exc:
        raise TrainConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return rows


def clip_entries(root: str | Path, label_from: str = "folder") -> list[tuple[Path, str, str]]:
    """``(clip, label, group)`` of a clip library: a folder (labels from folder or file names,
    each clip its own split group) or a CSV clip list (see :func:`clip_list`)."""
    from edge.audio import discover

    root = Path(root)
    if root.is_file():
        return clip_list(root)
    return [(p, clip_label(p, root, from_=label_from), str(p)) for p in discover([root])]


def read_channel(path: str | Path, channel: int, dtype: str = "float32") -> tuple[np.ndarray, int]:
    """One channel of ``path``, whole, and its rate; a channel past the file's last is its last
    (clip libraries mix mono and stereo files, and a recipe names one channel for all)."""
    import soundfile as sf

    x, rate = sf.read(path, dtype=dtype, always_2d=True)
    return x[:, min(channel, x.shape[1] - 1)], rate


def file_stamp(path: str | Path) -> list[int]:
    """A recording's size and modification time (ns): what a cache built from it is keyed on,
    so a file replaced in place is read again (a full content hash would read every clip)."""
    st = Path(path).stat()
    return [st.st_size, st.st_mtime_ns]


def stamps(paths: Iterable[str | Path]) -> list[list[int]]:
    """:func:`file_stamp` of each path, in order."""
    return [file_stamp(p) for p in paths]


def _rendering(path: Path, work: Path, name: str, channel: int, write: Callable[[Path], None]) -> Path:
    """``work``/``name`` (prefixed by ``path``'s stem and a hash of it, the channel taken and
    the file's stamp) made once by ``write`` into a temporary file then renamed, so an
    interrupted build leaves no half file behind."""
    from edge._hashing import stable_hash

    key = stable_hash({"path": str(path), "channel": channel, "stamp": file_stamp(path)})
    out = work / f"{Path(path).stem[:60]}-{key[:10]}{name}"
    if not out.exists():
        work.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"{out.stem}.tmp{out.suffix}")
        write(tmp)
        tmp.replace(out)
    return out


def band_tiers(ds: Dataset, limits: Sequence[int]) -> np.ndarray:
    """Each window's band tier: the smallest of ``limits`` (a recipe's ``band_limits``) at or
    above the sample rate of the recording it was cut from (a rendering's own rate), 0 for a
    recording above them all (its full band)."""
    from edge.audio import probe

    rates: dict[str, int] = {}
    tiers = np.zeros(len(ds), dtype=np.int64)
    for i, ref in enumerate(ds.refs):
        if ref.source not in rates:
            try:
                rates[ref.source] = probe(ref.source).sample_rate
            except (PamedgeError, OSError) as exc:  # a run folder moved since its dataset was built
                raise TrainConfigError(
                    f"{ref.source}: its sample rate is needed to balance bands (train.balance): {exc}"
                ) from None
        tiers[i] = min((b for b in limits if b >= rates[ref.source]), default=0)
    return tiers


def band_limited(path: Path, rate: int, channel: int, work: Path) -> Path:
    """``path`` resampled down to ``rate`` by edge's resampler, written once into ``work``: a
    recording of the same sound made at that rate (analysed as any such recording is)."""
    import soundfile as sf

    from edge.resample import resample_blocks

    def write(tmp: Path) -> None:
        x, source_rate = read_channel(path, channel)
        y = np.concatenate(list(resample_blocks(iter([x]), source_rate, rate)))
        sf.write(tmp, y, rate, subtype="FLOAT")

    return _rendering(path, work, f"-{rate}.wav", channel, write)


def codec_copy(path: Path, codec: str, channel: int, work: Path) -> Path | None:
    """``path`` encoded by ``codec`` (:data:`training.types.CODECS`; libsndfile's encoder at its
    default quality) at its own rate, written once into ``work``, or None when the codec cannot
    hold that rate: the same sound as a lossy copy of it is handed over (and decoded as any such
    recording is)."""
    import soundfile as sf

    rate = sf.info(str(path)).samplerate
    if rate not in CODECS[codec]:
        return None

    def write(tmp: Path) -> None:
        sf.write(tmp, read_channel(path, channel)[0], rate, format=codec.upper())

    return _rendering(path, work, f".{codec}", channel, write)


def build_clips(
    root: str | Path | list[tuple[Path, str, str]],
    config: DeploymentConfig,
    *,
    window_s: float,
    classes: tuple[str, ...] | None = None,
    table: HydrophoneTable | None = None,
    label_from: str = "folder",
    seed: int = 0,
    max_windows_per_clip: int = 4,
    band_limits: tuple[int, ...] = (),
    band_limit_floor: dict[str, int] | None = None,
    work: Path | None = None,
    pad: PadName = "edge",
    codecs: tuple[str, ...] = (),
) -> Dataset:
    """Dataset from a clip library: each clip sliced into windows (at most
    ``max_windows_per_clip``, evenly spaced, over its frames of sound: digital silence is left
    out as :mod:`edge.ranking` leaves it out) or, when shorter, padded at a random offset as
    ``pad`` says (:func:`edge.crops.window_frames`: its edge frames repeated, or looped).
    ``root`` is a folder or CSV clip list (:func:`clip_entries`) or the entries themselves.
    Each clip recorded above a rate of ``band_limits`` also enters resampled down to it
    (:func:`band_limited`, cached in ``work``), in the same split group, unless the rate is
    below the label's ``band_limit_floor`` (its calls lie above that rendering's Nyquist
    frequency); and through each of ``codecs`` at its own rate (:func:`codec_copy`)."""
    from edge.audio import probe

    rng = np.random.default_rng(seed)
    entries = root if isinstance(root, list) else clip_entries(root, label_from)
    originals = list(entries)
    if band_limits:
        if work is None:
            raise ValueError("band_limits needs a work folder for the resampled clips")
        lowest = config.min_sample_rate or config.sample_rate or 0
        limited = []
        for path, label, group in entries:
            rate = probe(path).sample_rate
            limited += [
                (band_limited(path, r, config.channel, work), label, group)
                for r in sorted(band_limits)
                if lowest <= r < rate and r >= (band_limit_floor or {}).get(label, 0)
            ]
        entries = [*entries, *limited]
    if codecs:
        if work is None:
            raise ValueError("codecs needs a work folder for the encoded clips")
        copies = [
            (codec_copy(path, c, config.channel, work), label, group)
            for path, label, group in originals
            for c in codecs
        ]
        entries = [*entries, *((p, label, group) for p, label, group in copies if p is not None)]
    xs, labels, refs, spec = [], [], [], None
    for path, label, group in entries:
        if classes is not None and label not in classes:
            continue
        rf = recording_features(path, config, table, with_rois=False)
        rf.feats = sounding(rf.feats, rf.spec)  # as edge.ranking ranks a recording: digital silence left out
        spec = rf.spec
        n = max(1, int(round(window_s / rf.spec.hop_s)))
        total = len(rf.feats)
        if not total:
            raise TrainConfigError(f"{path}: digital silence throughout, no sound to train on")
        if total <= n:
            starts = [-int(rng.integers(0, n - total + 1))]
        else:
            k = min(max_windows_per_clip, total // n)
            starts = np.linspace(0, total - n, k).astype(int).tolist()
        for s in starts:
            xs.append(rf.window(s, n, pad))
            labels.append(label)
            refs.append(WindowRef(str(path), group, s * rf.spec.hop_s, label, "clip"))
    classes = classes or tuple(sorted(set(labels)))
    return _assemble(xs, labels, refs, classes, spec)
