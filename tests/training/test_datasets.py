"""Dataset builders: parity with edge's frontend, windows, hard negatives, cache, clips."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge.config import load_deployment
from edge.crops import CropPolicy, crop_starts, window_frames
from edge.frontend import features
from edge.pipeline import prepare
from edge.types import Roi
from tests.support.data import DEPLOYMENTS
from training.datasets import Dataset, build_annotated, build_clips, windows_from_recording
from training.features import RecordingFeatures
from training.synth import synth_recording
from training.types import Annotation, TrainConfigError

RATE = 2000


@pytest.fixture
def narw():
    return load_deployment(DEPLOYMENTS / "narw-upcall.yaml")


@pytest.fixture
def recording(write_audio, rng):
    x, anns = synth_recording(
        rng, sample_rate=RATE, duration_s=90, calls={"upcall": 5}, snr_db=(10, 15), name="rec.wav"
    )
    path = write_audio("rec.wav", x, RATE, subtype="FLOAT")
    return str(path), anns


def edge_features(path, config):
    """What the device computes: one whole-file pass of edge's frontend, then features()."""
    prep = prepare(path, config, None)
    frontend = prep.frontend()
    psd = np.concatenate([frontend.push(b).psd for b in prep.source().blocks()])
    return features(prep.spec, psd), prep.spec


def test_builder_features_equal_edge_frontend_output(narw, recording):
    path, anns = recording
    ds = build_annotated({path: anns}, narw, window_s=2.0, classes=("noise", "upcall"), seed=1)
    reference, spec = edge_features(path, narw)
    n = round(2.0 / spec.hop_s)
    assert ds.spec == spec and ds.x.shape[1:] == (n, reference.shape[1])
    inside = 0
    for x, ref in zip(ds.x, ds.refs):
        first = round(ref.offset_s / spec.hop_s)
        if 0 <= first and first + n <= len(reference):
            assert np.array_equal(x, reference[first : first + n])
            inside += 1
    assert inside >= len(ds) - 2


def test_positives_negatives_and_hard_negatives(narw, recording):
    path, anns = recording
    ds = build_annotated(
        {path: anns},
        narw,
        window_s=2.0,
        classes=("noise", "upcall"),
        seed=1,
        positives_per_call=2,
        negatives_per_recording=6,
        jitter_s=0.3,
    )
    kinds = [r.kind for r in ds.refs]
    assert kinds.count("positive") == 10 and kinds.count("negative") == 6
    for r, y in zip(ds.refs, ds.y):
        assert (y == 1) == (r.kind == "positive")
        if r.kind == "positive":  # jitter keeps the call's centre inside the window
            assert any(r.offset_s < (a.start_s + a.end_s) / 2 < r.offset_s + 2.0 for a in anns)
        if r.kind == "negative":
            assert not any(r.offset_s < a.end_s and a.start_s < r.offset_s + 2.0 for a in anns)


def test_hard_negatives_are_detector_candidates_off_the_annotations(narw, write_audio, rng):
    x, anns = synth_recording(rng, sample_rate=RATE, duration_s=120, calls={"upcall": 6}, snr_db=(15, 20))
    path = str(write_audio("two.wav", x, RATE, subtype="FLOAT"))
    # label only half of the calls: the other half are candidates overlapping no annotation
    ds = build_annotated(
        {path: anns[::2]}, narw, window_s=2.0, classes=("noise", "upcall"), seed=0, negatives_per_recording=0
    )
    hard = [r for r in ds.refs if r.kind == "hard_negative"]
    assert len(hard) >= 2
    assert all(r.label == "noise" for r in hard)


def test_vetting_leaves_out_the_unlabelled_calls_of_annotated_recordings_only(narw, write_audio, rng):
    x, anns = synth_recording(rng, sample_rate=RATE, duration_s=120, calls={"upcall": 6}, snr_db=(15, 20))
    day = str(write_audio("day.wav", x, RATE, subtype="FLOAT"))
    bg = str(write_audio("bg.wav", x, RATE, subtype="FLOAT"))  # the same sound, but a background file
    missed = anns[1::2]  # the annotator labelled every other call
    kw = dict(window_s=2.0, classes=("noise", "upcall"), seed=0, negatives_per_recording=0)
    plain = build_annotated({day: anns[::2], bg: []}, narw, **kw)

    def on_missed(ref):
        return any(ref.offset_s < a.end_s and a.start_s < ref.offset_s + 2.0 for a in missed)

    # a stand-in teacher that knows which windows hold a missed call
    truth = {w.tobytes(): float(on_missed(r)) for w, r in zip(plain.x, plain.refs) if r.source == day}
    asked = []

    def teacher(windows):
        asked.append(len(windows))
        return np.array([truth[w.tobytes()] for w in windows])

    vetted = build_annotated({day: anns[::2], bg: []}, narw, vet=teacher, vet_above=0.5, **kw)
    hard = {(r.source, r.offset_s) for r in plain.refs if r.kind == "hard_negative"}
    kept = {(r.source, r.offset_s) for r in vetted.refs if r.kind == "hard_negative"}
    on_day = [r for r in plain.refs if r.kind == "hard_negative" and r.source == day]
    assert sum(map(on_missed, on_day)) >= 2 and not all(map(on_missed, on_day))
    assert kept == hard - {(r.source, r.offset_s) for r in on_day if on_missed(r)}
    assert {s for s, _ in hard - kept} == {day}  # the background file's candidates are never vetted
    assert asked == [len(on_day)]  # one call of the teacher per annotated recording, hard negatives only
    others = [(r.source, r.offset_s, r.kind) for r in plain.refs if r.kind != "hard_negative"]
    assert [(r.source, r.offset_s, r.kind) for r in vetted.refs if r.kind != "hard_negative"] == others


def _scan_windows(narw, scan):
    """Windows of a 60-s recording whose feature row i holds i (so a window names its first
    frame): a long ROI of noise, a long ROI holding one upcall near its end, a short ROI."""
    spec = narw.spec_for(RATE)
    n_frames = int(60 / spec.hop_s)
    feats = np.repeat(np.arange(n_frames, dtype=np.float32)[:, None], 4, axis=1)
    rois = [Roi(10.0, 18.0, 50, 250, 8, 100), Roi(30.0, 38.0, 50, 250, 8, 100), Roi(50.0, 51.0, 50, 250, 8, 100)]
    rf = RecordingFeatures("rec.wav", spec, feats, rois, 60.0)
    call = Annotation("rec.wav", 36.2, 37.2, 50, 250, "upcall")
    xs, labels, refs = windows_from_recording(
        rf,
        [call],
        window_s=2.0,
        rng=np.random.default_rng(0),
        positives_per_call=1,
        negatives=0,
        roi_positives=1,
        roi_jitter_s=0.0,
        scan=scan,
    )
    for x, ref in zip(xs, refs):  # every window is the frames it says it is
        assert x[0, 0] == round(ref.offset_s / spec.hop_s)
    return spec, rois, call, [(r.kind, round(r.offset_s / spec.hop_s)) for r in refs]


def test_scanned_rois_teach_every_window_inference_scores(narw):
    policy = CropPolicy("scan", 1.0)
    spec, rois, call, centred = _scan_windows(narw, None)
    _, _, _, scanned = _scan_windows(narw, policy)
    n = round(2.0 / spec.hop_s)
    noise_long, with_call, short = (crop_starts(r, n, spec.hop_s, policy) for r in rois)
    assert len(noise_long) == len(with_call) > 1 and len(short) == 1
    # without scan: one centred window per ROI; the middle of the ROI holding the call near its
    # end misses the call, so that ROI teaches nothing, though inference finds the call there
    assert [k for k, _ in centred] == ["positive", "hard_negative", "hard_negative"]
    # with it: every scanned window of the noise ROI is a hard negative
    hard = {f for k, f in scanned if k == "hard_negative"}
    positives = {f for k, f in scanned if k == "roi_positive"}
    assert set(noise_long) <= hard
    # the call's ROI: windows holding half the call or more are positives, those whose part of
    # the ROI misses the call hard negatives, the rest (a sliver of the call) neither
    for first in with_call:
        w0, w1 = first * spec.hop_s, first * spec.hop_s + n * spec.hop_s
        inside = min(w1, call.end_s) - max(w0, call.start_s)
        part = (max(rois[1].start_s, w0), min(rois[1].end_s, w1))
        touches = part[0] < call.end_s and call.start_s < part[1]
        assert (first in positives) == (inside >= 0.5 * call.duration_s)
        assert (first in hard) == (not touches)
    assert {f for f in positives} < set(with_call) and any(f in hard for f in with_call)
    # a short ROI is taken exactly as without scan
    assert [x for x in scanned if x[1] == short[0]] == [x for x in centred if x[1] == short[0]]


def test_cache_roundtrip_and_spec_check(narw, recording, tmp_path):
    path, anns = recording
    ds = build_annotated({path: anns}, narw, window_s=1.0, classes=("noise", "upcall"), hard_negatives=False)
    saved = ds.save(tmp_path / "cache" / "ds.npz")
    back = Dataset.load(saved, ds.spec)
    assert np.array_equal(back.x, ds.x) and np.array_equal(back.y, ds.y)
    assert back.refs == ds.refs and back.classes == ds.classes and back.spec.hash == ds.spec.hash
    with pytest.raises(TrainConfigError, match="rebuild the cache"):
        Dataset.load(saved, replace(ds.spec, hop=32))


def test_unknown_label_in_dataset(narw, recording):
    path, anns = recording
    with pytest.raises(TrainConfigError, match=r"labels \['upcall'\] are not among classes"):
        build_annotated({path: anns}, narw, window_s=1.0, classes=("noise", "gunshot"), hard_negatives=False)


def test_clip_library_labels_from_folders_with_padding(write_audio, rng, tmp_path):
    config = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    root = tmp_path / "clips"
    write_audio("humpback/a.wav", rng.normal(0, 0.01, RATE * 5), RATE, folder=root)
    write_audio("humpback/b.wav", rng.normal(0, 0.01, RATE * 1), RATE, folder=root)  # shorter: padded
    write_audio("fin/c.wav", rng.normal(0, 0.01, RATE * 3), RATE, folder=root)
    ds = build_clips(root, config, window_s=2.0, max_windows_per_clip=2)
    assert ds.classes == ("fin", "humpback")
    assert ds.x.shape[1] == round(2.0 / ds.spec.hop_s)
    # 5 s clip: two windows; 1 s clip: one padded window; 3 s clip: one window
    assert sorted(r.label for r in ds.refs) == ["fin", "humpback", "humpback", "humpback"]
    padded = next(x for x, r in zip(ds.x, ds.refs) if r.source.endswith("b.wav"))
    assert np.isfinite(padded).all()
    assert {r.group for r in ds.refs} == {str(p) for p in root.rglob("*.wav")}


def test_a_clip_shorter_than_the_window_is_looped_when_the_model_loops_short_clips(write_audio, rng, tmp_path):
    from training.features import recording_features

    config = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    path = write_audio("humpback/b.wav", rng.normal(0, 0.01, RATE // 2), RATE, folder=tmp_path / "clips")
    feats = recording_features(path, config, with_rois=False).feats
    for pad in ("edge", "loop"):
        ds = build_clips(tmp_path / "clips", config, window_s=2.0, pad=pad, seed=4)
        (window,), (ref,) = ds.x, ds.refs
        start = int(round(ref.offset_s / ds.spec.hop_s))  # the clip's random offset, <= 0
        assert start <= 0 and len(feats) < len(window) / 2
        assert np.array_equal(window, feats[window_frames([start], len(window), len(feats), pad)[0]])
    # looped: every frame of the clip, each followed by the next, never a run of one repeated frame
    assert len({r.tobytes() for r in window}) == len(feats)
    assert not any(np.array_equal(a, b) for a, b in zip(window, window[1:]))
