"""End to end through the modem simulator (a real program on a pseudo-terminal): 10,000
detections, about 30% of sessions failing (status codes, sessions dying mid-way, power
loss), corrupted serial writes, garbled and duplicated deliveries read back in another
order, MOMSN wrapping, and the buoy process killed at random 20 times.  Shore ends with
exactly the original records, within the documented quantisation."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("serial", reason='needs pyserial: pip install "pamedge[sync]"')

from edge.sync.frames import KeyRing  # noqa: E402
from shore.ingest import ingest_folder  # noqa: E402
from shore.store import ACCEPTED, DUPLICATE, REJECTED, ShoreStore  # noqa: E402
from tests.edge.sync.conftest import make_detections  # noqa: E402
from tests.edge.sync.test_frames import assert_within_quantisation  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
KEY = bytes(range(32))
TOTAL = 10_000


@pytest.fixture
def modem(tmp_path):
    """The simulator with faults; yields (device link, gateway folder)."""
    link, gateway = tmp_path / "modem", tmp_path / "gateway"
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.sync.modem_sim", "--link", str(link), "--gateway", str(gateway), "--seed", "7",
         "--momsn", "65500", "--fail-rate", "0.2", "--die-rate", "0.05", "--power-loss-rate", "0.05",
         "--power-loss-s", "0.3", "--checksum-rate", "0.05", "--garble-rate", "0.05", "--dup-rate", "0.1",
         "--write-timeout-s", "0.5"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("ready ")
    yield link, gateway
    proc.kill()
    proc.wait()


def buoy(log: Path, link: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.edge.sync.buoy", str(log), str(link), str(TOTAL)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_ten_thousand_detections_through_a_faulty_modem_and_twenty_kills(tmp_path, modem):
    link, gateway = modem
    log = tmp_path / "buoy.sqlite"
    rnd = random.Random(20)
    for _ in range(20):
        proc = buoy(log, link)
        time.sleep(rnd.uniform(0.4, 1.2))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    proc = buoy(log, link)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0 and out.strip() == "done", err[-2000:]

    with ShoreStore(tmp_path / "shore.sqlite", KeyRing({"buoy-1": KEY})) as store:
        ingest_folder(store, gateway)
        counts = dict(store.counts)
        got = list(store.records())
        assert store.seqs("buoy-1") == list(range(1, TOTAL + 1))  # none lost, none duplicated
        # a replayed old delivery (new MOMSN, same frame) is refused and counted
        first = sorted(gateway.iterdir())[0].read_text()
        import json
        doc = json.loads(first)
        assert store.accept_webhook(doc["imei"], 12, "26-01-01 00:00:00", bytes.fromhex(doc["data"])) in (
            DUPLICATE, REJECTED)
    print(counts)
    assert counts[DUPLICATE] > 0 and counts[REJECTED] > 0 and counts[ACCEPTED] >= TOTAL // 60
    original = make_detections(TOTAL, seed=2026)
    assert len(got) == TOTAL
    from edge.sync.frames import FrameRecord, utc_seconds
    for d, rec in zip(original, got):  # within the documented quantisation (+1 ms: start_s/end_s are rounded to ms)
        t = utc_seconds(rec.start_utc)
        assert_within_quantisation(d, FrameRecord(0, t, round(rec.end_s - rec.start_s, 2), rec.low_hz, rec.high_hz,
                                                  rec.label, rec.score, rec.snr_db, rec.received_level_db))
