"""End to end through the modem simulator (a real program on a pseudo-terminal): 10,000
detections, about 30% of sessions failing (status codes, sessions dying mid-way, power
loss), corrupted serial writes, garbled and duplicated deliveries read back in another
order, MOMSN wrapping, and the buoy's sender (``edge-sync send --config``) killed with
SIGKILL at random 20 times while the detector keeps logging.  Shore (``edge-shore ingest``)
ends with exactly the original records, within the documented quantisation, with the
identity of what made them; a replayed old delivery is rejected and counted."""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
import sys
import time

import pytest

pytest.importorskip("serial", reason='needs pyserial: pip install "pamedge[sync]"')

from edge.sync.frames import FrameError, FrameRecord, KeyRing, decode, utc_seconds
from shore.store import REJECTED, WINDOW_S, ShoreStore
from tests.support.data import ROOT
from tests.support.telemetry import (
    Detector,
    assert_within_quantisation,
    console_script,
    drain,
    kill_sender,
    make_detections,
)

KEY = bytes(range(32))
TOTAL = 10_000
COUNTS = (
    r"accepted (\d+)  duplicate (\d+)  rejected (\d+) \(bad MAC (\d+), unknown deployment (\d+), "
    r"replay (\d+), malformed (\d+)\)"
)


@pytest.fixture
def modem(tmp_path):
    """The simulator with faults; yields (device link, gateway folder)."""
    link, gateway = tmp_path / "modem", tmp_path / "gateway"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge.sync.modem_sim",
            "--link",
            str(link),
            "--gateway",
            str(gateway),
            "--seed",
            "7",
            "--momsn",
            "65500",
            "--fail-rate",
            "0.2",
            "--die-rate",
            "0.05",
            "--power-loss-rate",
            "0.05",
            "--power-loss-s",
            "0.2",
            "--checksum-rate",
            "0.05",
            "--garble-rate",
            "0.05",
            "--dup-rate",
            "0.1",
            "--write-timeout-s",
            "0.3",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().startswith("ready ")
    yield link, gateway
    proc.kill()
    proc.wait()


def the_detections() -> list:
    """What the detector logs: the second half under another model and hydrophone."""
    dets = make_detections(TOTAL, seed=2026, trains=0.1)
    return dets[: TOTAL // 2] + [
        dataclasses.replace(d, model="narw-cnn@5f1c2a9e", hydrophone="ST6872", calibration_db=-177.6)
        for d in dets[TOTAL // 2 :]
    ]


@pytest.mark.slow
def test_ten_thousand_detections_through_a_faulty_modem_and_twenty_kills(tmp_path, modem):
    import re

    link, gateway = modem
    (tmp_path / "buoy.key").write_text(KEY.hex())
    (tmp_path / "keys.yaml").write_text(f"buoy-1: {KEY.hex()}\n")
    (tmp_path / "buoy-1.yaml").write_text(
        "name: buoy-1\nsync:\n  log: buoy.sqlite\n  key_file: buoy.key\n  transport: iridium\n"
        f"  iridium: {{port: {link}, timeout_s: 0.3, session_timeout_s: 0.2}}\n"
    )
    send = console_script("edge-sync") + ["send", "--config", str(tmp_path / "buoy-1.yaml"), "--simulated-time"]
    original = the_detections()
    detector = Detector(tmp_path / "buoy.sqlite", original, interval_s=0.08).start()
    rnd = random.Random(20)
    for kill in range(20):
        proc = subprocess.Popen(
            send + ["--follow", "--poll-s", "0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        if kill % 2:  # at a random moment of its sessions
            delivered = len(list(gateway.iterdir()))
            deadline = time.monotonic() + 10
            while len(list(gateway.iterdir())) == delivered and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rnd.uniform(0.0, 0.6))
        else:  # at a random moment from its start: opening the log, packing, the first session
            time.sleep(rnd.uniform(0.1, 1.0))
        kill_sender(proc)
    detector.join()
    drain(send)

    ingest = subprocess.run(
        console_script("edge-shore")
        + ["ingest", str(gateway), "--db", str(tmp_path / "shore.sqlite"), "--keys", str(tmp_path / "keys.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    print(ingest.stdout)
    accepted, duplicate, rejected, bad_mac, unknown, replay, malformed = map(
        int, re.fullmatch(COUNTS, ingest.stdout.strip()).groups()
    )
    # garbled deliveries fail the tag; duplicates in any order within the window are benign
    assert duplicate > 0 and rejected == bad_mac > 0 and unknown == replay == malformed == 0
    assert accepted >= TOTAL // 60

    ring = KeyRing({"buoy-1": KEY})
    with ShoreStore(tmp_path / "shore.sqlite", ring) as store:
        got = list(store.records())
        assert store.seqs("buoy-1") == list(range(1, TOTAL + 1))  # none lost, none duplicated
    assert len(got) == TOTAL
    for d, rec in zip(original, got):  # within the documented quantisation (+1 ms: start_s/end_s are rounded to ms)
        assert_within_quantisation(
            d,
            FrameRecord(
                0,
                utc_seconds(rec.start_utc),
                round(rec.end_s - rec.start_s, 2),
                rec.low_hz,
                rec.high_hz,
                rec.label,
                rec.score,
                rec.snr_db,
                rec.received_level_db,
                clicks=rec.clicks,
                ici_s=rec.ici_s,
            ),
        )
        assert (rec.model, rec.config_hash, rec.hydrophone) == (d.model, d.config_hash, d.hydrophone)

    # an old delivery posted again days later, under a new MOMSN: a replay, rejected and counted
    later = lambda: time.time() + WINDOW_S + 3600  # noqa: E731
    docs = [json.loads(p.read_text()) for p in sorted(gateway.iterdir())]
    doc = next(d for d in docs if authentic(bytes.fromhex(d["data"]), ring))
    with ShoreStore(tmp_path / "shore.sqlite", ring, clock=later) as store:
        outcome = store.accept_webhook(doc["imei"], 12, "26-04-01 00:00:00", bytes.fromhex(doc["data"]))
        assert outcome == REJECTED and dict(store.rejected_by) == {"replay": 1}


def authentic(data: bytes, ring: KeyRing) -> bool:
    try:
        decode(data, ring)
    except FrameError:
        return False
    return True
