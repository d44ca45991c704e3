"""Starting a stream part-way: the small API that lets a chunk of a recording be processed
apart (edge.cluster) with the whole recording's frame indices and results."""

from __future__ import annotations

import numpy as np
import pytest

from edge.audio import Recording, probe
from edge.frontend import FrontendSpec, StreamingFrontend
from edge.roi import RoiSettings, StreamingRoiDetector
from edge.types import AudioBlock
from tests.support.signals import tone

SPEC = FrontendSpec(nfft=256, hop=64, sample_rate=2000)
SETTINGS = RoiSettings(
    fmin=45, fmax=300, on_db=10, off_db=5, min_duration_s=0.2, noise_window_s=10, noise_segment_s=1.0, smooth_frames=5
)


def stream(rng, seconds=60.0):
    x = 0.01 * rng.standard_normal(int(seconds * 2000)).astype(np.float32)
    for start in np.arange(3.0, seconds - 2, 4.0):  # 0.8 s tones every 4 s
        i = int(start * 2000)
        x[i : i + 1600] += tone(150, 0.2, 0.8, 2000).astype(np.float32)
    return x


def frames_of(x, first_frame=0, block=3001):
    fe = StreamingFrontend(SPEC, first_frame=first_frame)
    out = [fe.push(AudioBlock(x[i : i + block], first_frame * SPEC.hop + i)) for i in range(0, len(x), block)]
    return out


def test_frontend_from_a_frame_gives_the_same_frames_and_indices(rng):
    x = stream(rng)
    whole = np.concatenate([f.psd for f in frames_of(x)])
    f0 = 777
    part = frames_of(x[f0 * SPEC.hop :], first_frame=f0)
    assert part[0].first_frame == f0
    np.testing.assert_array_equal(np.concatenate([f.psd for f in part]), whole[f0:])


def test_detector_from_a_segment_boundary_matches_after_the_warm_up(rng):
    x = stream(rng)
    whole = StreamingRoiDetector(SETTINGS, SPEC)
    rois = [r for f in frames_of(x) for r in whole.push(f)] + whole.flush()
    assert len(rois) >= 10 and all(r.start_frame >= 0 for r in rois)
    assert all(r.start_s <= r.start_frame * SPEC.hop / 2000 for r in rois)
    part = StreamingRoiDetector(SETTINGS, SPEC, first_frame=0)
    seg = part.segment_frames
    assert part.warmup_segments == 10 + 1  # the window's 10 segments + 1 for the 5-frame box
    start = 3 * seg
    part = StreamingRoiDetector(SETTINGS, SPEC, first_frame=start)
    got = [r for f in frames_of(x[start * SPEC.hop :], first_frame=start) for r in part.push(f)] + part.flush()
    settled = (3 + part.warmup_segments + 4) * seg  # + a margin for events already open
    assert [r for r in got if r.start_frame >= settled] == [r for r in rois if r.start_frame >= settled]
    for a, b in zip(part.noise_state(), whole.noise_state()):
        np.testing.assert_array_equal(a, b)


def test_detector_reports_its_progress_and_open_event(rng):
    det = StreamingRoiDetector(SETTINGS, SPEC, first_frame=62)
    assert det.processed_frames == 62 and det.open_event_start is None
    with pytest.raises(ValueError, match="frames start at 0, expected 62"):
        det.push(frames_of(stream(rng, 5))[0])
    with pytest.raises(ValueError, match="first_frame=-1"):
        StreamingRoiDetector(SETTINGS, SPEC, first_frame=-1)


def test_recording_from_a_sample_keeps_the_block_grid(write_audio, rng):
    x = stream(rng, 10)
    path = write_audio("r.wav", x, 2000, subtype="FLOAT")
    info = probe(path)
    whole = list(Recording(info, block_frames=3000).blocks())
    part = list(Recording(info, block_frames=3000, start=4500).blocks())
    assert [b.start_sample for b in part] == [4500] + [b.start_sample for b in whole if b.start_sample > 4500]
    np.testing.assert_array_equal(np.concatenate([b.samples for b in part]), x[4500:].astype(np.float32))
    with pytest.raises(ValueError, match="outside the recording"):
        Recording(info, start=len(x) + 1)
