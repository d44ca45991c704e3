"""Classification in the pipeline: windows as training takes them, streamed with bounded
memory, thresholds and site rules, multi-output heads, the classify limit."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from edge.calibration import HydrophoneTable
from edge.classify import crop, load_classifier, window_start
from edge.config import LabelRule, ModelRules, ModelSettings, load_deployment
from edge.crops import crop_starts, span
from edge.frontend import features
from edge.pipeline import ROI_LABEL, Chain, prepare, process_recording
from edge.roi import StreamingRoiDetector
from tests.support.bundles import multi, scanning, single
from tests.support.data import DEPLOYMENTS
from tests.support.signals import SR, long_events, upcalls


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return single(tmp_path_factory)


@pytest.fixture(scope="module")
def config():
    return load_deployment(DEPLOYMENTS / "narw-upcall.yaml")


@pytest.fixture(scope="module")
def table(config):
    return HydrophoneTable.load(config.table_path())


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    import soundfile as sf

    path = tmp_path_factory.mktemp("rec") / "calls.wav"
    sf.write(str(path), upcalls(150.0, 24, seed=3), SR, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory):
    import soundfile as sf

    path = tmp_path_factory.mktemp("rec") / "long.wav"
    sf.write(str(path), long_events(120.0, seed=5), SR, subtype="PCM_16")
    return path


def whole_file_labels(path, config, table, classifier):
    """The reference: every frame's features at once, each ROI's crop, one batch."""
    prep = prepare(path, config, table)
    frontend = prep.frontend()
    detector = StreamingRoiDetector(config.roi, prep.spec)
    psd = np.concatenate([frontend.push(b).psd for b in prep.source().blocks()])
    from edge.types import SpectralFrames

    rois = detector.push(SpectralFrames(psd, 0)) + detector.flush()
    feats = features(prep.spec, psd)
    n = classifier.bundle.n_frames
    starts = [crop_starts(r, n, prep.spec.hop_s, classifier.policy) for r in rois]
    windows = [np.stack([crop(feats, s, n) for s in ss]) for ss in starts]
    return rois, classifier.classify_crops(rois, starts, windows)


def as_rows(detections):
    return [(round(d.start_s, 6), d.label, d.head, d.score) for d in detections]


def test_streaming_equals_whole_file_for_any_block_size(recording, config, table, tiny):
    classifier = load_classifier(replace(config, model=ModelSettings(bundle=str(tiny), thresholds={"upcall": 0.0})))
    rois, labels = whole_file_labels(recording, config, table, classifier)
    assert len(rois) >= 20
    assert rois[-1].end_s > 148.5  # its window reaches past the end
    expected = [(round(r.start_s, 6), lab.label, lab.head, lab.score) for r, ls in zip(rois, labels) for lab in ls]
    assert len(expected) == len(rois)  # threshold 0: one detection per ROI
    for block_s in (0.37, 7.0, 1000.0):
        res = process_recording(recording, config, table, block_s=block_s, classifier=classifier)
        assert as_rows(res.detections) == expected, block_s
        assert all(d.model == classifier.identity for d in res.detections)


@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_scanning_model_streams_as_the_whole_file_and_scans_only_long_rois(
    long_recording, config, table, tiny, tmp_path_factory, threshold
):
    """A card with crop: scan: ROIs longer than the window are scored on several windows,
    streamed in any block size as in one pass; shorter ROIs give the centred model's result."""
    scan = load_classifier(
        replace(config, model=ModelSettings(bundle=str(scanning(tmp_path_factory)), thresholds={"upcall": threshold}))
    )
    centre = load_classifier(replace(config, model=ModelSettings(bundle=str(tiny), thresholds={"upcall": threshold})))
    assert scan.policy.crop == "scan" and centre.policy.crop == "centre"
    window_s = scan.bundle.n_frames * scan.bundle.spec.hop_s
    rois, labels = whole_file_labels(long_recording, config, table, scan)
    long = [r for r in rois if r.end_s - r.start_s > window_s]
    assert len(long) >= 3 and max(r.end_s - r.start_s for r in long) > 3 * window_s
    expected = [
        (*(round(t, 6) for t in span(lab, r)), lab.label, lab.score) for r, ls in zip(rois, labels) for lab in ls
    ]
    for block_s in (0.37, 7.0, 1000.0):
        res = process_recording(long_recording, config, table, block_s=block_s, classifier=scan)
        assert [(round(d.start_s, 6), round(d.end_s, 6), d.label, d.score) for d in res.detections] == expected
    by_roi = dict(zip(rois, labels))
    _, centre_labels = whole_file_labels(long_recording, config, table, centre)
    for r, got in zip(rois, centre_labels):
        if r.end_s - r.start_s <= window_s:
            assert by_roi[r] == got
        else:
            assert all(r.start_s <= lab.start_s < lab.end_s <= r.end_s for lab in by_roi[r])
    if threshold == 0.0:  # every window keeps the label: one detection over the whole long ROI
        assert all([(lab.start_s, lab.end_s) for lab in by_roi[r]] == [(r.start_s, r.end_s)] for r in long)


def test_windows_at_both_ends_repeat_the_edge_frames(recording, config, table, tiny):
    """ROIs placed at the very start and end (the detector needs a noise floor first, so
    they are given here): the streamed windows equal the whole-file crops."""
    from edge.types import Roi, SpectralFrames

    classifier = load_classifier(replace(config, model=ModelSettings(bundle=str(tiny), thresholds={"upcall": 0.0})))
    prep = prepare(recording, config, table, block_s=2.0)
    frontend = prep.frontend()
    blocks = [frontend.push(b) for b in prep.source().blocks()]
    psd = np.concatenate([f.psd for f in blocks])
    end = len(psd) * prep.spec.hop_s
    rois = [Roi(0.0, 0.4, 50, 250, 20, 120), Roi(0.2, 2.9, 50, 250, 20, 120), Roi(end - 0.5, end, 50, 250, 20, 120)]
    n = classifier.bundle.n_frames
    feats = features(prep.spec, psd)
    starts = [window_start(r, n, prep.spec.hop_s) for r in rois]
    assert starts[0] < 0 and starts[2] + n > len(feats)
    expected = classifier.classify(rois, np.stack([crop(feats, s, n) for s in starts]))
    stream = classifier.stream(prep.spec)
    for i, frames in enumerate(blocks):
        stream.push(frames, rois[:2] if i == 0 else [], 0)
    stream.push(SpectralFrames(np.zeros((0, prep.spec.n_bins), np.float32), 0), rois[2:], 0)
    assert stream.finish() == expected


def test_feature_buffer_stays_bounded(config, table, tiny, tmp_path):
    """Ten minutes of calls streamed in 1-s blocks: the buffer holds about a window plus the
    longest open event, not the recording."""
    import soundfile as sf

    classifier = load_classifier(replace(config, model=ModelSettings(bundle=str(tiny))))
    path = tmp_path / "long.wav"
    sf.write(str(path), upcalls(600.0, 90, seed=8), SR, subtype="PCM_16")
    prep = prepare(path, config, table, block_s=1.0)
    chain = Chain(prep, config, classifier=classifier)
    most = 0

    def watch(chain: Chain) -> bool:  # after each block
        nonlocal most
        most = max(most, chain.stream.buffered_frames)
        return False

    assert chain.run(stop=watch).completed
    event_frames = config.roi.max_duration_s / prep.spec.hop_s
    assert most < classifier.bundle.n_frames + event_frames + chain.detector.segment_frames + 2 * 32  # 1-s block
    assert most < 0.05 * 600 / prep.spec.hop_s


def scores_of(recording, config, table, tiny):
    classifier = load_classifier(replace(config, model=ModelSettings(bundle=str(tiny), thresholds={"upcall": 0.0})))
    res = process_recording(recording, config, table, classifier=classifier)
    return res.rois, [d.score for d in res.detections]


def test_thresholds_from_card_overridden_by_deployment(recording, config, table, tiny):
    rois, scores = scores_of(recording, config, table, tiny)
    cut = float(np.median(scores))
    for thresholds, expect in (
        ({}, sum(s >= 0.5 for s in scores)),  # the card's 0.5
        ({"upcall": cut}, sum(s >= cut for s in scores)),
        ({"upcall": 1.0}, sum(s >= 1.0 for s in scores)),
    ):
        classifier = load_classifier(replace(config, model=ModelSettings(bundle=str(tiny), thresholds=thresholds)))
        res = process_recording(recording, config, table, classifier=classifier)
        assert len(res.detections) == expect, thresholds
        assert len(res.rois) == len(rois)
    assert 0 < sum(s >= cut for s in scores) < len(scores)


def test_site_rules_filter_detections(recording, config, table, tiny):
    rois, scores = scores_of(recording, config, table, tiny)
    snr_cut = float(np.median([r.snr_db for r in rois]))
    band = (150.0, 400.0)
    cases = [
        (ModelRules(ignore=("upcall",)), []),
        (ModelRules(labels={"upcall": LabelRule(min_snr_db=snr_cut)}), [r for r in rois if r.snr_db >= snr_cut]),
        (
            ModelRules(labels={"upcall": LabelRule(band_hz=band)}),
            [r for r in rois if r.high_hz >= band[0] and r.low_hz <= band[1]],
        ),
        (ModelRules(labels={"upcall": LabelRule(min_received_level_db=1e9)}), []),
    ]
    for rules, kept in cases:
        classifier = load_classifier(
            replace(config, model=ModelSettings(bundle=str(tiny), thresholds={"upcall": 0.0}, rules=rules))
        )
        res = process_recording(recording, config, table, classifier=classifier)
        assert [d.start_s for d in res.detections] == [r.start_s for r in kept], rules
    assert 0 < len(cases[1][1]) < len(rois)


def test_classify_limit_keeps_the_strongest(recording, config, table, tiny):
    classifier = load_classifier(
        replace(config, model=ModelSettings(bundle=str(tiny), thresholds={"upcall": 0.0}, batch_size=4))
    )
    full = process_recording(recording, config, table, classifier=classifier)
    limited = process_recording(recording, config, table, classifier=classifier, classify_limit=5, block_s=3.0)
    strongest = sorted(range(len(full.rois)), key=lambda i: (-full.rois[i].snr_db, i))[:5]
    assert len(limited.detections) == len(full.rois)
    for i, d in enumerate(limited.detections):
        if i in strongest:
            assert (d.label, d.score, d.model) == (
                full.detections[i].label,
                full.detections[i].score,
                classifier.identity,
            )
        else:
            assert d.label == ROI_LABEL and np.isnan(d.score) and d.model == ""


def whistles(seconds: float, sr: int, calls: int, seed: int) -> np.ndarray:
    """White noise with ``calls`` 0.5-s whistles sweeping 3 -> 6 kHz."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.01, int(seconds * sr))
    t = np.arange(sr // 2) / sr
    sweep = np.sin(2 * np.pi * (3000 * t + 3000 * t**2)) * np.hanning(len(t))
    for s in np.linspace(3.0, seconds - 1.0, calls):
        i = int(s * sr)
        x[i : i + len(t)] += 0.2 * sweep
    return x.astype(np.float32)


def test_multi_output_gives_one_detection_per_head(tmp_path_factory, tmp_path):
    import soundfile as sf

    bundle, deployment = multi(tmp_path_factory)
    config = load_deployment(deployment)
    path = tmp_path / "beluga.wav"
    sf.write(str(path), whistles(30.0, 32000, 8, seed=2), 32000, subtype="PCM_16")
    everything = {"whistle": 0.0, "hf_pulsed": 0.0}
    classifier = load_classifier(replace(config, model=ModelSettings(bundle=str(bundle), thresholds=everything)))
    res = process_recording(path, config, None, classifier=classifier)
    assert len(res.rois) >= 6
    assert len(res.detections) == 2 * len(res.rois)
    first = res.detections[:2]  # one ROI, a detection per head, in the card's output order
    assert first[0].start_s == first[1].start_s
    assert {(d.head, d.label) for d in first} == {("whistle", "whistle"), ("hf_call", "hf_pulsed")}
    assert {d.label for d in res.detections} == {"whistle", "hf_pulsed"}  # never a head's "none"
    cut = replace(config, model=ModelSettings(bundle=str(bundle), thresholds={"whistle": 0.0, "hf_pulsed": 1.0}))
    res = process_recording(path, config, None, classifier=load_classifier(cut))
    assert {d.head for d in res.detections} == {"whistle"} and len(res.detections) == len(res.rois)


def test_a_failure_classifying_one_roi_costs_only_its_label(config, table, tiny, recording, monkeypatch):
    """A backend error on one ROI's windows: that ROI stays an ROI-only record with a warning
    naming the file and time; every other ROI keeps the labels an undisturbed run gives."""
    classifier = load_classifier(replace(config, model=ModelSettings(bundle=str(tiny), thresholds={"upcall": 0.0})))
    good = process_recording(recording, config, table, classifier=classifier)
    bad = good.rois[len(good.rois) // 2]
    real = type(classifier).classify_crops

    def flaky(self, rois, starts, windows, sink=None):
        if any(r == bad for r in rois):
            raise RuntimeError("onnxruntime: simulated kernel failure")
        return real(self, rois, starts, windows, sink)

    monkeypatch.setattr(type(classifier), "classify_crops", flaky)
    res = process_recording(recording, config, table, classifier=classifier)
    assert res.rois == good.rois
    kept = [d for d in res.detections if (d.start_s, d.end_s) != (bad.start_s, bad.end_s) or d.label != ROI_LABEL]
    assert repr(kept) == repr([d for d in good.detections if not (bad.start_s <= d.start_s < bad.end_s)])
    (roi_only,) = [d for d in res.detections if d.label == ROI_LABEL]
    assert (roi_only.start_s, roi_only.end_s) == (bad.start_s, bad.end_s)
    (warning,) = [w for w in res.warnings if "classifying" in w]
    assert str(recording) in warning and f"{bad.start_s:.2f}" in warning and "simulated kernel failure" in warning
