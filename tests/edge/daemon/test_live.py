"""Live capture on a simulated sound card: files of file_s on the card named by their first
sample, a power cut's file recovered at the next start, input overflows and a failing card said
from the daemon's thread, never from PortAudio's."""

from __future__ import annotations

import datetime as dt
import sys

import numpy as np
import pytest
import soundfile as sf

import edge.daemon.sources as sources
from edge.daemon.sources import LiveSource
from tests.support import soundcard
from tests.support.daemon import RATE, upcalls


@pytest.fixture
def card(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", soundcard.module())
    return soundcard.InputStream


class Clock:
    """UTC time that moves only when told: the sound card moves it block by block."""

    def __init__(self) -> None:
        self.t = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += dt.timedelta(seconds=seconds)


def live(folder, clock, events, file_s=10.0, *, device=None, monotonic=lambda: 0.0):
    """Capture whose watchdog's clock stands still unless given (a loaded test host's pauses are
    no stalled device; the watchdog has a test of its own)."""
    return LiveSource(
        folder,
        device=device,
        sample_rate=RATE,
        channels=1,
        file_s=file_s,
        poll_s=0.01,
        on_event=events.append,
        now=clock,
        monotonic=monotonic,
    )


def started(folder, card, file_s=10.0):
    """Capture started on the simulated card: the source, its stream, its clock and what it said."""
    events: list[str] = []
    clock = Clock()
    source = live(folder, clock, events, file_s)
    (stream,) = card.opened
    return source, stream, clock, events


def test_capture_writes_whole_files_named_by_their_first_sample(tmp_path, card, rng):
    source, stream, clock, events = started(tmp_path, card)
    audio = upcalls(25.0, rng)[:, None]
    stream.feed(audio, clock=clock)
    source.close()  # the writer drains the queue; the last 5 s are a file of their own
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["20260301_000000.wav", "20260301_000010.wav", "20260301_000020.wav"]
    written = np.concatenate([sf.read(str(tmp_path / n), dtype="float32")[0] for n in names])
    np.testing.assert_allclose(written, audio[:, 0], atol=1 / 32767)  # every sample, in order, once
    assert [sf.info(str(tmp_path / n)).frames for n in names] == [10 * RATE, 10 * RATE, 5 * RATE]
    assert events == []


def test_a_clock_stepped_back_never_replaces_a_recording(tmp_path, card, rng):
    source, stream, clock, events = started(tmp_path, card, file_s=2.0)
    stream.feed(upcalls(4.0, rng)[:, None], clock=clock)
    clock.advance(-4.0)  # NTP steps the clock back
    stream.feed(upcalls(4.0, rng)[:, None], clock=clock)
    source.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["20260301_000000.wav", "20260301_000000_1.wav", "20260301_000002.wav", "20260301_000002_1.wav"]


def test_overflows_are_said_from_the_daemons_thread_with_their_time(tmp_path, card, rng):
    source, stream, clock, events = started(tmp_path, card)
    stream.feed(upcalls(4.0, rng)[:, None], overflow_at=(3, 5), block=500, clock=clock)
    assert events == []  # nothing is said from PortAudio's thread
    source.next(0.0)
    assert events == [
        "live capture: input overflow: samples lost in 2 block(s) from 2026-03-01T00:00:00.750Z (the CPU could "
        "not keep up: later times in that file run early by what was lost, under 1 s; a longer loss starts a new file)"
    ]
    source.next(0.0)
    assert len(events) == 1  # said once
    source.close()


def test_a_power_cut_mid_file_is_recovered_at_the_next_start(tmp_path, card, rng):
    """What reached the card of a file under way when the power went (never closed, its
    header's sizes zero) is finalised at the next start, and the folder source offers it."""
    events: list[str] = []
    clock = Clock()
    first = live(tmp_path, clock, events)
    (first_stream,) = card.opened
    audio = upcalls(6.0, rng)[:, None]
    first_stream.feed(audio, clock=clock)
    first.settle()
    part = tmp_path / ".20260301_000000.wav.part"
    snapshot = part.read_bytes()  # the card as the power went
    first.close()
    (tmp_path / "20260301_000000.wav").unlink()  # the close that never happened
    part.write_bytes(snapshot)
    clock.advance(300)
    second = live(tmp_path, clock, events)
    assert second.recovered == [
        f"{tmp_path / '20260301_000000.wav'}: recovered 6.0 s that capture was writing when it stopped"
    ]
    data, rate = sf.read(str(tmp_path / "20260301_000000.wav"), dtype="float32")
    assert rate == RATE
    np.testing.assert_allclose(data, audio[:, 0], atol=1 / 32767)
    item = second.next(1.0)
    assert item is not None and item.path.name == "20260301_000000.wav"
    second.close()


def test_a_card_that_fails_a_write_is_said_and_capture_goes_on(tmp_path, card, rng, monkeypatch):
    """A write that fails (a full card) drops blocks for RETRY_WRITE_S, is said once from the
    daemon's thread, and capture then opens a new file."""
    monkeypatch.setattr(sources, "RETRY_WRITE_S", 0.0)
    source, stream, clock, events = started(tmp_path, card, file_s=2.0)
    stream.feed(upcalls(2.0, rng)[:, None], clock=clock)  # one whole file
    source.settle()
    real_open = source._open

    def full_card(start):
        monkeypatch.setattr(source, "_open", real_open)  # the card has room again afterwards
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(source, "_open", full_card)
    stream.feed(upcalls(2.0, rng)[:, None], block=500, clock=clock)  # its first block is lost
    source.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["20260301_000000.wav", "20260301_000002.wav"]  # named by its first sample kept
    assert sf.info(str(tmp_path / names[1])).frames == 2 * RATE - 500
    source.next(0.0)
    source.next(0.0)
    assert len(events) == 1 and "live capture stopped writing for 0 s: [Errno 28] No space left on device" in events[0]


def test_audio_that_stops_and_goes_on_starts_a_new_file_at_its_time(tmp_path, card, rng):
    """A file's samples must follow one another: after a gap (a stalled device, a reopened
    stream) the next block starts a file named by its own time."""
    source, stream, clock, events = started(tmp_path, card)
    stream.feed(upcalls(3.0, rng)[:, None], clock=clock)
    clock.advance(5.0)  # nothing from the device
    stream.feed(upcalls(3.0, rng)[:, None], clock=clock)
    source.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["20260301_000000.wav", "20260301_000008.wav"]
    assert [sf.info(str(tmp_path / n)).frames for n in names] == [3 * RATE, 3 * RATE]


def test_a_device_that_stops_calling_back_is_reopened(tmp_path, card, rng):
    """A USB sound card reset: PortAudio calls back no more. After STALL_S without a block the
    stream is reopened (said once per try; a device that will not open is tried again)."""
    events: list[str] = []
    clock = Clock()
    ticks = {"t": 0.0}
    source = live(tmp_path, clock, events, device="hw:1,0", monotonic=lambda: ticks["t"])
    (first,) = card.opened
    first.feed(upcalls(2.0, rng)[:, None], clock=clock)
    ticks["t"] = 5.0
    source.next(0.0)
    assert events == [] and len(card.opened) == 1  # quiet for 5 s only
    card.refuse = 1
    ticks["t"] = 12.0
    source.next(0.0)
    assert events == [
        "live capture: no audio from device 'hw:1,0' for 12 s, and it does not open: Error querying device hw:1,0 "
        "(tried again every 10 s)"
    ]
    ticks["t"] = 15.0
    source.next(0.0)
    assert len(events) == 1  # not tried again before STALL_S
    ticks["t"] = 23.0
    source.next(0.0)
    assert events[1] == "live capture: no audio from device 'hw:1,0' for 23 s: stream reopened"
    second = card.opened[-1]
    assert second is not first and second.running
    clock.advance(21.0)
    second.feed(upcalls(2.0, rng)[:, None], clock=clock)
    source.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20260301_000000.wav", "20260301_000023.wav"]


def test_a_clock_never_set_is_said(tmp_path, card, rng):
    """A Raspberry Pi has no real-time clock: booted without network time it reads 1970, and
    files named by it misdate every record."""
    events: list[str] = []
    clock = Clock()
    clock.t = dt.datetime(1970, 1, 1, 0, 0, 42, tzinfo=dt.timezone.utc)
    source = live(tmp_path, clock, events)
    source.next(0.0)
    source.next(0.0)
    assert events == [
        "live capture: the system clock reads 1970-01-01T00:00:42Z, before 2026-01-01: it was never set "
        "(no real-time clock, no network time), and recordings are named and dated by it"
    ]
    clock.t = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)  # network time arrived
    source.next(0.0)
    assert len(events) == 1
    source.close()


def test_the_daemon_analyses_each_file_capture_closes(tmp_path, card, rng):
    """edge-run's loop over live capture: each file capture closes is analysed once, dated by
    its first sample, and the file under way when the daemon stops is closed, for the next start."""
    import sqlite3
    import threading
    import time

    from edge.classify import load_classifier
    from edge.config import load_deployment
    from edge.daemon.daemon import Daemon
    from tests.support.daemon import deployment_yaml

    config = load_deployment(deployment_yaml(tmp_path))
    events: list[str] = []
    clock = Clock()
    folder = tmp_path / "capture"
    source = live(folder, clock, events, file_s=30.0)
    made: list[Daemon] = []

    def serve() -> None:  # the daemon's log is SQLite: made and used in one thread
        made.append(Daemon(config, source, classifier=load_classifier(config), on_event=events.append))
        made[0].run()

    thread = threading.Thread(target=serve)
    thread.start()
    (stream,) = card.opened
    audio = upcalls(75.0, rng)[:, None]  # two whole files and half of a third
    for i in range(0, len(audio), 15 * RATE):  # as time passes: the writer keeps up, as on a buoy
        stream.feed(audio[i : i + 15 * RATE], clock=clock)
        source.settle()
    log = tmp_path / "log.sqlite"

    def rows() -> list[tuple]:
        try:
            with sqlite3.connect(str(log)) as conn:
                return conn.execute("SELECT path, status, start_utc, duration_s FROM processed ORDER BY ord").fetchall()
        except sqlite3.OperationalError:
            return []

    deadline = time.monotonic() + 60
    while len(rows()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    made[0].stop()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert [(p.split("/")[-1], s, t, d) for p, s, t, d in rows()] == [
        ("20260301_000000.wav", "ok", "2026-03-01T00:00:00+00:00", 30.0),
        ("20260301_000030.wav", "ok", "2026-03-01T00:00:30+00:00", 30.0),
    ]
    assert sf.info(str(folder / "20260301_000100.wav")).frames == 15 * RATE  # closed at the stop
    assert not list(folder.glob(".*.part")) and events == []


def test_a_card_too_slow_for_the_rate_drops_blocks_and_says_so(tmp_path, card, rng, monkeypatch):
    """Audio waiting for the card is bounded (BACKLOG_S): beyond it blocks are dropped and said,
    rather than held until the buoy runs out of memory."""
    import threading

    monkeypatch.setattr(sources, "BACKLOG_S", 2.0)
    source, stream, clock, events = started(tmp_path, card, file_s=60.0)
    stuck = threading.Event()
    real_write = source._write

    def slow_card(block, start):
        stuck.wait(30)
        real_write(block, start)

    monkeypatch.setattr(source, "_write", slow_card)
    stream.feed(upcalls(6.0, rng)[:, None], block=500, clock=clock)  # 24 blocks; about 8 fit in 2 s
    stuck.set()
    source.close()
    source.next(0.0)
    (said,) = events
    assert said.startswith("live capture: ") and "block(s) dropped from 2026-03-01T00:00:0" in said
    assert "the card fell 2 s behind (its writes are too slow for 2000 Hz x 1 channel(s))" in said
    dropped = int(said.split()[2])
    kept = sum(sf.info(str(p)).frames for p in tmp_path.glob("*.wav"))
    assert dropped >= 10 and kept == (24 - dropped) * 500


def test_a_stop_is_not_held_up_by_a_hung_card(tmp_path, card, rng, monkeypatch):
    import threading

    monkeypatch.setattr(sources, "STOP_S", 0.2)
    source, stream, clock, events = started(tmp_path, card)
    hung = threading.Event()
    monkeypatch.setattr(source, "_write", lambda block, start: hung.wait(30))
    stream.feed(upcalls(1.0, rng)[:, None], clock=clock)
    source.close()
    assert len(events) == 1 and events[0].endswith("live capture's last writes did not finish in 0 s: left as it is")
    hung.set()


@pytest.mark.parametrize(
    "settings,problem",
    [
        ({"sample_rate": 48000, "channels": 1}, None),
        (
            {"device": "hw:9,0"},
            "device 'hw:9,0' cannot capture 1 channel(s) at 48000 Hz: No input device matching 'hw:9,0'",
        ),
        (
            {"device": "hw:1,0", "channels": 4},
            "device 'hw:1,0' cannot capture 4 channel(s) at 48000 Hz: Invalid number",
        ),
        ({"sample_rate": 22050}, "the default input cannot capture 1 channel(s) at 22050 Hz: Invalid sample rate"),
    ],
)
def test_check_asks_the_device_for_what_live_capture_will(tmp_path, card, settings, problem):
    from edge.daemon.check import check
    from tests.support.daemon import deployment_yaml

    path = deployment_yaml(tmp_path, {"watch": str(tmp_path / "rec"), "live": settings})
    found = [p for p in check(path) if "run: live:" in p]
    if problem is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0].startswith(f"{path}: run: live: {problem}")


def test_check_says_live_capture_needs_sounddevice(tmp_path, monkeypatch):
    from edge.daemon.check import check
    from tests.support.daemon import deployment_yaml

    monkeypatch.setitem(sys.modules, "sounddevice", None)  # not installed
    path = deployment_yaml(tmp_path, {"watch": str(tmp_path / "rec"), "live": {}})
    (problem,) = [p for p in check(path) if "run: live:" in p]
    assert "live capture needs sounddevice (and PortAudio): pip install 'pamedge[live]'" in problem


def test_a_stream_that_will_not_close_still_has_its_audio_written(tmp_path, card, rng, monkeypatch):
    source, stream, clock, events = started(tmp_path, card)
    stream.feed(upcalls(3.0, rng)[:, None], clock=clock)

    def gone() -> None:
        raise OSError("Stream is stopped [PaErrorCode -9983]")

    monkeypatch.setattr(stream, "stop", gone)
    source.close()
    assert events == ["live capture: the stream did not close: Stream is stopped [PaErrorCode -9983]"]
    assert sf.info(str(tmp_path / "20260301_000000.wav")).frames == 3 * RATE
