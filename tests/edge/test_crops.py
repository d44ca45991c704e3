"""The crop policy: which windows of an ROI are scored and how their labels become detections."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.crops import (
    CENTRE,
    CropPolicy,
    Label,
    combine,
    crop_starts,
    policy_of_card,
    span,
    window_frames,
    window_start,
)
from edge.errors import BundleError
from edge.types import Roi

HOP = 0.032
N = 62  # about 2 s
SCAN = CropPolicy("scan", 1.0)


def roi(start: float, end: float) -> Roi:
    return Roi(start, end, 50.0, 250.0, 12.0, 110.0)


@pytest.mark.parametrize("r", [roi(10.0, 10.5), roi(10.0, 11.9), roi(3.0, 3.0 + N * HOP)])
def test_an_roi_no_longer_than_the_window_gets_the_centred_window_under_both_policies(r):
    assert crop_starts(r, N, HOP, SCAN) == crop_starts(r, N, HOP, CENTRE) == [window_start(r, N, HOP)]


@pytest.mark.parametrize("excess", [1e-13, 1e-11, 5e-10])
def test_an_roi_longer_than_the_window_by_a_rounding_error_gets_one_window(excess):
    """GSC_2000-05-23_00-15-00.wav: an ROI 1e-9 scan hops longer than the window divided by zero."""
    r = roi(3.0, 3.0 + N * HOP + excess)
    assert crop_starts(r, N, HOP, SCAN) == [window_start(r, N, HOP)]


@pytest.mark.parametrize("length,hop", [(7.4, 1.0), (7.4, 0.5), (2.5, 1.0), (9.93, 0.7)])
def test_a_long_roi_is_scanned_from_its_start_to_its_end_at_most_a_hop_apart(length, hop):
    r = roi(100.0, 100.0 + length)
    starts = crop_starts(r, N, HOP, CropPolicy("scan", hop))
    assert starts[0] == round(100.0 / HOP)
    assert starts[-1] + N == round((100.0 + length) / HOP)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert gaps and all(0 < g <= round(hop / HOP) + 1 for g in gaps)
    assert len(starts) == -(-round((length - N * HOP) * 1000) // round(hop * 1000)) + 1
    assert crop_starts(r, N, HOP, CENTRE) == [window_start(r, N, HOP)]


def test_one_window_passes_its_labels_through_spanning_the_roi():
    labels = [Label("upcall", 0.7), Label("whistle", 0.6, "w")]
    r = roi(1.0, 1.5)
    assert combine(r, [5], N, HOP, [labels]) == labels
    assert span(labels[0], r) == (1.0, 1.5)


def test_runs_of_windows_keeping_a_label_become_one_detection_each():
    r = roi(100.0, 107.4)
    starts = crop_starts(r, N, HOP, SCAN)
    assert len(starts) == 7
    up = lambda s: [Label("upcall", s)]  # noqa: E731
    per = [up(0.6), up(0.9), [], [], up(0.55), up(0.8), up(0.7)]
    got = combine(r, starts, N, HOP, per)
    assert [(g.label, g.score) for g in got] == [("upcall", 0.9), ("upcall", 0.8)]
    assert got[0].start_s == 100.0 and got[0].end_s == pytest.approx((starts[1] + N) * HOP)
    assert got[1].start_s == pytest.approx(starts[4] * HOP) and got[1].end_s == 107.4  # clipped to the ROI
    assert combine(r, starts, N, HOP, [[] for _ in starts]) == []


def test_heads_and_labels_are_combined_separately():
    r = roi(0.0, 4.0)
    starts = crop_starts(r, N, HOP, SCAN)
    per = [[Label("a", 0.6, "h1"), Label("b", 0.7, "h2")], [Label("b", 0.9, "h2")], [Label("a", 0.8, "h1")]]
    got = combine(r, starts, N, HOP, per[: len(starts)])
    assert sorted((g.head, g.label, g.score) for g in got) == [("h1", "a", 0.6), ("h1", "a", 0.8), ("h2", "b", 0.9)]


def test_the_card_names_the_policy_and_an_absent_crop_is_centre():
    assert policy_of_card({"n_frames": 62}, "card.yaml") == CENTRE
    assert policy_of_card({"crop": "scan", "scan_hop_s": 0.5}, "card.yaml") == CropPolicy("scan", 0.5)
    assert CropPolicy("scan", 0.5).as_card() == {"crop": "scan", "scan_hop_s": 0.5}
    assert CENTRE.as_card() == {"crop": "centre"}
    with pytest.raises(BundleError, match=r"card.yaml: window: crop='middle' is not one of centre, scan"):
        policy_of_card({"crop": "middle"}, "card.yaml")
    with pytest.raises(BundleError, match="scan_hop_s=0"):
        policy_of_card({"crop": "scan", "scan_hop_s": 0}, "card.yaml")


def test_the_card_names_the_padding_and_an_absent_pad_is_edge():
    assert CENTRE.pad == "edge" and "pad" not in CENTRE.as_card()  # cards before it stay as they were
    looped = CropPolicy(pad="loop")
    assert looped.as_card() == {"crop": "centre", "pad": "loop"}
    assert policy_of_card(looped.as_card(), "card.yaml") == looped
    assert policy_of_card({"crop": "scan", "scan_hop_s": 0.5, "pad": "loop"}, "c") == CropPolicy("scan", 0.5, "loop")
    with pytest.raises(BundleError, match=r"card.yaml: window: pad='zeros' is not one of edge, loop"):
        policy_of_card({"pad": "zeros"}, "card.yaml")


def test_a_recording_shorter_than_the_window_is_padded_by_its_edge_frames_or_looped():
    assert window_frames([0], 7, 3).tolist() == [[0, 1, 2, 2, 2, 2, 2]]
    assert window_frames([-2], 7, 3).tolist() == [[0, 0, 0, 1, 2, 2, 2]]
    assert window_frames([0], 7, 3, "loop").tolist() == [[0, 1, 2, 0, 1, 2, 0]]
    # a clip placed at an offset (training) rotates the loop
    assert window_frames([-2], 7, 3, "loop").tolist() == [[1, 2, 0, 1, 2, 0, 1]]
    assert window_frames([0], 3, 1, "loop").tolist() == [[0, 0, 0]]


@pytest.mark.parametrize("pad", ["edge", "loop"])
def test_windows_of_a_recording_at_least_a_window_long_repeat_its_edge_frames_whatever_the_padding(pad):
    # a call near a long recording's end is padded by its last frame, never by its first second
    got = window_frames([0, 3, 6], 5, 8, pad)
    assert got.tolist() == [[0, 1, 2, 3, 4], [3, 4, 5, 6, 7], [6, 7, 7, 7, 7]]
    assert got.dtype == np.int64


@settings(derandomize=True, max_examples=400, deadline=None)
@given(
    start=st.floats(0.0, 3600.0),
    excess=st.one_of(st.floats(-1e-6, 1e-6), st.floats(-0.5, 9.0)),
    hop=st.sampled_from([0.25, 0.5, 0.7, 1.0, 1.5]),
    n=st.sampled_from([31, 62, 63]),
)
def test_any_roi_length_near_or_past_the_window_gets_windows_covering_it(start, excess, hop, n):
    """Every ROI length around the window length and the scan hops gives finite, ordered
    windows that start at the ROI's start and reach its end (never a NaN or a division by zero)."""
    length = max(n * HOP + excess, 0.01)
    r = roi(start, start + length)
    starts = crop_starts(r, n, HOP, CropPolicy("scan", hop))
    assert starts and all(isinstance(s, int) for s in starts) and starts == sorted(starts)
    if len(starts) == 1:
        assert starts == [window_start(r, n, HOP)]
        assert length <= n * HOP + hop  # one window was enough
    else:
        assert starts[0] == round(start / HOP) and abs((starts[-1] + n) * HOP - (start + length)) <= HOP
        assert all(0 < b - a <= round(hop / HOP) + 1 for a, b in zip(starts, starts[1:]))
