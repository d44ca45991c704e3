"""Units of a cluster run: chunk bounds on level periods, warm-ups on segment boundaries,
the walk back through contiguous recordings."""

from __future__ import annotations

import numpy as np
import pytest

from edge.cluster.plan import chunk_bounds, frame_count, margin_segments, plan_units
from edge.config import DeploymentConfig, from_settings, load_deployment
from edge.levels import LevelSettings, StreamingLevels
from edge.roi import StreamingRoiDetector
from tests.support.data import DEPLOYMENTS

CONFIG = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
SPEC = CONFIG.spec_for(2000)


def write_series(write_audio, rng, names_seconds, folder=None):
    return [
        write_audio(name, 0.01 * rng.standard_normal(int(seconds * 2000)).astype(np.float32), 2000, folder=folder)
        for name, seconds in names_seconds
    ]


def test_chunk_bounds_start_level_periods_and_cover_the_file():
    levels = StreamingLevels(SPEC, LevelSettings(period_s=60))
    n = frame_count(2000 * 1000, SPEC.nfft, SPEC.hop)
    bounds = chunk_bounds(levels, n, 300)
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    for c0, _ in bounds[1:]:
        before, at = levels.period_of(np.array([c0 - 1, c0]))
        assert at % 5 == 0 and before == at - 1  # c0 is the first frame of every 5th period
    assert [len(chunk_bounds(levels, n, s)) for s in (1e6, 60, 89, 91)] == [1, 17, 17, 9]


def test_first_frame_of_period_matches_frame_centres():
    levels = StreamingLevels(SPEC, LevelSettings(period_s=60))
    for p in range(0, 50):
        f = levels.first_frame_of(p)
        assert levels.period_of(np.array([f]))[0] >= p
        assert f == 0 or levels.period_of(np.array([f - 1]))[0] < p


def test_units_warm_up_from_segment_boundaries(tmp_path, write_audio, rng):
    """A lone 10-minute recording in 2-minute chunks: each unit replays whole segments,
    at least the floor's window plus the event margin, and none replays another file."""
    [path] = write_series(write_audio, rng, [("lone.wav", 600)])
    units = plan_units([path], CONFIG, chunk_s=120)
    det = StreamingRoiDetector(CONFIG.roi, SPEC)
    seg, need = det.segment_frames, det.warmup_segments + margin_segments(CONFIG, det.segment_frames, SPEC.hop_s)
    assert [u.chunk for u in units] == list(range(5)) and all(u.n_chunks == 5 for u in units)
    for u in units:
        assert u.replay_from % seg == 0 and u.predecessors == () and not u.carried
        assert u.replay_from == 0 or u.c0 - u.replay_from >= need * seg
    assert units[0].replay_from == 0 and units[-1].replay_from > 0
    assert len({u.key for u in units}) == 5


def test_units_walk_back_through_contiguous_recordings(tmp_path, write_audio, rng):
    """20150101_000000 (90 s) then 000130 (30 s) then 000200 (300 s) are contiguous: the
    first chunk of the third replays the second whole and the first from a segment boundary
    about one floor window (plus smoothing) before its end."""
    paths = write_series(
        write_audio,
        rng,
        [
            ("20150101_000000.wav", 90),
            ("20150101_000130.wav", 30),
            ("20150101_000200.wav", 300),
            ("20150101_010000.wav", 60),
        ],
    )
    units = plan_units(paths, CONFIG, chunk_s=120)
    det = StreamingRoiDetector(CONFIG.roi, SPEC)
    seg, warm = det.segment_frames, det.warmup_segments
    third = [u for u in units if u.file_index == 2]
    assert third[0].carried and third[0].replay_from == 0
    first, second = third[0].predecessors
    assert (first.path, second.path) == (str(paths[0]), str(paths[1]))
    assert second.start == 0 and first.start % seg == 0 and first.start > 0
    segs_first = -(-frame_count(90 * 2000, SPEC.nfft, SPEC.hop) // seg)
    segs_second = -(-frame_count(30 * 2000, SPEC.nfft, SPEC.hop) // seg)
    assert segs_second < warm and first.start == (segs_first - warm) * seg
    assert third[-1].replay_from > 0 and third[-1].predecessors == ()
    fourth = [u for u in units if u.file_index == 3]
    assert not fourth[0].carried and fourth[0].predecessors == ()  # a gap of almost an hour


def test_unreadable_recording_is_one_unit(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    [unit] = plan_units([bad], CONFIG)
    assert (unit.c0, unit.c1, unit.n_chunks) == (0, 0, 1)


@pytest.mark.parametrize("name", ["narw-upcall", "generic", "beluga"])
def test_settings_round_trip_keeps_the_hash(name):
    config = load_deployment(DEPLOYMENTS / f"{name}.yaml")
    assert from_settings(config.as_dict()).hash == config.hash
    assert from_settings(DeploymentConfig().as_dict()) == DeploymentConfig()
