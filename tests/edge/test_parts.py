"""edge.parts: the committed per-recording results a resumed run takes as they are."""

from __future__ import annotations

import datetime as dt

import numpy as np

from edge.parts import Parts, source_identity
from edge.soundscape.types import Minute


def test_a_part_and_its_noise_state_come_back_as_saved_in_order(tmp_path):
    parts = Parts(tmp_path)
    rec = tmp_path / "a.wav"
    state = [np.full(3, float(i)) for i in range(12)]  # s10 and s11 sort before s2 as text
    parts.save(rec, {"file": str(rec), "status": "ok"}, state)
    part, loaded = parts.load(rec)
    assert part == {"file": str(rec), "status": "ok"}
    assert loaded is not None and [float(s[0]) for s in loaded] == [float(i) for i in range(12)]
    assert not list(parts.dir.glob(".*.tmp"))


def test_a_part_saved_again_without_state_drops_the_old_state(tmp_path):
    parts = Parts(tmp_path)
    rec = tmp_path / "a.wav"
    parts.save(rec, {"n": 1}, [np.zeros(2)])
    parts.save(rec, {"n": 2}, None)
    assert parts.load(rec) == ({"n": 2}, None)


def test_an_unreadable_or_missing_part_is_not_committed(tmp_path):
    parts = Parts(tmp_path)
    rec = tmp_path / "a.wav"
    assert parts.part(rec) is None and parts.load(rec) is None
    parts.save(rec, {"n": 1}, None)
    (next(parts.dir.glob("*.json"))).write_text('{"n": ')  # cut short
    assert parts.part(rec) is None


def test_soundscape_minutes_come_back_with_their_days(tmp_path):
    parts = Parts(tmp_path)
    rec = tmp_path / "a.wav"
    start = dt.datetime(2024, 3, 1, 23, 59, tzinfo=dt.timezone.utc)
    minutes = [Minute(start + dt.timedelta(minutes=k), 60.0 - k, np.arange(4.0) + k) for k in range(2)]
    parts.save_hmd(rec, 48000, minutes)
    assert parts.hmd_days(rec) == [dt.date(2024, 3, 1), dt.date(2024, 3, 2)]
    rate, back = parts.load_hmd(rec)
    assert rate == 48000 and [m.start_utc for m in back] == [m.start_utc for m in minutes]
    assert [m.effort_s for m in back] == [60.0, 59.0] and np.array_equal(back[1].psd, minutes[1].psd)
    assert parts.load_hmd(tmp_path / "b.wav") == (0, []) and parts.hmd_days(tmp_path / "b.wav") == []


def test_a_recording_changed_since_its_part_has_another_identity(tmp_path):
    rec = tmp_path / "a.wav"
    rec.write_bytes(b"0" * 10)
    before = source_identity(rec)
    rec.write_bytes(b"0" * 11)
    assert source_identity(rec) != before and source_identity(rec)["size"] == 11
