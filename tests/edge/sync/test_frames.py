"""The frame codec: the documented test vector, round trips within the documented
quantisation (Hypothesis), the byte budget, and a decoder that never accepts what was not
sealed under the deployment's key."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.sync import frames as fr
from edge.sync import identity as ident
from edge.sync.frames import FrameError, KeyRing, decode, pack_all, pack_records, pack_tally, tallies
from edge.types import Detection
from tests.support.data import ROOT
from tests.support.telemetry import (
    assert_within_quantisation,
    make_detections,
)

KEY = bytes(range(32))
RING = KeyRing({"demo-buoy": KEY, "buoy-1": KEY, "other": bytes(32)})
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def vector_detections():
    d = lambda t, s, e, lo, hi, label, score, snr, lev: Detection(  # noqa: E731
        "a.wav", 0, t, s, e, lo, hi, label, score, snr, lev, deployment="demo-buoy"
    )
    return [
        d("2026-03-28T12:00:01.250Z", 1.25, 2.05, 62.0, 180.0, "upcall", 0.91, 18.5, 121.3),
        d("2026-03-28T12:00:09.900Z", 9.9, 10.8, 70.5, 190.0, "upcall", 0.77, 12.0, 118.0),
        d("2026-03-28T12:01:30.000Z", 90.0, 91.0, 20.0, 40.0, "gunshot", 0.6, 25.5, 140.25),
    ]


def test_documented_test_vector():
    doc = (ROOT / "docs" / "reference" / "frames.md").read_text()
    documented = re.search(r"Frame \(64 bytes, hex\):\s+```\s+([0-9a-f]+)", doc).group(1)
    frame, n = pack_records(list(enumerate(vector_detections(), 41)), deployment="demo-buoy", key=KEY, frame_seq=7)
    assert n == 3 and frame.hex() == documented
    got = decode(frame, RING)
    assert (got.deployment, got.seq, [r.seq for r in got.records]) == ("demo-buoy", 7, [41, 42, 43])
    assert [r.time_s % 86400 for r in got.records] == pytest.approx([43201.2, 43209.9, 43290.0])
    assert [r.received_level_db for r in got.records] == [121.5, 118.0, 140.0]


T0 = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
detection = st.builds(
    lambda t, dur, lo, bw, label, score, snr, lev, utc, train: Detection(
        "f.wav",
        0,
        (T0 + dt.timedelta(milliseconds=t)).isoformat(timespec="milliseconds").replace("+00:00", "Z") if utc else "",
        round(t / 1000 % 900, 3),
        round(t / 1000 % 900 + dur, 3),
        lo,
        lo + bw,
        label,
        score,
        snr,
        lev,
        deployment="buoy-1",
        clicks=train[0],
        ici_s=train[1],
    ),
    st.integers(0, 10**11),
    st.floats(0, 60),
    st.floats(10, 40000),
    st.floats(0, 20000),
    st.sampled_from(["upcall", "gunshot", "roi", "whistle-ä"]),
    st.floats(0, 1),
    st.floats(0, 63),
    st.floats(40, 167),
    st.booleans(),
    # most records are tonal; a click train has its count and median ICI (NaN for one click)
    st.one_of(
        st.just((0, float("nan"))),
        st.just((0, float("nan"))),
        st.tuples(st.integers(1, 100_000), st.floats(0.0005, 30) | st.just(float("nan"))),
    ),
)


@pytest.mark.slow
@SETTINGS
@given(
    st.lists(st.tuples(detection, st.sampled_from([1, 1, 1, 1, 2, 7, 300])), min_size=1, max_size=120),
    st.integers(60, 1000),
    st.integers(1, 2**32 - 40000),
)
def test_round_trip_within_quantisation_and_budget(dets, max_bytes, first_seq):
    """Log sequences with gaps (records left out by a threshold) round-trip too."""
    seqs = [first_seq + sum(step for _, step in dets[: i + 1]) for i in range(len(dets))]
    records = list(zip(seqs, (d for d, _ in dets)))
    frames = pack_all(records, deployment="buoy-1", key=KEY, first_frame_seq=first_seq, max_bytes=max_bytes)
    got = []
    for i, frame in enumerate(frames):
        assert len(frame) <= max_bytes
        decoded = decode(frame, RING)
        assert decoded.seq == first_seq + i
        assert (decoded.kind == fr.KIND_IDENTITY) == (i == 0)  # every detection here has the same identity
        got += decoded.records
    assert [r.seq for r in got] == [s for s, _ in records]
    for (_, original), rec in zip(records, got):
        assert_within_quantisation(original, rec)


@SETTINGS
@given(st.binary(max_size=400))
def test_decoder_never_crashes_and_never_accepts_arbitrary_bytes(data):
    with pytest.raises(FrameError):
        decode(data, RING)


@SETTINGS
@given(st.data())
def test_any_flipped_bit_is_rejected(data):
    frame = pack_all(list(enumerate(make_detections(30), 1)), deployment="buoy-1", key=KEY)[0]
    bit = data.draw(st.integers(0, 8 * len(frame) - 1))
    flipped = bytearray(frame)
    flipped[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(FrameError):
        decode(bytes(flipped), RING)


def test_another_deployments_key_and_unknown_deployment_are_rejected():
    records = list(enumerate(make_detections(5), 1))
    forged = pack_all(records, deployment="buoy-1", key=bytes(32))[0]
    with pytest.raises(FrameError, match="authentication failed"):
        decode(forged, RING)
    with pytest.raises(FrameError, match="unknown deployment"):
        decode(pack_all(records, deployment="nobody", key=KEY)[0], RING)


def test_a_day_of_detections_fits_in_30_sbd_messages():
    dets = make_detections(1000)
    frames = pack_all(list(enumerate(dets, 1)), deployment="buoy-1", key=KEY)
    assert max(map(len, frames)) <= fr.SBD_MO_BYTES
    assert len(frames) <= 30
    assert sum(map(len, frames)) / len(dets) <= 9  # scores and two labels; ROI-only NARW: ~6.5


def test_one_record_larger_than_the_budget_is_an_error():
    with pytest.raises(FrameError, match="max_bytes=20"):
        pack_records([(1, make_detections(1)[0])], deployment="buoy-1", key=KEY, frame_seq=1, max_bytes=20)


def test_frames_break_where_the_channel_or_time_reference_changes():
    dets = make_detections(6)
    dets[3] = Detection(**{**dets[3].__dict__, "start_utc": ""})
    frames = pack_all(list(enumerate(dets, 1)), deployment="buoy-1", key=KEY)
    assert [len(decode(f, RING).records) for f in frames] == [0, 3, 1, 2]  # the identity frame first
    frames = frames[1:]
    assert decode(frames[1], RING).records[0].detection("buoy-1").start_utc == ""


def test_tallies_round_trip():
    dets = make_detections(200)
    ts = tallies(dets, 7200)
    assert sum(c for t in ts for _, c in t.counts) == 200
    for i, t in enumerate(ts):
        assert decode(pack_tally(t, deployment="buoy-1", key=KEY, frame_seq=i + 1), RING).tally == t


@SETTINGS
@given(st.sampled_from([fr.KIND_RECORDS, fr.KIND_TALLIES, fr.KIND_IDENTITY]), st.binary(max_size=330))
def test_parser_on_arbitrary_authenticated_bodies_raises_only_frame_errors(kind, body):
    """A correctly keyed frame with a garbage body (a buggy or hostile packer) is refused with
    FrameError, never a crash: the body parser is as strict as the tag check."""
    data = fr.seal(kind, "buoy-1", 1, body, KEY)
    try:
        decoded = decode(data, RING)
    except FrameError:
        return
    assert decoded.records or decoded.tally is not None or decoded.identity is not None  # happens to be well formed


def test_documented_identity_vector():
    doc = (ROOT / "docs" / "reference" / "frames.md").read_text()
    documented = re.search(r"Identity frame \((\d+) bytes, hex\):.*?```\s+([0-9a-f]+)", doc, re.S)
    who = ident.Identity("narw-cnn@5f1c2a9e", "0123456789abcdef", "ST6872", -177.6, "0.1.0")
    frame = fr.pack_identity(ident.IdentityFrame(who, 41, 1774699200), deployment="demo-buoy", key=KEY, frame_seq=6)
    assert frame.hex() == documented.group(2) and len(frame) == int(documented.group(1))
    assert decode(frame, RING).identity == ident.IdentityFrame(who, 41, 1774699200)


@SETTINGS
@given(
    st.text(max_size=60),
    st.text(max_size=60),
    st.text(max_size=40),
    st.none() | st.floats(-327, 327),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**35 - 1),
    st.integers(0, 6),
    st.integers(0, 10**9),
)
@pytest.mark.slow
def test_identity_round_trip(model, config_hash, hydrophone, cal, time_s, from_seq, n_status, value):
    cal = None if cal is None else round(cal, 2)
    status = tuple((name, value + i) for i, name in enumerate(ident.STATUS_FIELDS[:n_status]))
    frame = ident.IdentityFrame(ident.Identity(model, config_hash, hydrophone, cal, "0.1.0"), from_seq, time_s, status)
    got = decode(fr.pack_identity(frame, deployment="buoy-1", key=KEY, frame_seq=3, max_bytes=400), RING).identity
    assert got == frame


def test_frequencies_keep_the_documented_relative_error_down_to_10_hz():
    """1/32 octave: the decoded frequency is within 2^(1/64) - 1 (1.09 %) of the original, at
    12 Hz as at 20 kHz (docs/reference/frames.md); rounding to 0.1 Hz once broke it below 50 Hz."""
    import numpy as np

    for hz in np.geomspace(10.0, 600_000.0, 20_000):
        got = fr._freq_value(fr._freq_code(float(hz)))
        assert abs(got - hz) / hz <= 2 ** (1 / 64) - 1 + 1.5e-5, (hz, got)  # + 5 significant digits


def test_a_value_past_the_varint_limit_is_refused_when_packing_not_when_decoding():
    """Varints are at most 5 bytes (< 2**35); the packer refuses more instead of writing a
    frame that shore would reject as malformed."""
    frame = ident.IdentityFrame(ident.Identity("m", "h", "", None, "0.1.0"), 2**35, 0)
    with pytest.raises(ValueError, match="does not fit a 5-byte varint"):
        fr.pack_identity(frame, deployment="buoy-1", key=KEY, frame_seq=3)
    ok = ident.IdentityFrame(ident.Identity("m", "h", "", None, "0.1.0"), 2**35 - 1, 0)
    assert decode(fr.pack_identity(ok, deployment="buoy-1", key=KEY, frame_seq=3), RING).identity == ok


def test_identity_runs_split_where_what_made_the_records_changes():
    import dataclasses

    dets = make_detections(10)
    dets[4:7] = [dataclasses.replace(d, calibration_db=176.2) for d in dets[4:7]]
    frames = [decode(f, RING) for f in pack_all(list(enumerate(dets, 1)), deployment="buoy-1", key=KEY)]
    runs = [(f.identity.from_seq, f.identity.identity.calibration_db) for f in frames if f.identity]
    assert runs == [(1, None), (5, 176.2), (8, None)]
    assert [r.seq for f in frames for r in f.records] == list(range(1, 11))


def test_click_trains_ride_in_a_flagged_frame_and_tonal_frames_stay_as_they_were():
    tonal = vector_detections()
    trains = [
        Detection(
            "b.wav",
            0,
            "2026-03-28T12:02:00.000Z",
            120.0,
            131.5,
            8000.0,
            11000.0,
            "sperm",
            0.88,
            22.0,
            171.0,
            deployment="demo-buoy",
            clicks=14,
            ici_s=0.845,
        ),
        Detection(
            "b.wav",
            0,
            "2026-03-28T12:03:00.000Z",
            180.0,
            180.1,
            9000.0,
            30000.0,
            "dolphin",
            0.7,
            9.5,
            150.0,
            deployment="demo-buoy",
            clicks=1,
            ici_s=float("nan"),
        ),
    ]
    frame, n = pack_records(list(enumerate(tonal + trains, 41)), deployment="demo-buoy", key=KEY, frame_seq=8)
    got = decode(frame, RING).records
    assert n == 5 and frame[9 + 4 + 1 + 1] & fr.FLAG_CLICKS  # after base time, seq varint, count
    assert [(r.clicks, r.ici_s == pytest.approx(0.845, rel=0.011)) for r in got[:4]] == [(0, False)] * 3 + [(14, True)]
    assert got[4].clicks == 1 and got[4].ici_s != got[4].ici_s  # one click: no interval
    assert got[3].detection("demo-buoy").clicks == 14
    # a frame of tonal records carries no click field: not a bit longer than before the flag existed
    plain, _ = pack_records(list(enumerate(tonal, 41)), deployment="demo-buoy", key=KEY, frame_seq=7)
    assert not plain[9 + 4 + 1 + 1] & fr.FLAG_CLICKS and len(plain) == 64


def test_a_click_flag_without_a_click_train_is_malformed():
    records = list(enumerate(vector_detections(), 41))
    qs = [fr._quantise(seq, d, fr._base_time(records[0][1])) for seq, d in records]
    body = fr._encode_records(qs, fr._base_time(records[0][1]), fr.FLAG_SCORES | fr.FLAG_CLICKS, 0)
    frame = fr.seal(fr.KIND_RECORDS, "demo-buoy", 9, body, KEY)
    with pytest.raises(FrameError, match="click-train flag") as err:
        decode(frame, RING)
    assert err.value.reason == fr.MALFORMED
