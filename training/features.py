"""Features of a recording computed by edge's own frontend (ARCHITECTURE contract 1).

Nothing here re-implements DSP: a recording is prepared exactly as ``edge-detect`` prepares
it (sample rate check, calibration from the hydrophone table), streamed through
the runtime's chain (:class:`edge.pipeline.Chain`), and turned into model input by
:func:`edge.frontend.features`.  The ROI detector runs on the same frames, giving the
candidates used as hard negatives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.calibration import HydrophoneTable
from edge.config import DeploymentConfig
from edge.crops import window_frames
from edge.frontend import FrontendSpec, features
from edge.pipeline import Chain, prepare
from edge.types import PadName, Roi


@dataclass
class RecordingFeatures:
    """Model features of a whole recording: ``feats`` ``(n_frames, n_features)`` float32,
    frame ``i`` starting at ``i * spec.hop_s`` seconds; and the ROI detector's candidates."""

    path: str
    spec: FrontendSpec
    feats: np.ndarray
    rois: list[Roi]
    duration_s: float

    def frame_of(self, t_s: float) -> int:
        return int(round(t_s / self.spec.hop_s))

    def window(self, start_frame: int, n_frames: int, pad: PadName = "edge") -> np.ndarray:
        """``n_frames`` frames from ``start_frame``, shape ``(n_frames, n_features)``; parts
        outside the recording repeat its edge frames (padding for calls near the ends), or for
        a recording shorter than the window with ``pad: loop`` the recording
        (:func:`edge.crops.window_frames`)."""
        return self.feats[window_frames([start_frame], n_frames, len(self.feats), pad)[0]]


def recording_features(
    path: str | Path, config: DeploymentConfig, table: HydrophoneTable | None = None, *, with_rois: bool = True
) -> RecordingFeatures:
    """Stream ``path`` through the deployment's calibrated frontend (and ROI detector)."""
    prep = prepare(path, config, table)
    chunks: list[np.ndarray] = []
    result = Chain(
        prep,
        config,
        levels=False,
        candidates=with_rois,
        on_frames=lambda frames: chunks.append(features(prep.spec, frames.psd)),
    ).run()
    feats = np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)
    return RecordingFeatures(str(path), prep.spec, feats, result.rois, prep.info.duration_s)
