"""End to end through a real MQTT broker (mosquitto on loopback, installed by
``make system-deps``), restarted mid-stream: QoS 1 with persistent sessions on both sides;
shore ends with every record once."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("paho.mqtt.client", reason='needs paho-mqtt: pip install "pamedge[sync]"')

from edge.sync.frames import KeyRing  # noqa: E402
from edge.sync.log import DetectionLog  # noqa: E402
from edge.sync.mqtt import MqttTransport  # noqa: E402
from edge.sync.outbox import Outbox, OutboxSettings  # noqa: E402
from edge.sync.sender import send_pending  # noqa: E402
from shore.ingest import ingest_mqtt  # noqa: E402
from shore.store import ShoreStore  # noqa: E402
from tests.edge.sync.conftest import make_detections  # noqa: E402

KEY = bytes(range(32))
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        (folder / "data").mkdir()
        # run as this user (as root, mosquitto otherwise drops to "mosquitto", who cannot write
        # here); keep every queued QoS 1 message for an offline persistent session
        self.conf.write_text(f"user {getpass.getuser()}\nlistener {self.port} 127.0.0.1\nallow_anonymous true\n"
                             "persistence true\nmax_queued_messages 0\n"
                             f"persistence_location {folder / 'data'}/\nautosave_interval 1\n")
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        self.proc.terminate()  # SIGTERM: saves the persistent sessions and queued messages
        self.proc.wait(timeout=10)


@pytest.fixture
def broker(tmp_path):
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (make system-deps installs it with apt)")
    b = Broker(tmp_path)
    b.start()
    yield b
    if b.proc.poll() is None:
        b.stop()


@pytest.mark.slow
def test_records_reach_shore_once_through_a_broker_restarted_mid_stream(tmp_path, broker):
    url = f"mqtt://127.0.0.1:{broker.port}/pamedge/buoy-1"
    keys = KeyRing({"buoy-1": KEY})
    with ShoreStore(tmp_path / "shore.sqlite", keys) as store:
        ingest_mqtt(store, url, client_id="shore-test", idle_s=0.5)  # creates shore's persistent session
    offset = [0.0]
    dets = make_detections(3000, seed=3)
    with DetectionLog(tmp_path / "buoy.sqlite") as log:
        box = Outbox(log, {"buoy-1": KEY}, settings=OutboxSettings(max_bytes=200),
                     clock=lambda: time.time() + offset[0])
        transport = MqttTransport(url, client_id="buoy-test", timeout_s=1.0)
        try:
            for i in range(0, len(dets), 500):
                log.append(dets[i:i + 500])
                if i == 1500:
                    broker.stop()  # mid-stream, with the shore away: its messages wait in the broker
                    send_pending(box, transport, wait=False, max_sessions=5)
                    broker.start()
                send_pending(box, transport, sleep=lambda s: offset.__setitem__(0, offset[0] + s))
            assert box.status()["frames_pending"] == 0
        finally:
            transport.close()
    with ShoreStore(tmp_path / "shore.sqlite", keys) as store:
        ingest_mqtt(store, url, client_id="shore-test", idle_s=2.0)
        print(dict(store.counts))
        assert store.seqs("buoy-1") == list(range(1, 3001))
