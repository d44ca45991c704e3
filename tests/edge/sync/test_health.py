"""Health frames (kind 4): the documented test vector, round trips within the documented
quantisation (Hypothesis), absent sensors, strict decoding, and the outbox reading the buoy
daemon's health table (priority, hold, acknowledged rows never re-sent, restarts)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.sync import frames as fr
from edge.sync import health as hl
from edge.sync.frames import FrameError, KeyRing, decode, pack_all_health, pack_health
from tests.support.data import ROOT

KEY = bytes(range(32))
RING = KeyRing({"demo-buoy": KEY, "buoy-1": KEY})
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
T0 = 1774699200  # 2026-03-28T12:00:00Z


def vector_rows():
    return [
        hl.HealthRow(1, T0, "start", "full", 0.4, 0, 0, 0, 0, 0, 0, 0, None, None, None, 28000.5, 0.0, 48.3, None),
        hl.HealthRow(
            2, T0 + 600, "period", "full", 600.4, 600, 540, 60, 0, 2.5, 9, 4, 0.0, 96.4, 35.2, 27950, 12.3, 51.0, None
        ),
        hl.HealthRow(
            3,
            T0 + 1200,
            "level",
            "limited",
            1200.4,
            1260,
            900,
            360,
            0,
            2.5,
            15,
            4,
            0.02,
            101.7,
            0.9,
            27900,
            20.1,
            63.5,
            None,
        ),
    ]


def test_documented_health_vector():
    doc = (ROOT / "docs" / "reference" / "frames.md").read_text()
    found = re.search(r"Health frame \((\d+) bytes, hex\):.*?```\s+([0-9a-f]+)", doc, re.S)
    frame, n = pack_health(vector_rows(), deployment="demo-buoy", key=KEY, frame_seq=8)
    assert n == 3 and frame.hex() == found.group(2) and len(frame) == int(found.group(1))
    got = decode(frame, RING)
    assert (got.kind, got.seq, [r.seq for r in got.health]) == (fr.KIND_HEALTH, 8, [1, 2, 3])
    assert [r.utc for r in got.health] == ["2026-03-28T12:00:00Z", "2026-03-28T12:10:00Z", "2026-03-28T12:20:00Z"]
    assert [(r.event, r.level) for r in got.health] == [("start", "full"), ("period", "full"), ("level", "limited")]
    assert [r.gaps_s for r in got.health] == [0, 2, 2]  # 2.5 rounds half to even
    assert [r.battery_v for r in got.health] == [None] * 3 and got.health[0].clipped_pct is None
    assert [r.cpu_temp_c for r in got.health] == [48.5, 51.0, 63.5]


def assert_within_quantisation(want: hl.HealthRow, got: hl.HealthRow) -> None:
    assert (got.seq, got.time_s, got.files, got.detections) == (want.seq, want.time_s, want.files, want.detections)
    assert got.event == (want.event if want.event in hl.EVENTS else "other")
    assert got.level == (want.level if want.level in hl.LEVELS else "other")
    for name in ("uptime_s", "recorded_s", "processed_s", "backlog_s", "dropped_s", "gaps_s"):
        assert abs(getattr(got, name) - getattr(want, name)) <= 0.5 + 1e-9, name
    for name, kind, lo, step, bits in hl.GAUGES:
        value, decoded = getattr(want, name), getattr(got, name)
        if value is None:
            assert decoded is None, name
        elif kind == "log":
            hi = lo * 2 ** ((2**bits - 3) / step)
            if value <= 0:
                assert decoded == 0, name
            else:
                clamped = min(max(value, lo), hi)
                # half a step, then log_value's rounding to 5 significant digits
                assert abs(decoded - clamped) <= (2 ** (0.5 / step) - 1) * clamped * 1.0001 + 5e-5 * decoded, name
        else:
            clamped = min(max(value, lo), lo + (2**bits - 2) * step)
            assert abs(decoded - clamped) <= step / 2 + 1e-9, name


gauge = lambda lo, hi: st.none() | st.floats(lo, hi)  # noqa: E731
row_values = st.tuples(
    st.integers(0, 7200),
    st.sampled_from(hl.EVENTS + ("restart",)),
    st.sampled_from(hl.LEVELS + ("paused",)),
    st.floats(0, 1e6),
    st.floats(0, 8000),
    st.floats(0, 8000),
    st.floats(0, 1e5),
    st.floats(0, 500),
    st.floats(0, 100),
    st.integers(0, 200),
    st.integers(0, 2000),
    st.none() | st.just(0.0) | st.floats(1e-6, 150),
    gauge(-130, 200),
    st.none() | st.floats(0, 1e5),
    gauge(0, 4e6),
    gauge(0, 4e6),
    gauge(-50, 120),
    gauge(0, 60),
)


@pytest.mark.slow
@SETTINGS
@given(st.lists(row_values, min_size=1, max_size=80), st.integers(80, 1000), st.integers(1, 2**31))
def test_health_round_trip_within_quantisation_and_budget(values, max_bytes, first_seq):
    rows, t, totals = [], T0, [0.0] * 5 + [0, 0]
    for i, (step, event, level, uptime, rec, proc, backlog, drop, gap, files, dets, *gauges) in enumerate(values):
        t += step
        totals = [a + b for a, b in zip(totals, (rec, proc, drop, gap, 0, files, dets))]
        rows.append(
            hl.HealthRow(
                first_seq + i,
                t,
                event,
                level,
                uptime,
                totals[0],
                totals[1],
                backlog,
                totals[2],
                totals[3],
                totals[5],
                totals[6],
                *gauges,
            )
        )
    frames = pack_all_health(rows, deployment="buoy-1", key=KEY, first_frame_seq=7, max_bytes=max_bytes)
    got = []
    for i, frame in enumerate(frames):
        assert len(frame) <= max_bytes
        decoded = decode(frame, RING)
        assert (decoded.kind, decoded.seq) == (fr.KIND_HEALTH, 7 + i)
        got += decoded.health
    assert len(got) == len(rows)
    for want, row in zip(rows, got):
        assert_within_quantisation(want, row)


def test_a_frame_stops_at_a_sequence_gap_and_a_row_larger_than_the_budget_is_an_error():
    rows = vector_rows()
    rows[2] = hl.HealthRow(**{**rows[2].__dict__, "seq": 9})
    frames = pack_all_health(rows, deployment="buoy-1", key=KEY)
    assert [[r.seq for r in decode(f, RING).health] for f in frames] == [[1, 2], [9]]
    with pytest.raises(FrameError, match="max_bytes=30"):
        pack_health(rows, deployment="buoy-1", key=KEY, frame_seq=1, max_bytes=30)


@SETTINGS
@given(st.binary(max_size=300))
def test_health_parser_on_arbitrary_authenticated_bodies_raises_only_frame_errors(body):
    try:
        decoded = decode(fr.seal(fr.KIND_HEALTH, "buoy-1", 1, body, KEY), RING)
    except FrameError:
        return
    assert decoded.health  # happens to be well formed: then it re-encodes to the same body
    assert hl.encode(list(decoded.health)) == body


def test_reserved_event_codes_are_rejected():
    body = bytearray(hl.encode(vector_rows()[:1]))
    row_bytes = -(-(hl.EVENT_BITS + hl.LEVEL_BITS + sum(g[4] for g in hl.GAUGES)) // 8)
    body[-row_bytes] = (body[-row_bytes] & 0x1F) | (5 << 5)  # the row's first 3 bits: event code 5
    with pytest.raises(FrameError, match="reserved health event"):
        decode(fr.seal(fr.KIND_HEALTH, "buoy-1", 1, bytes(body), KEY), RING)


def test_a_log_written_by_edge_detect_has_no_health_rows(tmp_path):
    from edge.log import DetectionLog
    from tests.support.telemetry import make_detections

    with DetectionLog(tmp_path / "log.sqlite") as log:
        log.append(make_detections(3))
        assert hl.read(log.conn) == []


# --- the outbox over edge-run's health table ---------------------------------------------


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def health_record(i: int, event: str = "period", *, battery: float | None = None):
    """The i-th health record as edge-run makes it (every 600 s, 60 s files, 3 detections each)."""
    from edge.daemon.state import HealthRecord
    from edge.sync.quant import utc_text

    return HealthRecord(
        utc=utc_text(T0 + 600 * i),
        event=event,
        uptime_s=600.0 * i + 0.25,
        level="full",
        level_reason="",
        recorded_s=600.0 * i + 30,
        processed_s=600.0 * i,
        backlog_s=30.0,
        dropped_s=0.0,
        gaps_s=1.5 * i,
        clipped_pct=0.01 if i else None,
        noise_db=98.0 + i % 7,
        realtime_factor=40.0 + i if i else None,
        disk_free_mb=30000.0 - 3 * i,
        audio_mb=120.0,
        cpu_temp_c=None,
        battery_v=battery,
        files=10 * i,
        detections=3 * i,
    )


def drain(box):
    sent = []
    while (frame := box.next_frame()) is not None:
        sent.append(decode(frame.data, RING))
        box.acked(frame)
    return sent


def test_outbox_sends_health_rows_once_after_concern_before_other_records_and_survives_restart(tmp_path):
    from edge.daemon.state import DaemonLog
    from edge.sync.outbox import Outbox, OutboxSettings
    from tests.support.telemetry import make_detections

    path = tmp_path / "log.sqlite"
    clock = Clock(T0 + 86400)
    settings = OutboxSettings(concern=("upcall",), health_hold_s=0)
    with DaemonLog(path) as log:
        log.append(make_detections(40, labels=("upcall", "gunshot")) + make_detections(40, labels=("gunshot",), seed=3))
        for i in range(30):
            log.add_health(health_record(i, "start" if i == 0 else "period"))
        box = Outbox(log, {"buoy-1": KEY}, settings=settings, clock=clock)
        assert box.fill() > 0
        sent = drain(box)
        kinds = [f.kind for f in sent]
        health_at = [i for i, k in enumerate(kinds) if k == fr.KIND_HEALTH]
        records_at = [i for i, k in enumerate(kinds) if k == fr.KIND_RECORDS]
        assert kinds[0] == fr.KIND_IDENTITY and health_at and records_at
        # the concern frames (the first 40 records hold upcalls) come before health, the rest after
        assert records_at[0] < health_at[0] and health_at[-1] < records_at[-1]
        rows = hl.read(log.conn)
        assert [(r.utc, r.noise_db, r.files) for r in rows] == [(h.utc, h.noise_db, h.files) for h in log.health()]
        got = [r for f in sent for r in f.health]
        assert len(got) == 30
        for want, row in zip(rows, got):
            assert_within_quantisation(want, row)
    with DaemonLog(path) as log:  # restarted: acknowledged rows are not packed again
        for i in range(30, 33):
            log.add_health(health_record(i, battery=12.6))
        box = Outbox(log, {"buoy-1": KEY}, settings=settings, clock=clock)
        box.fill()
        assert box.fill() == 0
        later = [r for f in drain(box) for r in f.health]
        assert [r.seq for r in later] == [31, 32, 33] and [r.battery_v for r in later] == [12.6, 12.6, 12.6]


def test_health_rows_wait_for_company_unless_old_full_or_news(tmp_path):
    from edge.daemon.state import DaemonLog
    from edge.sync.outbox import Outbox, OutboxSettings

    clock = Clock(T0 + 600)
    with DaemonLog(tmp_path / "log.sqlite") as log:  # a quiet buoy: health rows and no detections at all
        log.add_health(health_record(0, "start"))
        box = Outbox(log, {"buoy-1": KEY}, settings=OutboxSettings(health_hold_s=3600), clock=clock)
        assert box.fill() == 1  # a start is news: sent at once
        log.add_health(health_record(1))
        log.add_health(health_record(2))
        clock.t = T0 + 1300
        assert box.fill() == 0  # the oldest waiting row is 700 s old
        assert box.status()["health_waiting"] == 2
        clock.t = T0 + 600 + 3600
        assert box.fill() == 1
        log.add_health(health_record(3, "level"))
        assert box.fill() == 1
        got = [[r.seq for r in f.health] for f in drain(box)]
        assert sorted(got) == [[1], [2, 3], [4]]


def test_a_log_gauge_half_a_step_off_decodes_within_the_step_and_five_digit_rounding():
    """1,451,135 MB sits half a 1/48-octave step below code 984, whose value rounds up to
    1,461,700 (5 significant digits): 0.728 % off, more than half a step alone (0.722 %)."""
    from edge.sync.quant import log_code, log_value

    value = 1451135.0
    decoded = log_value(log_code(value, 1.0, 48, 10), 1.0, 48, 10)
    assert decoded == 1461700.0
    assert abs(decoded - value) > (2 ** (0.5 / 48) - 1) * value * 1.0001
    assert abs(decoded - value) <= (2 ** (0.5 / 48) - 1) * value * 1.0001 + 5e-5 * decoded
