"""End to end through a real MQTT broker (mosquitto on loopback, installed by
``make system-deps``): 10,000 detections sent by ``edge-sync send --config`` (killed with
SIGKILL at random moments while the detector keeps logging) through a broker restarted
mid-stream, QoS 1 with persistent sessions on both sides; ``edge-shore ingest mqtt://`` ends
with every record once.  And the same client over TLS, configured by the deployment YAML,
against a listener with a certificate from a CA made at test time."""

from __future__ import annotations

import getpass
import random
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("paho.mqtt.client", reason='needs paho-mqtt: pip install "pamedge[sync]"')

from edge.log import DetectionLog
from edge.sync.frames import KeyRing
from shore.store import ShoreStore
from tests.support.telemetry import Detector, console_script, drain, kill_sender, make_detections

KEY = bytes(range(32))
TOTAL = 10_000
MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
COUNTS = (
    r"accepted (\d+)  duplicate (\d+)  rejected (\d+) \(bad MAC (\d+), unknown deployment (\d+), "
    r"replay (\d+), malformed (\d+)\)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """mosquitto on loopback: a plain listener, and a TLS one when given (ca, cert, key)."""

    def __init__(self, folder: Path, tls: tuple[Path, Path, Path] | None = None) -> None:
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.conf = folder / "mosquitto.conf"
        (folder / "data").mkdir()
        # run as this user (as root, mosquitto otherwise drops to "mosquitto", who cannot write
        # here); keep every queued QoS 1 message for an offline persistent session
        text = (
            f"user {getpass.getuser()}\nallow_anonymous true\npersistence true\nmax_queued_messages 0\n"
            f"persistence_location {folder / 'data'}/\nautosave_interval 1\nlistener {self.port} 127.0.0.1\n"
        )
        if tls:
            ca, cert, key = tls
            text += f"listener {self.tls_port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
        self.conf.write_text(text)
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                for port in filter(None, (self.port, self.tls_port)):
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        self.proc.terminate()  # SIGTERM: saves the persistent sessions and queued messages
        self.proc.wait(timeout=10)


def need_mosquitto() -> None:
    if MOSQUITTO is None:
        pytest.skip("mosquitto is not installed (make system-deps installs it with apt)")


@pytest.fixture
def broker(tmp_path):
    need_mosquitto()
    b = Broker(tmp_path)
    b.start()
    yield b
    if b.proc.poll() is None:
        b.stop()


def deployment_yaml(folder: Path, mqtt: str, **sync) -> Path:
    """A deployment YAML whose ``sync:`` section sends over MQTT."""
    (folder / "buoy.key").write_text(KEY.hex())
    extra = "".join(f"  {k}: {v}\n" for k, v in sync.items())
    path = folder / "buoy-1.yaml"
    path.write_text(
        f"name: buoy-1\nsync:\n  log: buoy.sqlite\n  key_file: buoy.key\n  transport: mqtt\n{extra}  mqtt: {mqtt}\n"
    )
    return path


def shore_ingest(folder: Path, url: str, idle_s: float) -> tuple[int, ...]:
    result = subprocess.run(
        console_script("edge-shore")
        + [
            "ingest",
            url,
            "--idle-s",
            str(idle_s),
            "--db",
            str(folder / "shore.sqlite"),
            "--keys",
            str(folder / "keys.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    print(result.stdout)
    return tuple(map(int, re.fullmatch(COUNTS, result.stdout.strip()).groups()))


@pytest.mark.slow
def test_records_reach_shore_once_through_kills_and_a_broker_restarted_mid_stream(tmp_path, broker):
    url = f"mqtt://127.0.0.1:{broker.port}/pamedge/buoy-1"
    (tmp_path / "keys.yaml").write_text(f"buoy-1: {KEY.hex()}\n")
    shore_ingest(tmp_path, url, 0.3)  # creates shore's persistent session (client id pamedge-shore)
    config = deployment_yaml(tmp_path, f"{{url: '{url}', client_id: buoy-test, timeout_s: 1}}", max_bytes=250)
    send = console_script("edge-sync") + ["send", "--config", str(config), "--simulated-time"]
    detector = Detector(
        tmp_path / "buoy.sqlite", make_detections(TOTAL, seed=3, trains=0.1), batch=250, interval_s=0.1
    ).start()
    rnd = random.Random(6)
    for kill in range(20):  # as many kills as the Iridium run
        proc = subprocess.Popen(
            send + ["--follow", "--poll-s", "0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        time.sleep(rnd.uniform(0.2, 1.0))
        if kill == 3:
            broker.stop()  # mid-stream, with the shore away: what it has not read waits in the broker
            time.sleep(rnd.uniform(0.5, 1.0))  # the buoy's sessions fail and back off meanwhile
            broker.start()
            time.sleep(rnd.uniform(0.5, 1.5))
        kill_sender(proc)
    detector.join()
    drain(send)

    accepted, duplicate, rejected, *_ = shore_ingest(tmp_path, url, 1.0)
    assert rejected == 0 and accepted >= TOTAL // 40
    with ShoreStore(tmp_path / "shore.sqlite", KeyRing({"buoy-1": KEY})) as store:
        assert store.seqs("buoy-1") == list(range(1, TOTAL + 1))  # none lost, none duplicated
        got = list(store.records())
        assert {d.config_hash for d in got} == {"0123456789abcdef"}
        trains = [d.clicks for d in make_detections(TOTAL, seed=3, trains=0.1)]
        assert [d.clicks for d in got] == trains and sum(map(bool, trains)) > TOTAL // 20  # click trains arrive whole


def make_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1 signed by it (the openssl CLI; the
    ``cryptography`` package is not a dependency of pamedge)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test CA and server certificate")
    ca, ca_key, cert, key = (folder / n for n in ("ca.crt", "ca.key", "server.crt", "server.key"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *args: subprocess.run([openssl, *args], check=True, capture_output=True, cwd=folder, timeout=300)  # noqa: E731
    run("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "1", "-subj", "/CN=pamedge test CA")
    run("req", *ec, "-keyout", str(key), "-out", str(folder / "server.csr"), "-subj", "/CN=127.0.0.1")
    (folder / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run(
        "x509",
        "-req",
        "-in",
        str(folder / "server.csr"),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "1",
        "-extfile",
        str(folder / "san.cnf"),
    )
    key.chmod(0o644)  # mosquitto runs as this user and reads it
    return ca, cert, key


@pytest.mark.slow
def test_tls_listener_with_the_deployment_yaml_tls_settings(tmp_path):
    need_mosquitto()
    broker = Broker(tmp_path, tls=make_certificates(tmp_path))
    broker.start()
    try:
        plain = f"mqtt://127.0.0.1:{broker.port}/pamedge/buoy-1"  # shore reads on the plain listener
        tls = f"mqtt://127.0.0.1:{broker.tls_port}/pamedge/buoy-1"
        (tmp_path / "keys.yaml").write_text(f"buoy-1: {KEY.hex()}\n")
        shore_ingest(tmp_path, plain, 0.3)
        with DetectionLog(tmp_path / "buoy.sqlite") as log:
            log.append(make_detections(200))
        send = console_script("edge-sync") + ["send", "--config"]
        # without the test CA, the broker's certificate is not trusted: nothing is sent
        untrusted = deployment_yaml(tmp_path, f"{{url: '{tls}', tls: true, timeout_s: 1}}")
        result = subprocess.run(send + [str(untrusted), "--no-wait"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and result.stdout.startswith("sent 0  failed sessions 1"), result.stdout
        # the YAML's ca_file (relative to the YAML) trusts it
        config = deployment_yaml(tmp_path, f"{{url: '{tls}', tls: true, ca_file: ca.crt, timeout_s: 5}}")
        result = subprocess.run(send + [str(config), "--simulated-time"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and result.stdout.strip().endswith("pending 0"), result.stdout + result.stderr
        accepted, duplicate, rejected, *_ = shore_ingest(tmp_path, plain, 1.0)
        assert rejected == duplicate == 0 and accepted == int(result.stdout.split()[1])
    finally:
        broker.stop()
    with ShoreStore(tmp_path / "shore.sqlite", KeyRing({"buoy-1": KEY})) as store:
        assert store.seqs("buoy-1") == list(range(1, 201))
