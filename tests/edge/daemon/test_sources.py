"""The recorder-folder source takes a file only once complete; the replay source's pace."""

from __future__ import annotations

import io

import soundfile as sf

from edge.daemon.sources import ABANDONED_FACTOR, FolderSource, ReplaySource, recover_unfinished
from tests.support.daemon import RATE, upcalls


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def wav_bytes(seconds: float, rng) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, upcalls(seconds, rng), RATE, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def test_a_file_still_being_written_is_ignored_until_complete(tmp_path, rng):
    clock = FakeClock()
    src = FolderSource(tmp_path, stable_s=2.0, poll_s=0.5, clock=clock, sleep=clock.sleep)
    data = wav_bytes(30.0, rng)
    path = tmp_path / "site_20260301_000000.wav"
    path.write_bytes(data[:20000])  # header (declaring the full length) and some samples
    assert src.next(0) is None  # first sight
    clock.t = 1.0
    with open(path, "ab") as fh:  # grows between polls
        fh.write(data[20000:40000])
    assert src.next(0) is None
    clock.t = 2.5
    assert src.next(0) is None  # still growing? not for 1.5 s: under stable_s
    clock.t = 5.0  # unchanged for 4 s, but its header still declares more audio than it holds
    assert src.next(0) is None and src.backlog_s() == 0
    with open(path, "ab") as fh:
        fh.write(data[40000:])
    clock.t = 6.0
    assert src.next(0) is None
    clock.t = 7.0
    assert src.next(0) is None  # complete, but only 1 s stable
    clock.t = 8.5
    item = src.next(0)
    assert item is not None and item.path == path and item.size == len(data) and item.owned
    src.done(item)
    assert src.next(0) is None


def test_a_file_cut_short_is_taken_once_abandoned(tmp_path, rng):
    clock = FakeClock()
    src = FolderSource(tmp_path, stable_s=1.0, poll_s=0.5, clock=clock, sleep=clock.sleep)
    (tmp_path / "site_20260301_000000.wav").write_bytes(wav_bytes(10.0, rng)[:5000])  # a power cut
    assert src.next(0) is None
    clock.t = ABANDONED_FACTOR * 1.0 - 0.1
    assert src.next(0) is None
    clock.t = ABANDONED_FACTOR * 1.0 + 0.1
    assert src.next(0) is not None


def test_a_file_whose_header_is_not_yet_finalised_waits_as_one_cut_short(tmp_path, rng):
    """A recorder that writes sizes of 0 until it closes the file (libsndfile's way): a pause in
    its writing is no end of the file; after ABANDONED_FACTOR stable_s it was cut short."""
    clock = FakeClock()
    src = FolderSource(tmp_path, stable_s=1.0, poll_s=0.5, clock=clock, sleep=clock.sleep)
    data = bytearray(wav_bytes(10.0, rng))
    at = data.index(b"data")
    data[4:8] = data[at + 4 : at + 8] = bytes(4)
    (tmp_path / "site_20260301_000000.wav").write_bytes(bytes(data))
    assert src.next(0) is None
    clock.t = ABANDONED_FACTOR * 1.0 - 0.1
    assert src.next(0) is None
    clock.t = ABANDONED_FACTOR * 1.0 + 0.1
    assert src.next(0) is not None


def test_files_come_in_recording_time_order_with_the_backlog_of_the_rest(tmp_path, make_recordings):
    later = make_recordings(1, 60.0, folder=tmp_path, start=2)
    earlier = make_recordings(2, 60.0, folder=tmp_path)
    clock = FakeClock()
    src = FolderSource(tmp_path, stable_s=1.0, poll_s=0.5, once=True, clock=clock, sleep=clock.sleep)
    order = []
    while (item := src.next(10.0)) is not None:
        order.append(item.path)
        assert src.backlog_s() == 60.0 * (2 - len(order) + 1)
        src.done(item)
    assert order == earlier + later and src.exhausted


def test_realtime_replay_releases_each_file_when_its_audio_ends(tmp_path, make_recordings):
    files = make_recordings(3, 10.0, folder=tmp_path)
    clock = FakeClock()
    src = ReplaySource(files, realtime=True, clock=clock, sleep=clock.sleep)
    assert src.next(5.0) is None and clock.t == 5.0
    assert src.next(60.0).path == files[0] and clock.t == 10.0
    clock.t = 25.0
    assert src.backlog_s() == 10.0  # the second file is complete, the third is not
    assert src.next(0).path == files[1]
    assert src.backlog_s() == 0.0
    fast = ReplaySource(files)
    assert [fast.next(0).path for _ in files] == files and fast.exhausted and fast.backlog_s() == 0.0


def test_capture_files_a_power_loss_left_are_recovered_and_then_taken(tmp_path, rng):
    """At its start live capture finalises and renames what it was writing when the buoy lost
    power; the folder source then offers it like any other recording."""
    from tests.edge.test_audio import capture_snapshot

    calls = upcalls(20.0, rng)[:, None]
    capture_snapshot(tmp_path / ".20260301_000000.wav.part", calls, RATE, extra=b"\x07")
    capture_snapshot(tmp_path / ".20260301_001000.wav.part", calls[:0], RATE)  # the header alone
    (tmp_path / "20260301_002000.wav").write_bytes(wav_bytes(5.0, rng))
    capture_snapshot(tmp_path / ".20260301_002000.wav.part", calls, RATE)  # its name is taken
    notes = recover_unfinished(tmp_path)
    assert notes == [
        f"{tmp_path / '20260301_000000.wav'}: recovered 20.0 s that capture was writing when it stopped",
        f"{tmp_path / '.20260301_001000.wav.part'}: unfinished recording held no audio: removed",
        f"{tmp_path / '.20260301_002000.wav.part'}: unfinished recording not recovered: 20260301_002000.wav exists",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".20260301_002000.wav.part",
        "20260301_000000.wav",
        "20260301_002000.wav",
    ]
    clock = FakeClock()
    src = FolderSource(tmp_path, stable_s=2.0, poll_s=0.5, clock=clock, sleep=clock.sleep, once=True)
    taken = []
    while (item := src.next(10.0)) is not None:
        taken.append(item.path.name)
        src.done(item)
    assert taken == ["20260301_000000.wav", "20260301_002000.wav"]
    assert sf.info(str(tmp_path / "20260301_000000.wav")).frames == len(calls)
