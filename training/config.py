"""``edge-train`` configuration: one YAML, every key checked (unknown keys are errors).

Relative paths are taken from the YAML file's folder.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from edge import _validate as v
from edge.crops import CropPolicy
from edge.errors import ConfigError
from edge.types import PadName
from training.augment import AugmentSettings
from training.types import CODECS, TrainConfigError

HEADS = ("single", "multi_label", "multi_output")
TIME_POOLS = ("mean", "max")


@dataclass(frozen=True)
class NetworkSettings:
    """The ``model:`` section of an ``edge-train`` config: the network (not the deployment's
    ``model:``, edge.config.ModelSettings, which names a bundle)."""

    width: int = 16  # channels of the first stage; doubles per stage
    depth: int = 2  # stages, each a residual block with stride 2
    head: str = "single"
    outputs: dict = field(default_factory=dict)  # multi_output: head name -> class list
    scale_db: float = 20.0
    centre: str = "window_mean"  # how each window is centred first (edge.classify.standardise)
    # networks trained side by side from their own initial weights on the same batches; the
    # model's logits are their mean (one file, members x the compute): a few recordings per
    # class leave one network's answer to its initial weights
    members: int = 1
    # frequency bands the last feature map is averaged into (over time within each): 1 averages
    # the whole map, so a sound's shape is heard but not where in the band it lies (a small
    # network's convolutions are nearly blind to that); with bands the head also knows the band
    freq_bands: int = 1
    # how the last feature map is pooled over time (after its bins are averaged per band): mean
    # weighs a short call by its share of the window, max takes its strongest moment wherever it lies
    time_pool: str = "mean"

    def __post_init__(self) -> None:
        from edge.bundle import CENTRES

        v.integer("members", self.members, minimum=1, maximum=16, why="each member multiplies the compute")
        v.require(
            self.members == 1 or self.head != "multi_output",
            "members > 1 is for single and multi_label heads (multi_output: one network)",
        )

        v.integer("freq_bands", self.freq_bands, minimum=1, maximum=16, why="each band multiplies the head's inputs")
        v.require(self.time_pool in TIME_POOLS, f"time_pool={self.time_pool!r} is not one of {', '.join(TIME_POOLS)}")
        v.require(self.centre in CENTRES, f"centre={self.centre!r} is not one of {', '.join(CENTRES)}")
        v.integer("width", self.width, minimum=1)
        v.integer("depth", self.depth, minimum=1)
        v.require(self.head in HEADS, f"head={self.head!r} is not one of {', '.join(HEADS)}")
        v.require(isinstance(self.outputs, dict), f"outputs={self.outputs!r} must be a mapping")
        if self.head == "multi_output":
            v.require(len(self.outputs) >= 2, "head=multi_output needs outputs: {name: [classes], ...} with >= 2 heads")
        v.number("scale_db", self.scale_db, minimum=0, exclusive=True)


@dataclass(frozen=True)
class SyntheticSettings:
    """``data.synthetic``: recordings generated into the run folder, with exact labels."""

    recordings: int = 6
    duration_s: float = 30.0
    sample_rate: int = 2000
    calls: dict = field(default_factory=lambda: {"upcall": 6})
    snr_db: tuple = (5.0, 15.0)
    noise_alpha: float = 1.0
    background: str | list | None = None  # recording(s) to mix calls into (in turn), else coloured noise
    # A background at another rate is resampled (polyphase) to sample_rate; above its own
    # Nyquist frequency the mix holds only coloured noise at noise_rms.
    resample_background: bool = False
    noise_rms: float = 0.01
    # The share of the recordings mixed instead into the annotated training recordings' own
    # noise: stretches at least quiet_margin_s from every annotation (a held-out recording's
    # never), in turn.  The listed backgrounds are other sites; calls in the array's own noise
    # (its tonal lines, its flow noise) are what a model must hear on the array's next day.
    annotated_background: float = 0.0
    quiet_margin_s: float = 5.0
    # The share of the calls taken instead from the annotated training recordings' own calls of
    # the type (a held-out recording's never), each lifted out of its noise by
    # training.synth.isolate_call and mixed in at snr_db like a generated one: real call shapes
    # in other noise and at other levels than the day they were recorded on.
    recorded_calls: float = 0.0

    def __post_init__(self) -> None:
        v.integer("recordings", self.recordings, minimum=2)
        for name in ("annotated_background", "recorded_calls"):
            share = getattr(self, name)
            v.number(name, share, minimum=0)
            v.require(share <= 1, f"{name}={share} must be <= 1")
        v.number("quiet_margin_s", self.quiet_margin_s, minimum=0)
        v.number("duration_s", self.duration_s, minimum=0, exclusive=True)
        v.integer("sample_rate", self.sample_rate, minimum=1)
        v.require(isinstance(self.calls, dict) and self.calls, f"calls={self.calls!r} must map call type -> count")
        v.require(
            isinstance(self.snr_db, (list, tuple)) and len(self.snr_db) == 2,
            f"snr_db={self.snr_db!r} must be [low, high]",
        )
        object.__setattr__(self, "snr_db", tuple(float(s) for s in self.snr_db))
        v.require(
            self.background is None
            or isinstance(self.background, str)
            or (
                isinstance(self.background, list)
                and self.background
                and all(isinstance(b, str) for b in self.background)
            ),
            f"background={self.background!r} must be a recording path or a list of them",
        )
        v.require(
            isinstance(self.resample_background, bool),
            f"resample_background={self.resample_background!r} is not true/false",
        )
        v.number("noise_rms", self.noise_rms, minimum=0)

    @property
    def backgrounds(self) -> list[str]:
        """``background`` as a list (one recording, several, or none)."""
        if isinstance(self.background, list):
            return list(self.background)
        return [self.background] if self.background else []


# synthetic settings that draw on the annotated recordings (their noise, their calls)
ANNOTATED_SYNTHETIC = ("annotated_background", "recorded_calls")

SYNTHETIC_CLIP_KEYS = {"call", "count", "into", "min_rate", "duration_s", "snr_db"}


@dataclass(frozen=True)
class DataSettings:
    """``data``: exactly one of ``annotations`` (CSV), ``clips`` (folder) or ``synthetic``."""

    annotations: str | None = None  # a CSV, a Raven selection table or a folder of Raven tables
    audio_dir: str | None = None  # where the CSV's file names are; default: the CSV's folder
    raven_label_column: str | None = None  # Raven: the column holding labels (default: Label, Annotation, ...)
    raven_default_label: str | None = None  # Raven: the label of every row when no label column exists
    labels: dict | None = None  # raw label -> class name, e.g. {"1": upcall}
    background: list = field(default_factory=list)  # recordings with no calls (negatives)
    clips: str | None = None  # a folder of clips, or a CSV list (path,label,group; paths from the CSV's folder)
    label_from: str = "folder"
    synthetic: dict | None = None
    jitter_s: float = 0.25
    positives_per_call: int = 2
    negatives_per_recording: int = 10
    # ROI candidates overlapping no annotation as negatives: true (every recording), false, or
    # "background" (only recordings with no annotation at all: an annotated day's unlabelled
    # candidates hold the calls its annotators missed, and a negative label would teach them away)
    hard_negatives: bool | str = True
    # an annotated recording's unlabelled candidates that a teacher model (a training run folder
    # whose data holds no annotated recording of this recipe, e.g. synthetic calls in other
    # sites' background) scores as a call (>= ``above``) are left out of the hard negatives:
    # {teacher: RUN_FOLDER, above: 0.5}.  They are most likely calls the annotators missed.
    vet_hard_negatives: dict | None = None
    roi_positives: int = 0  # windows centred on each ROI that holds a call (the crop inference takes)
    roi_jitter_s: float = 0.1
    # ROIs longer than the window give the windows inference scans (inference: crop: scan), each a
    # hard negative or a positive by the part of the ROI it covers, instead of their middle only
    scan_rois: bool = False
    groups: dict = field(default_factory=dict)  # file name -> site/deployment: split unit (default: the file)
    # further annotated recordings beside ``annotations`` (another day or site in its own
    # folder): [{annotations: CSV or Raven, audio_dir: folder}, ...], read like the first; or
    # synthetic calls mixed into real backgrounds: {synthetic: {...data.synthetic settings}}
    more: list = field(default_factory=list)
    # clip libraries: windows taken per clip (evenly spaced), and the lower rates each clip is
    # also rendered at (resampled down by edge's resampler, then analysed as a recording at that
    # rate is): a model that must take recordings of any rate learns the empty band above theirs
    max_windows_per_clip: int = 4
    band_limits: list = field(default_factory=list)
    # the lowest of those rates a label keeps its name at: {dolphin: 16000} leaves out dolphin
    # renderings at 4 and 8 kHz, whose band holds none of the whistles and clicks (they would
    # teach the model that empty noise is a dolphin); a label not named is rendered at every rate
    band_limit_floor: dict = field(default_factory=dict)
    # lossy codecs each clip also enters through, at its own rate, in its split group: [mp3]
    # (public clips are often MP3s, whose quantisation noise in quiet bands a model trained on
    # PCM alone takes for a species; a clip at a rate the codec cannot hold enters as it is)
    codecs: list = field(default_factory=list)
    # synthetic clips of a label mixed into clips of another: {label: {call: sperm_clicks,
    # count: N, into: other, min_rate: 32000, duration_s: 4, snr_db: [low, high]}}; each takes
    # the split group of the clip it was mixed into
    synthetic_clips: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        v.integer("max_windows_per_clip", self.max_windows_per_clip, minimum=1, maximum=10000)
        v.require(
            isinstance(self.band_limits, list) and all(isinstance(r, int) and r > 0 for r in self.band_limits),
            f"band_limits={self.band_limits!r} must be a list of sample rates (Hz)",
        )
        v.require(
            isinstance(self.band_limit_floor, dict)
            and all(isinstance(r, int) and not isinstance(r, bool) and r > 0 for r in self.band_limit_floor.values()),
            f"band_limit_floor={self.band_limit_floor!r} must map labels to sample rates (Hz)",
        )
        v.require(
            isinstance(self.codecs, list) and set(self.codecs) <= set(CODECS),
            f"codecs={self.codecs!r} must be a list of {', '.join(CODECS)}",
        )
        v.require(isinstance(self.synthetic_clips, dict), f"synthetic_clips={self.synthetic_clips!r} must be a mapping")
        for label, s in self.synthetic_clips.items():
            v.require(
                isinstance(s, dict) and set(s) <= SYNTHETIC_CLIP_KEYS and {"call", "count", "into"} <= set(s),
                f"synthetic_clips: {label}: {s!r} must give call, count, into (and optionally "
                "min_rate, duration_s, snr_db)",
            )
        v.require(isinstance(self.groups, dict), f"groups={self.groups!r} must map file name -> site or deployment")
        for i, m in enumerate(self.more):
            annotated = (
                isinstance(m, dict)
                and isinstance(m.get("annotations"), str)
                and set(m) <= {"annotations", "audio_dir"}
                and isinstance(m.get("audio_dir", ""), str)
            )
            synthetic = isinstance(m, dict) and set(m) == {"synthetic"} and isinstance(m["synthetic"], dict)
            v.require(
                annotated or synthetic,
                f"more[{i}]={m!r} must be {{annotations: FILE, audio_dir: FOLDER}} or {{synthetic: {{...}}}}",
            )
            if synthetic:
                try:
                    SyntheticSettings(**m["synthetic"])
                except TypeError as exc:
                    raise ConfigError(f"more[{i}]: synthetic: {exc}") from None
        v.require(not self.more or self.annotations is not None, "more: needs annotations: (the first source)")
        for key in ANNOTATED_SYNTHETIC:
            v.require(
                not (isinstance(self.synthetic, dict) and self.synthetic.get(key)),
                f"synthetic: {key} needs annotated recordings: give data.annotations and the synthetic calls under more:",
            )
        given = [k for k in ("annotations", "clips", "synthetic") if getattr(self, k) is not None]
        v.require(len(given) == 1, f"data: give exactly one of annotations, clips, synthetic (got {given or 'none'})")
        v.require(self.label_from in ("folder", "name"), f"label_from={self.label_from!r} is not folder or name")
        v.number("jitter_s", self.jitter_s, minimum=0)
        v.integer("positives_per_call", self.positives_per_call, minimum=1)
        v.integer("negatives_per_recording", self.negatives_per_recording, minimum=0)
        v.require(
            self.hard_negatives in (True, False, "background"),
            f"hard_negatives={self.hard_negatives!r} must be true, false or background",
        )
        v.integer("roi_positives", self.roi_positives, minimum=0)
        v.number("roi_jitter_s", self.roi_jitter_s, minimum=0)
        v.require(isinstance(self.scan_rois, bool), f"scan_rois={self.scan_rois!r} must be true or false")
        vet = self.vet_hard_negatives
        if vet is not None:
            v.require(
                isinstance(vet, dict) and set(vet) <= {"teacher", "above"} and isinstance(vet.get("teacher"), str),
                f"vet_hard_negatives={vet!r} must be {{teacher: RUN_FOLDER, above: SCORE}}",
            )
            v.number("vet_hard_negatives.above", vet.get("above", 0.5), minimum=0, maximum=1, exclusive=True)
            v.require(self.hard_negatives is True, "vet_hard_negatives: needs hard_negatives: true (it vets them)")


@dataclass(frozen=True)
class SplitSettings:
    """``split``: fractions of recordings; ``holdout`` (file names) fixes the test recordings
    instead (leave-one-recording-out), val then comes from the others."""

    val: float = 0.2
    test: float = 0.2
    holdout: list = field(default_factory=list)

    def __post_init__(self) -> None:
        v.require(
            isinstance(self.holdout, list) and all(isinstance(h, str) for h in self.holdout),
            f"holdout={self.holdout!r} must be a list of recording file names",
        )
        for name in ("val", "test"):
            v.number(name, getattr(self, name), minimum=0)
        v.require(self.val + self.test < 1, f"val={self.val} + test={self.test} must be < 1")


@dataclass(frozen=True)
class LoopSettings:
    """``train``: the optimisation loop."""

    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 5  # epochs without a better validation balanced accuracy (or log loss at an equal one)
    threads: int = 1
    steps_per_epoch: int | None = None  # default: one pass's worth of balanced batches
    progress: bool = True
    # the weights kept: "best" (the epoch of the best validation balanced accuracy, of equal ones
    # the lowest validation log loss, stopping after `patience` epochs without one); "last"
    # (after `epochs`, no early stop: for a validation split of a few groups per class, whose
    # balanced accuracy swings by 0.2 from epoch to epoch and would pick an epoch by chance); or
    # "average" (after `epochs`, no early stop: the mean of the weights of the last
    # `average_epochs` epochs, BatchNorm statistics measured again on training batches;
    # stochastic weight averaging, Izmailov et al. 2018: the centre of the region a constant
    # learning rate wanders in rather than one random point of it)
    select: str = "best"
    average_epochs: int = 5
    # the learning rate over the run: "constant", or "cosine" (from lr down to 0 by the last
    # step, per step): without a decay the weights kept are one random point of the noisy
    # region the optimiser ends in, and a small data set's model then moves with the seed
    lr_schedule: str = "constant"
    # mixup (Zhang et al. 2018): each batch also mixed with itself shuffled, windows and targets
    # alike, by a weight drawn from Beta(mixup, mixup) per batch; 0: off.  Reported to lift
    # right-whale upcall classifiers trained on few calls (Padovese et al. 2021, JASA 149:2520)
    mixup: float = 0.0
    # the loss of a single-label head: "cross_entropy", or "gce" (generalised cross-entropy,
    # Zhang and Sabuncu 2018: (1 - p_label ** gce_q) / gce_q, bounded, so a window labelled
    # wrongly, e.g. an upcall an annotation missed taken as a hard negative, pulls the model
    # less than under cross-entropy, which is unbounded; gce_q -> 0 is cross-entropy)
    loss: str = "cross_entropy"
    gce_q: float = 0.7
    # keep every epoch's weights too (epochs/epochNN.pt in the run folder, the network's weights
    # only), to study what the epoch kept does to held-out figures (benchmarks/bench_narw_epochs.py)
    keep_epochs: bool = False
    # how batches are drawn: "class" (every class equally likely), or "class_and_band" (also each
    # class's windows weighted so its mix of recording bands, tiered by data.band_limits, is the
    # pooled mix: else a class with more low-rate recordings than the others, such as an `other`
    # class holding 2 kHz background, teaches that a narrow band means that class)
    balance: str = "class"

    def __post_init__(self) -> None:
        v.require(self.select in ("best", "last", "average"), f"select={self.select!r} must be best, last or average")
        v.require(self.loss in ("cross_entropy", "gce"), f"loss={self.loss!r} must be cross_entropy or gce")
        v.require(isinstance(self.keep_epochs, bool), f"keep_epochs={self.keep_epochs!r} must be true or false")
        v.require(
            self.balance in ("class", "class_and_band"), f"balance={self.balance!r} must be class or class_and_band"
        )
        v.number("gce_q", self.gce_q, minimum=0, exclusive=True)
        v.require(self.gce_q <= 1, f"gce_q={self.gce_q} must be <= 1")
        v.integer("average_epochs", self.average_epochs, minimum=1)
        v.require(
            self.select != "average" or self.average_epochs <= self.epochs,
            f"average_epochs={self.average_epochs} must be at most epochs={self.epochs}",
        )
        v.number("mixup", self.mixup, minimum=0)
        v.require(
            self.lr_schedule in ("constant", "cosine"), f"lr_schedule={self.lr_schedule!r} must be constant or cosine"
        )
        v.integer("epochs", self.epochs, minimum=1)
        v.integer("batch_size", self.batch_size, minimum=1)
        v.number("lr", self.lr, minimum=0, exclusive=True)
        v.number("weight_decay", self.weight_decay, minimum=0)
        v.integer("patience", self.patience, minimum=1)
        v.integer("threads", self.threads, minimum=1)
        v.integer("steps_per_epoch", self.steps_per_epoch, minimum=1, allow_none=True)


def _text(name: str, value: Any, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    v.require(isinstance(value, str) and value.strip() != "", f"{name}={value!r} must be non-empty text")


def _texts(name: str, value: Any) -> None:
    v.require(
        isinstance(value, list) and all(isinstance(x, str) and x.strip() for x in value),
        f"{name}={value!r} must be a list of non-empty texts",
    )


@dataclass(frozen=True)
class CardSettings:
    """``card:``: what a model is, for its bundle's card (edge-convert copies it)."""

    description: str
    intended_use: str
    data: list  # provenance: one entry per data source, {name, source, licence} (+ notes)
    split: str
    synthetic: bool
    limitations: list = field(default_factory=list)
    # label -> {tsn: ITIS taxonomic serial number, name: scientific name, call: call type}: how
    # Tethys exports (edge-detect --outputs tethys) name what the model detects
    species: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from edge.tethys.types import species_map

        species_map(self.species, "species")  # raises naming the label and key
        _text("description", self.description)
        _text("intended_use", self.intended_use)
        _text("split", self.split)
        v.require(isinstance(self.synthetic, bool), f"synthetic={self.synthetic!r} is not true/false")
        _texts("limitations", self.limitations)
        v.require(isinstance(self.data, list) and self.data, f"data={self.data!r} must list the data sources")
        for i, entry in enumerate(self.data):
            v.require(isinstance(entry, dict), f"data[{i}]={entry!r} must be a mapping")
            for key in ("name", "source", "licence"):
                _text(f"data[{i}].{key}", entry.get(key))
            for key, val in entry.items():
                _text(f"data[{i}].{key}", val)


@dataclass(frozen=True)
class InferenceSettings:
    """``inference:``: how the model is applied to an ROI, part of the model (edge-convert
    writes it into the card's ``window:``; edge/crops.py implements it for device and
    evaluation alike).  ``crop``: centre (one window centred on the ROI) or scan (ROIs longer
    than the window also scored on windows at most ``scan_hop_s`` apart).  ``pad``: how a
    recording shorter than the window fills it, in training clips and in the ranked answer:
    edge (its first and last frames repeated) or loop (the recording repeated)."""

    crop: str = "centre"
    scan_hop_s: float = 1.0
    pad: PadName = "edge"

    def __post_init__(self) -> None:
        self.policy()

    def policy(self) -> CropPolicy:
        try:
            return CropPolicy(self.crop, self.scan_hop_s, self.pad)  # type: ignore[arg-type]
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


EVALUATIONS = ("loro", "split", "group_folds")


@dataclass(frozen=True)
class EvaluationSettings:
    """``evaluation:``: the held-out figures ``edge-train`` writes to ``evaluation.json``.

    ``loro``: one extra run per fold (file names held out together), every fold's held-out
    recordings through the whole pipeline, counts pooled; ``split``: the run's own test split.
    ``threshold`` is fixed before any held-out figure is seen (never tuned on them)."""

    kind: str = "split"
    threshold: float = 0.5
    folds: list = field(default_factory=list)
    k: int = 5  # group_folds: folds of whole split groups, each scored per recording by a model that never saw it

    def __post_init__(self) -> None:
        v.require(self.kind in EVALUATIONS, f"kind={self.kind!r} is not one of {', '.join(EVALUATIONS)}")
        v.number("threshold", self.threshold, minimum=0)
        v.require(self.threshold <= 1, f"threshold={self.threshold!r} must be <= 1")
        v.require(
            isinstance(self.folds, list)
            and all(isinstance(f, list) and f and all(isinstance(n, str) for n in f) for f in self.folds),
            f"folds={self.folds!r} must be a list of lists of recording file names",
        )
        v.require(self.kind != "loro" or len(self.folds) >= 2, "kind=loro needs folds: [[file, ...], ...] (>= 2)")
        v.integer("k", self.k, minimum=2, maximum=100)


@dataclass(frozen=True)
class TrainConfig:
    out: str
    deployment: str
    classes: tuple
    window_s: float = 2.0
    seed: int = 0
    hydrophones: str | None = None
    data: DataSettings = field(default_factory=DataSettings)
    split: SplitSettings = field(default_factory=SplitSettings)
    model: NetworkSettings = field(default_factory=NetworkSettings)
    augment: AugmentSettings = field(default_factory=AugmentSettings)
    train: LoopSettings = field(default_factory=LoopSettings)
    card: CardSettings | None = None
    evaluation: EvaluationSettings | None = None
    inference: InferenceSettings = field(default_factory=InferenceSettings)
    negative: str = "noise"  # the class that is none of the others (clip libraries may call it other)
    source: str = ""

    def __post_init__(self) -> None:
        v.require(
            isinstance(self.classes, (list, tuple))
            and len(self.classes) >= 2
            and all(isinstance(c, str) for c in self.classes),
            f"classes={self.classes!r} must list >= 2 class names (noise first)",
        )
        object.__setattr__(self, "classes", tuple(self.classes))
        v.require(isinstance(self.negative, str) and self.negative, f"negative={self.negative!r} must be a class name")
        v.number("window_s", self.window_s, minimum=0, exclusive=True)
        v.integer("seed", self.seed, minimum=0)
        v.require(
            self.train.loss == "cross_entropy" or self.model.head == "single",
            f"train: loss={self.train.loss} is for a single-label head (model.head: single)",
        )
        v.require(
            not self.train.mixup or self.model.head != "multi_output",
            "train: mixup is for single and multi_label heads (multi_output: a target per head)",
        )
        v.require(
            not self.data.scan_rois or self.inference.crop == "scan",
            "data: scan_rois takes the windows inference scans: it needs inference: {crop: scan}",
        )
        v.require(
            self.train.balance == "class" or bool(self.data.band_limits),
            "train: balance: class_and_band tiers windows by data.band_limits, which is empty",
        )
        unknown = sorted(set(self.data.band_limit_floor) - set(self.classes))
        v.require(not unknown, f"data: band_limit_floor names {unknown}, not among classes {list(self.classes)}")
        for key in ANNOTATED_SYNTHETIC:
            own = any(isinstance(m, dict) and (m.get("synthetic") or {}).get(key) for m in self.data.more)
            v.require(
                not own or self.split.val == self.split.test == 0,
                f"data: synthetic: {key} needs split val: 0 and test: 0 (held-out recordings named in "
                "split.holdout): the recordings a fraction would hold out are drawn after the synthetic ones are "
                "mixed, so their noise or calls would be trained on",
            )

    def path(self, value: str | None) -> Path | None:
        if value is None:
            return None
        p = Path(value)
        # resolved, so recordings have one name wherever edge-train ran (split.json, the gate)
        return (p if p.is_absolute() or not self.source else Path(self.source).parent / p).resolve()

    def as_dict(self, relative_to: Path | None = None) -> dict[str, Any]:
        """The config as a mapping; with ``relative_to`` (a run folder) every path is rewritten
        relative to it, so the run's ``config.yaml`` loads from where it lies."""
        d = asdict(self)
        d.pop("source")
        if relative_to is None:
            return d
        base = Path(relative_to).resolve()

        def rel(value):
            if value is None:
                return None
            if isinstance(value, list):
                return [rel(x) for x in value]
            return os.path.relpath(self.path(value).resolve(), base)

        d["out"] = "."
        d["deployment"] = rel(d["deployment"])
        d["hydrophones"] = rel(d["hydrophones"])
        data = d["data"]
        for key in ("annotations", "audio_dir", "background", "clips"):
            data[key] = rel(data[key])
        data["more"] = [
            {
                "synthetic": {
                    **m["synthetic"],
                    **({"background": rel(m["synthetic"]["background"])} if m["synthetic"].get("background") else {}),
                }
            }
            if "synthetic" in m
            else {k: rel(x) for k, x in m.items()}
            for m in data["more"]
        ]
        if data["synthetic"] and data["synthetic"].get("background"):
            data["synthetic"] = {**data["synthetic"], "background": rel(data["synthetic"]["background"])}
        return d


_SECTIONS = {
    "data": DataSettings,
    "split": SplitSettings,
    "model": NetworkSettings,
    "augment": AugmentSettings,
    "train": LoopSettings,
    "card": CardSettings,
    "evaluation": EvaluationSettings,
    "inference": InferenceSettings,
}


_OPTIONAL = ("card", "evaluation")  # null (as a run's config.yaml writes them when absent) = absent


def from_mapping(data: Any, where: str) -> TrainConfig:
    if not isinstance(data, dict):
        raise TrainConfigError(f"{where}: expected a mapping of training settings")
    try:
        sections = {
            k: v.build(cls, data[k], f"{where}: {k}")
            for k, cls in _SECTIONS.items()
            if k in data and not (data[k] is None and k in _OPTIONAL)
        }
        if "synthetic" in (data.get("data") or {}) and data["data"]["synthetic"] is not None:
            v.build(SyntheticSettings, data["data"]["synthetic"], f"{where}: data: synthetic")
        top = {k: val for k, val in data.items() if k not in _SECTIONS}
        if "source" in top:
            raise ConfigError(f"{where}: unknown key 'source'")
        known = {f.name for f in fields(TrainConfig)} - {"source"}
        for key in top:
            if key not in known:
                raise ConfigError(f"{where}: unknown key {key!r} (known keys: {', '.join(sorted(known))})")
        try:
            return TrainConfig(**top, **sections, source=where)
        except TypeError as exc:  # a required key missing
            raise ConfigError(f"{where}: {exc}") from None
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    except ConfigError as exc:
        raise TrainConfigError(str(exc)) from None


def load_config(path: str | Path) -> TrainConfig:
    path = Path(path)
    try:
        data = v.read_yaml(path, "training config")
    except ConfigError as exc:
        raise TrainConfigError(str(exc)) from None
    return from_mapping(data, str(path))
