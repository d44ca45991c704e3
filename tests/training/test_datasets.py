"""Dataset builders: parity with edge's frontend, windows, hard negatives, cache, clips."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge.config import load_deployment
from edge.frontend import features
from edge.pipeline import prepare
from tests.support.data import DEPLOYMENTS
from training.datasets import Dataset, build_annotated, build_clips
from training.synth import synth_recording
from training.types import TrainConfigError

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
