"""The outbox: frames committed with their cursor, priorities, the daily budget, backoff
after a failed session, and a queue that survives a restart."""

from __future__ import annotations

from edge.log import DetectionLog
from edge.sync import frames as fr
from edge.sync.outbox import MIN_BACKOFF_S, Outbox, OutboxSettings
from tests.support.telemetry import make_detections

KEY = bytes(range(32))


class Clock:
    def __init__(self, t: float = 1_774_656_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_fill_packs_each_record_once_and_queue_survives_restart(tmp_path):
    clock = Clock()
    path = tmp_path / "log.sqlite"
    with DetectionLog(path) as log:
        log.append(make_detections(120))
        box = Outbox(log, {"buoy-1": KEY}, clock=clock)
        made = box.fill()
        assert made >= 3 and box.fill() == 0
        first = box.next_frame()
        box.acked(first)
    with DetectionLog(path) as log:  # restarted
        box = Outbox(log, {"buoy-1": KEY}, clock=clock)
        log.append(make_detections(10, seed=9))
        assert box.fill() == 1
        ring = fr.KeyRing({"buoy-1": KEY})
        seqs, frames = [], []
        while (frame := box.next_frame()) is not None:
            frames.append(frame.frame_seq)
            seqs += [r.seq for r in fr.decode(frame.data, ring).records]
            box.acked(frame)
        assert frames == list(range(2, made + 2))
        assert seqs[0] == len(fr.decode(first.data, ring).records) + 1 and seqs[-1] == 130
        assert box.status()["frames_pending"] == 0


def test_tallies_then_species_of_concern_first(tmp_path):
    with DetectionLog(tmp_path / "log.sqlite") as log:
        dets = make_detections(200, labels=("humpback",))
        dets[150] = dets[150].__class__(**{**dets[150].__dict__, "label": "right-whale"})
        log.append(dets)
        box = Outbox(log, {"buoy-1": KEY}, settings=OutboxSettings(concern=("right-whale",)), clock=Clock())
        box.fill()
        tally = fr.tallies(dets, 86400)[0]
        box.add_tally("buoy-1", tally)
        ring = fr.KeyRing({"buoy-1": KEY})
        first = box.next_frame()  # the identity frame, queued by the first fill
        assert fr.decode(first.data, ring).identity.from_seq == 1
        box.acked(first)
        first = box.next_frame()
        assert fr.decode(first.data, ring).tally == tally
        box.acked(first)
        second = fr.decode(box.next_frame().data, ring)
        assert "right-whale" in {r.label for r in second.records}


def test_backoff_after_a_failed_session_and_daily_budget(tmp_path):
    clock = Clock()
    with DetectionLog(tmp_path / "log.sqlite") as log:
        log.append(make_detections(300))
        box = Outbox(log, {"buoy-1": KEY}, settings=OutboxSettings(daily_bytes=1000), clock=clock)
        box.fill()
        frame = box.next_frame()
        until = box.failed(frame)
        assert until - clock.t == MIN_BACKOFF_S and box.next_frame() is None
        clock.t += 59
        assert box.next_frame() is None
        clock.t += 1
        assert box.next_frame() == frame.__class__(**{**frame.__dict__, "attempts": 1})
        assert box.failed(frame) - clock.t == 2 * MIN_BACKOFF_S  # doubles
        clock.t += 120
        sent = 0
        while (f := box.next_frame()) is not None:
            box.acked(f)
            sent += len(f.data)
        assert 0 < sent <= 1000 and box.status()["frames_pending"] > 0  # the rest waits for tomorrow
        clock.t += 86400
        assert box.next_frame() is not None


def test_tallies_of_ended_periods_and_credit_budget(tmp_path):
    clock = Clock()
    with DetectionLog(tmp_path / "log.sqlite") as log:
        dets = make_detections(500)  # about 12 hours from 00:00 UTC on 2026-03-28
        log.append(dets)
        settings = OutboxSettings(tally_period_s=7200, daily_credits=20)
        box = Outbox(log, {"buoy-1": KEY}, settings=settings, clock=clock)
        clock.t = fr.utc_seconds(dets[-1].start_utc) - 3600  # the last period is still open
        box.fill()
        ring = fr.KeyRing({"buoy-1": KEY})
        sent = []
        while (f := box.next_frame()) is not None:
            sent.append(fr.decode(f.data, ring))
            box.acked(f)
        assert box.status()["credits_today"] <= 20
        tallies = [d.tally for d in sent if d.kind == fr.KIND_TALLIES]
        assert [d.kind for d in sent[:2]] == [fr.KIND_IDENTITY, fr.KIND_TALLIES] and [
            t.start_s % 86400 for t in tallies
        ] == [0, 7200, 14400, 21600, 28800]
        expected = fr.tallies([d for d in dets if fr.utc_seconds(d.start_utc) < tallies[-1].start_s + 7200], 7200)
        assert tallies == expected
        clock.t += 86400  # the next day: the last period has ended, and credits are fresh
        box.fill()
        rest = []
        while (f := box.next_frame()) is not None:
            rest.append(fr.decode(f.data, ring))
            box.acked(f)
        assert [d.tally for d in rest if d.kind == fr.KIND_TALLIES][0].start_s % 86400 == 36000


def drain(box, ring):
    out = []
    while (f := box.next_frame()) is not None:
        out.append(fr.decode(f.data, ring))
        box.acked(f)
    return out


def test_identity_frame_first_and_whenever_the_identity_changes(tmp_path):
    import dataclasses

    dets = make_detections(90)
    dets[40:] = [
        dataclasses.replace(d, model="narw-cnn@1a2b3c", hydrophone="ST6872", calibration_db=-177.6) for d in dets[40:]
    ]
    ring = fr.KeyRing({"buoy-1": KEY})
    with DetectionLog(tmp_path / "log.sqlite") as log:
        log.append(dets[:60])
        box = Outbox(log, {"buoy-1": KEY}, clock=Clock())
        box.fill()
        sent = drain(box, ring)
        log.append(dets[60:])  # same identity as the last run: no new identity frame
        box.fill()
        sent += drain(box, ring)
    idents = [d.identity for d in sent if d.kind == fr.KIND_IDENTITY]
    assert [(i.from_seq, i.identity.model, i.identity.calibration_db) for i in idents] == [
        (1, "", None),
        (41, "narw-cnn@1a2b3c", -177.6),
    ]
    assert idents[0].identity.config_hash == "0123456789abcdef" and idents[1].identity.hydrophone == "ST6872"
    assert sent[0].kind == fr.KIND_IDENTITY  # before any record
    assert sorted(r.seq for d in sent for r in d.records) == list(range(1, 91))


def test_threshold_override_decides_which_records_are_sent(tmp_path):
    from edge.sync.commands import CommandHandler, pack_command, threshold_overrides

    dets = make_detections(300)
    ring = fr.KeyRing({"buoy-1": KEY})
    with DetectionLog(tmp_path / "log.sqlite") as log:
        assert threshold_overrides(log) == {}  # no command ever handled
        handler = CommandHandler(log.conn, "buoy-1", KEY)
        handler.handle(
            pack_command(
                {"cmd": "set_threshold", "label": "upcall", "value": 0.8}, deployment="buoy-1", key=KEY, frame_seq=1
            )
        )
        log.append(dets)
        box = Outbox(log, {"buoy-1": KEY}, clock=Clock())
        box.fill()
        got = {r.seq: r for d in drain(box, ring) for r in d.records}
    assert threshold_overrides(tmp_path / "log.sqlite") == {"upcall": 0.8}  # what a classifier run reads
    kept = [i for i, d in enumerate(dets, 1) if d.label != "upcall" or d.score >= 0.8]
    assert sorted(got) == kept and len(kept) < len(dets)
    assert all(got[i].label == dets[i - 1].label for i in kept)  # gaps are carried, seqs stay right
