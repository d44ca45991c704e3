"""ROIs -> windows -> model -> scores -> thresholds and site rules -> labels.

The windows of an ROI are those of the model's crop policy (:mod:`edge.crops`, the card's
``window: crop``, which ``training.evaluate`` calls too): ``n_frames`` feature frames
(:func:`edge.frontend.features`) centred on the ROI, or for ``crop: scan`` windows scanning
an ROI longer than one window; the recording's edge frames repeated past its ends.
:class:`Classifier` is the read-only part (bundle, backend, thresholds, rules), shared by
every stream; :class:`ClassifierStream` is one recording's state: a bounded buffer of
feature frames from which each ROI's windows are cut as soon as their frames
have arrived, so memory does not grow with the recording's length and any block size gives
the result a whole-recording pass gives.  Scanning needs no more buffer than centring: every
scanned window lies within its ROI, and the buffer already reaches back to the start of the
detector's open event (at most ``roi.max_duration_s``) less half a window.
"""

from __future__ import annotations

import heapq
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from edge.bundle import CENTRES, Bundle, load_bundle, resolve
from edge.crops import Label, combine, crop_starts, policy_of_card, window_start  # noqa: F401 (re-exported)
from edge.errors import BundleError, ConfigError
from edge.frontend import FrontendSpec, features
from edge.types import Backend, BackendKind, Centre, Roi, SpectralFrames

if TYPE_CHECKING:
    from edge.config import DeploymentConfig, LabelRule, ModelSettings

DEFAULT_THRESHOLD = 0.5  # training.evaluate's default, for classes the card gives none


def crop(feats: np.ndarray, start: int, n_frames: int) -> np.ndarray:
    """``n_frames`` rows of ``feats`` from ``start``, edge rows repeated outside."""
    idx = np.clip(np.arange(start, start + n_frames), 0, len(feats) - 1)
    return feats[idx]


def standardise(windows: np.ndarray, scale_db: float, centre: Centre = "window_mean") -> np.ndarray:
    """The model's first step, per window ``(k, n_frames, n_features)`` of dB features:
    ``window_mean`` subtracts the window's mean (over every frame and feature);
    ``bin_median`` subtracts each feature's (frequency bin's) lower median over the window's
    frames, so the background's spectral colour, which differs by day and site, is removed
    and a call stands out as its excess over the local floor.  Then divides by ``scale_db``.
    One half of the model-input contract (the other is :func:`activate`); training, convert
    and the gate import both from here (torch mirrors it in training.models)."""
    x = np.asarray(windows, dtype=np.float32)
    if centre == "bin_median":
        k = (x.shape[1] - 1) // 2  # the lower median, as torch.median takes it
        floor = np.partition(x, k, axis=1)[:, k : k + 1, :]
        return ((x - floor) / np.float32(scale_db)).astype(np.float32)
    if centre != "window_mean":
        raise ValueError(f"standardise centre {centre!r} is not one of {', '.join(CENTRES)}")
    return ((x - x.mean(axis=(1, 2), keepdims=True)) / np.float32(scale_db)).astype(np.float32)


def activate(logits: np.ndarray, activation: str) -> np.ndarray:
    """Scores from logits ``(batch, n_classes)``: softmax over classes or sigmoid each."""
    z = logits.astype(np.float64)
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class Classifier:
    """A bundle with its backend and the deployment's thresholds and rules."""

    def __init__(self, bundle: Bundle, backend: Backend, settings: ModelSettings, where: str = "model") -> None:
        self.bundle = bundle
        self.backend = backend
        self.settings = settings
        labels = bundle.labels
        for key, names in (
            ("thresholds", settings.thresholds),
            ("rules: ignore", settings.rules.ignore),
            ("rules: labels", settings.rules.labels),
        ):
            unknown = sorted(set(names) - labels)
            if unknown:
                raise ConfigError(
                    f"{where}: {key}: {', '.join(unknown)} not a class of model {bundle.name} "
                    f"(its classes: {', '.join(sorted(labels))})"
                )
        self.thresholds = {label: bundle.thresholds.get(label, DEFAULT_THRESHOLD) for label in sorted(labels)}
        self.thresholds.update({str(k): float(p) for k, p in settings.thresholds.items()})
        self.policy = policy_of_card(bundle.card.get("window") or {}, str(bundle.path / "card.yaml"))

    @property
    def kind(self) -> str:
        return self.backend.kind

    @property
    def identity(self) -> str:
        return self.bundle.identity(self.backend.kind)

    def describe(self) -> dict[str, Any]:
        """What ``run.json`` records of the model."""
        return {
            "identity": self.identity,
            "name": self.bundle.name,
            "path": str(self.bundle.path),
            "backend": self.kind,
            "file": self.backend.file,
            "threads": self.settings.threads,
            "batch_size": self.settings.batch_size,
            "thresholds": self.thresholds,
            "rules": {
                "ignore": list(self.settings.rules.ignore),
                "labels": {
                    k: {
                        f: getattr(r, f)
                        for f in ("min_snr_db", "min_received_level_db", "band_hz")
                        if getattr(r, f) is not None
                    }
                    for k, r in self.settings.rules.labels.items()
                },
            },
            "frontend_hash": self.bundle.spec_hash,
            "task": self.bundle.task,
            "window": self.policy.as_card(),
        }

    def standardise(self, windows: np.ndarray) -> np.ndarray:
        """Model input from raw feature windows (:func:`standardise` with the bundle's scale)."""
        return standardise(windows, self.bundle.scale_db, self.bundle.centre)

    def scores(self, windows: np.ndarray) -> dict[str, np.ndarray]:
        """Activated scores per output for raw feature windows ``(k, n_frames, n_features)``,
        run in batches of ``batch_size``."""
        step = self.settings.batch_size
        parts = [self.backend.run(self.standardise(windows[i : i + step])) for i in range(0, len(windows), step)]
        out = {}
        for o in self.bundle.outputs:
            logits = np.concatenate([p[o.name] for p in parts]) if parts else np.zeros((0, len(o.classes)))
            out[o.name] = activate(logits, o.activation)
        return out

    def decide(self, scores: dict[str, np.ndarray], i: int, roi: Roi) -> list[Label]:
        """The labels kept for window ``i`` (the ROI ``roi``): per output the most probable
        class other than its negative (every class over its threshold for multi-label
        models), then the threshold and the site's rules."""
        rules = self.settings.rules
        out = []
        for o in self.bundle.outputs:
            p = scores[o.name][i]
            candidates = [(float(p[k]), c) for k, c in enumerate(o.classes) if c != o.negative]
            if not candidates:
                continue
            if self.bundle.task != "multi_label":
                candidates = [max(candidates, key=lambda sc: sc[0])]  # first of equals, as np.argmax
            head = o.name if self.bundle.task == "multi_output" else ""
            for score, label in candidates:
                if score < self.thresholds[label] or label in rules.ignore or not _meets(rules.labels.get(label), roi):
                    continue
                out.append(Label(label, score, head))
        return out

    def classify(self, rois: list[Roi], windows: np.ndarray) -> list[list[Label]]:
        """Labels per ROI from its raw feature window (one window each)."""
        scores = self.scores(windows)
        return [self.decide(scores, i, roi) for i, roi in enumerate(rois)]

    def classify_crops(
        self,
        rois: list[Roi],
        starts: list[list[int]],
        windows: list[np.ndarray],
        sink: list[tuple[int, int, dict[str, np.ndarray]]] | None = None,
    ) -> list[list[Label]]:
        """Labels per ROI from its crops (``starts[i]``, :func:`edge.crops.crop_starts`) and
        their raw feature windows ``windows[i]`` ``(len(starts[i]), n_frames, n_features)``,
        combined by :func:`edge.crops.combine`.  ``sink`` gets ``(i, crop start frame, scores
        per output)`` for every window, kept or not (the scores output)."""
        if not rois:
            return []
        scores = self.scores(np.concatenate(windows))
        out, j = [], 0
        for i, (roi, ss) in enumerate(zip(rois, starts)):
            if sink is not None:
                sink += [(i, s, {o: p[j + c] for o, p in scores.items()}) for c, s in enumerate(ss)]
            per_crop = [self.decide(scores, j + c, roi) for c in range(len(ss))]
            out.append(combine(roi, ss, self.bundle.n_frames, self.bundle.spec.hop_s, per_crop))
            j += len(ss)
        return out

    def stream(
        self, spec: FrontendSpec, *, first_frame: int = 0, limit: int | None = None, keep_scores: bool = False
    ) -> ClassifierStream:
        """A recording's classification state; ``spec`` must be the bundle's."""
        if spec.hash != self.bundle.spec_hash:
            raise BundleError(
                f"model {self.bundle.name} was trained on frontend {self.bundle.spec_hash}, the "
                f"recording is processed with frontend {spec.hash} (sample rate {spec.sample_rate} Hz, "
                f"the model's {self.bundle.sample_rate} Hz)"
            )
        return ClassifierStream(self, spec, first_frame=first_frame, limit=limit, keep_scores=keep_scores)


def _meets(rule: LabelRule | None, roi: Roi) -> bool:
    if rule is None:
        return True
    if rule.min_snr_db is not None and roi.snr_db < rule.min_snr_db:
        return False
    if rule.min_received_level_db is not None and roi.received_level_db < rule.min_received_level_db:
        return False
    if rule.band_hz is not None and (roi.high_hz < rule.band_hz[0] or roi.low_hz > rule.band_hz[1]):
        return False
    return True


class ClassifierStream:
    """One recording: feature frames in, labels per ROI out (in the order ROIs were added).

    ``limit`` classifies only that many ROIs, the strongest by SNR (earlier first among
    equals); the others get ``None`` (ROI-only records).  Memory: the frames back to the
    earliest window still needed, plus the windows of ``limit`` ROIs when limited.
    ``keep_scores`` keeps every window's scores (:attr:`window_scores`)."""

    def __init__(
        self,
        classifier: Classifier,
        spec: FrontendSpec,
        *,
        first_frame: int = 0,
        limit: int | None = None,
        keep_scores: bool = False,
    ) -> None:
        self.classifier = classifier
        self.spec = spec
        self.n = classifier.bundle.n_frames
        self._hop_s = spec.hop_s
        self._buf = np.zeros((0, classifier.bundle.n_features), np.float32)
        self._len = 0
        self._first = int(first_frame)  # absolute frame of buffer row 0
        self._pending: list[tuple[int, Roi, list[int]]] = []  # (index, roi, its windows' first frames)
        self._ready: list[tuple[int, Roi, list[int], np.ndarray]] = []
        # (snr, -index, index, roi, crop starts, windows): the weakest, then latest, on top
        self._heap: list[tuple[float, int, int, Roi, list[int], np.ndarray]] = []
        self._limit = limit
        self._results: dict[int, list[Label] | None] = {}
        self._count = 0
        self.failures: list[tuple[Roi, str]] = []  # ROIs whose classification raised, and why
        # (ROI index, window's first frame, scores per output) of every window classified
        self.window_scores: list[tuple[int, int, dict[str, np.ndarray]]] | None = [] if keep_scores else None

    @property
    def pending(self) -> int:
        """ROIs whose windows still wait for frames."""
        return len(self._pending)

    @property
    def buffered_frames(self) -> int:
        return self._len

    def push(self, frames: SpectralFrames, rois: list[Roi], earliest: int) -> None:
        """Add ``frames`` (consecutive) and the ROIs just found; ``earliest`` is the first
        frame a later ROI can start at (the candidate stages' ``earliest_frame``), below which
        frames go."""
        if frames.n_frames:
            if frames.first_frame != self._first + self._len:
                raise ValueError(f"frames start at {frames.first_frame}, expected {self._first + self._len}")
            self._append(features(self.spec, frames.psd))
        for roi in rois:
            self._pending.append((self._count, roi, crop_starts(roi, self.n, self._hop_s, self.classifier.policy)))
            self._count += 1
        self._cut(final=False)
        keep = earliest - self.n // 2 - 2  # a later ROI's centred window; scanned ones lie within their ROI
        if self._pending:
            keep = min(keep, min(max(ss[0], 0) for _, _, ss in self._pending))
        self._trim(keep)

    def finish(self) -> list[list[Label] | None]:
        """Classify what is left (the recording has ended: windows past its end repeat the
        last frame); labels per ROI in the order added."""
        self._cut(final=True)
        self._run()
        if self._heap:
            items = sorted(self._heap, key=lambda h: h[2])
            self._heap = []
            self._classify([(h[2], h[3], h[4], h[5]) for h in items])
        return [self._results.get(i) for i in range(self._count)]

    # -- internals --------------------------------------------------------------------
    def _append(self, feats: np.ndarray) -> None:
        need = self._len + len(feats)
        if need > len(self._buf):
            grown = np.empty((max(need, 2 * len(self._buf), 64), feats.shape[1]), np.float32)
            grown[: self._len] = self._buf[: self._len]
            self._buf = grown
        self._buf[self._len : need] = feats
        self._len = need

    def _trim(self, keep: int) -> None:
        drop = min(keep - self._first, self._len)
        if drop <= 0:
            return
        self._buf[: self._len - drop] = self._buf[drop : self._len]  # memmove; the buffer keeps its size
        self._len -= drop
        self._first += drop

    def _cut(self, final: bool) -> None:
        end = self._first + self._len  # one past the last frame held
        waiting = []
        for index, roi, starts in self._pending:
            if not final and max(starts) + self.n > end:
                waiting.append((index, roi, starts))
                continue
            idx = np.asarray(starts)[:, None] + np.arange(self.n)
            np.clip(idx, 0, max(end - 1, 0), out=idx)
            if idx.min() < self._first or self._len == 0:
                raise RuntimeError(
                    f"window from frame {min(starts)} is no longer buffered (buffer starts at {self._first})"
                )
            self._take(index, roi, starts, self._buf[idx - self._first])
        self._pending = waiting
        if len(self._ready) >= self.classifier.settings.batch_size:
            self._run()

    def _take(self, index: int, roi: Roi, starts: list[int], windows: np.ndarray) -> None:
        if self._limit is None:
            self._ready.append((index, roi, starts, windows))
            return
        heapq.heappush(self._heap, (roi.snr_db, -index, index, roi, starts, windows))
        if len(self._heap) > self._limit:
            dropped = heapq.heappop(self._heap)
            self._results[dropped[2]] = None

    def _run(self) -> None:
        if not self._ready:
            return
        ready, self._ready = self._ready, []
        self._classify(ready)

    def _classify(self, items: list[tuple[int, Roi, list[int], np.ndarray]]) -> None:
        """Labels of a batch of ROIs into the results.  When the batch fails, each ROI is
        classified alone, and one that still fails stays an ROI-only record with a warning
        (:attr:`failures`): a bad window costs that ROI's label, never the recording."""
        labels: list[list[Label] | None]
        sink: list[tuple[int, int, dict[str, np.ndarray]]] | None = [] if self.window_scores is not None else None
        try:
            labels = list(
                self.classifier.classify_crops(
                    [r for _, r, _, _ in items], [s for _, _, s, _ in items], [w for _, _, _, w in items], sink
                )
            )
        except Exception:  # a backend error on one window must not lose the batch: retried one by one below
            labels, sink = [], [] if sink is not None else None
            for k, (_, roi, starts, windows) in enumerate(items):
                one: list[tuple[int, int, dict[str, np.ndarray]]] | None = [] if sink is not None else None
                try:
                    labels += self.classifier.classify_crops([roi], [starts], [windows], one)
                except Exception as exc:  # kept as an ROI-only record, said in a warning
                    labels.append(None)
                    self.failures.append((roi, " ".join(str(exc).split()) or type(exc).__name__))
                if sink is not None and one:
                    sink += [(k, s, p) for _, s, p in one]
        if sink is not None and self.window_scores is not None:
            self.window_scores += [(items[k][0], s, p) for k, s, p in sink]
        for (index, _, _, _), lab in zip(items, labels):
            self._results[index] = lab


def load_classifier(
    config: DeploymentConfig, *, bundle: str | None = None, backend: str | None = None, verify: bool = True
) -> Classifier:
    """The classifier a deployment names (``model:``), with ``bundle``/``backend`` overriding
    it; :class:`BundleError` when the bundle does not fit the deployment,
    :class:`~edge.errors.MissingExtraError` when the backend is not installed."""
    from edge.backends import open_backend
    from edge.config import ModelSettings

    settings = config.model or ModelSettings()
    if bundle is not None:
        settings = replace(settings, bundle=bundle)
    if backend is not None:
        settings = replace(settings, backend=cast("BackendKind", backend))
    if settings.bundle is None:
        raise ConfigError(f"deployment {config.name!r} names no model (model: bundle:)")
    where = config.source or f"deployment {config.name!r}"
    loaded = load_bundle(resolve(settings.bundle, relative_to=config.model_base()), verify=verify)
    loaded.check(config.spec_for(loaded.sample_rate), config.sample_rate, f"deployment {config.name!r} ({where})")
    return Classifier(
        loaded, open_backend(loaded, settings.backend, threads=settings.threads), settings, f"{where}: model"
    )
