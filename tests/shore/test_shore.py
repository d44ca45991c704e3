"""Shore: accepted / duplicate / rejected, RockBLOCK web-hook POSTs with MOMSN wrap, exports."""

from __future__ import annotations

import csv
import dataclasses
import sqlite3
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from edge.outputs import DETECTION_COLUMNS
from edge.sync.frames import KeyRing, pack_all
from shore.export import export_csv, export_raven
from shore.ingest import ingest_folder, webhook_server
from shore.store import ACCEPTED, DUPLICATE, REJECTED, WINDOW_S, ShoreStore
from tests.support.shore import KEY, frames
from tests.support.telemetry import make_detections


class Clock:
    def __init__(self) -> None:
        self.t = 1_774_656_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    with ShoreStore(
        tmp_path / "shore.sqlite", KeyRing({"buoy-1": KEY, "buoy-2": bytes(range(1, 33))}), clock=clock
    ) as s:
        yield s


def test_flipped_bit_other_key_unknown_deployment_and_replay_are_rejected_and_counted(store, clock):
    fs = frames()
    assert [store.accept(f) for f in fs] == [ACCEPTED] * len(fs)
    flipped = bytearray(fs[1])
    flipped[20] ^= 0x04
    assert store.accept(bytes(flipped)) == REJECTED
    other = pack_all(list(enumerate(make_detections(3), 1)), deployment="buoy-1", key=bytes(range(1, 33)))[1]
    assert store.accept(other) == REJECTED  # buoy-2's key used for buoy-1's frames
    assert store.accept(pack_all(list(enumerate(make_detections(3), 1)), deployment="buoy-9", key=KEY)[0]) == REJECTED
    assert store.accept(b"\x10abc") == REJECTED
    clock.t += 60
    assert store.accept(fs[0]) == DUPLICATE  # QoS 1 / SBD retry: the same bytes, soon after
    clock.t += WINDOW_S
    assert store.accept(fs[0]) == REJECTED  # the same frame delivered again days later: a replay
    assert dict(store.counts) == {ACCEPTED: len(fs), REJECTED: 5, DUPLICATE: 1}
    assert dict(store.rejected_by) == {"bad MAC": 2, "unknown deployment": 1, "malformed": 1, "replay": 1}
    assert store.summary() == (
        f"accepted {len(fs)}  duplicate 1  rejected 5 (bad MAC 2, unknown deployment 1, replay 1, malformed 1)"
    )
    causes = [r[0] for r in store.conn.execute("SELECT cause FROM rejected ORDER BY rowid")]
    assert causes == ["bad MAC", "bad MAC", "unknown deployment", "malformed", "replay"]
    assert store.seqs("buoy-1") == list(range(1, 201))


def test_an_old_frame_resent_after_the_frame_window_is_a_replay(tmp_path, clock):
    fs = frames(400)
    with ShoreStore(tmp_path / "s.sqlite", KeyRing({"buoy-1": KEY}), window_frames=5, clock=clock) as store:
        for f in fs[:5]:
            store.accept(f)
        assert store.accept(fs[0]) == DUPLICATE  # 4 newer frames since its first copy
        store.accept(fs[5])
        assert store.accept(fs[0]) == REJECTED and store.rejected_by == {"replay": 1}
        assert store.accept(fs[6]) == ACCEPTED and store.accept(fs[5]) == DUPLICATE


def test_other_bytes_under_an_accepted_sequence_are_a_replay(store):
    a = pack_all(list(enumerate(make_detections(50), 1)), deployment="buoy-1", key=KEY)
    b = pack_all(list(enumerate(make_detections(50, seed=9), 1)), deployment="buoy-1", key=KEY)
    assert store.accept(a[1]) == ACCEPTED and a[1] != b[1]
    assert store.accept(b[1]) == REJECTED and store.rejected_by == {"replay": 1}
    assert store.conn.execute("SELECT reason FROM rejected").fetchone()[0].endswith("accepted with other bytes")


def test_reordered_and_duplicated_folder(tmp_path, store):
    for i, f in enumerate(reversed(frames() * 2)):
        (tmp_path / f"{i:04d}.frame").write_bytes(f)
    ingest_folder(store, tmp_path)
    assert store.seqs("buoy-1") == list(range(1, 201)) and store.counts[DUPLICATE] == len(frames())


def post(port, **fields):
    data = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", data=data, timeout=5) as resp:
        return resp.status, resp.read().decode()


def test_rockblock_webhook_dedup_and_momsn_wrap(store):
    server = webhook_server(store, 0)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        fs = frames(150)
        momsns = [65533, 65534, 65535, 0, 1]
        assert len(fs) == len(momsns)
        for f, m in zip(fs, momsns):
            assert post(
                port, imei="300234010000001", momsn=m, transmit_time=f"26-03-28 00:0{m % 10}:00", data=f.hex()
            ) == (200, ACCEPTED)
        # RockBLOCK retrying a POST: same imei, momsn and time
        assert (
            post(port, imei="300234010000001", momsn=0, transmit_time="26-03-28 00:00:00", data=fs[3].hex())[1]
            == DUPLICATE
        )
        with pytest.raises(urllib.error.HTTPError, match="400"):
            post(port, imei="300234010000001", data="zz")
    finally:
        server.shutdown()
        server.server_close()
    assert store.seqs("buoy-1") == list(range(1, 151))


def test_a_forged_post_does_not_suppress_the_genuine_delivery(store):
    """Issue 15, case 1: garbage POSTed with the buoy's IMEI, next MOMSN and transmit time is
    rejected, and the real delivery and its retry are then accepted and a duplicate."""
    genuine = frames(20)[0]
    forged = bytearray(genuine)
    forged[-1] ^= 1  # a MAC that does not verify
    delivery = ("300234010000001", 41, "26-03-28 10:00:00")
    assert store.accept_webhook(*delivery, b"not a frame") == REJECTED
    assert store.accept_webhook(*delivery, bytes(forged)) == REJECTED
    assert store.accept_webhook(*delivery, genuine) == ACCEPTED
    assert store.accept_webhook(*delivery, genuine) == DUPLICATE
    assert store.counts[ACCEPTED] == 1 and store.counts[REJECTED] == 2


def test_exports_have_the_detections_csv_columns(tmp_path, store):
    original = make_detections(50)
    original[20:] = [
        dataclasses.replace(d, model="narw-cnn@5f1c2a9e", hydrophone="ST6872", calibration_db=-177.6)
        for d in original[20:]
    ]
    for f in reversed(pack_all(list(enumerate(original, 1)), deployment="buoy-1", key=KEY)):  # identity last
        store.accept(f)
    assert export_csv(store, tmp_path / "out.csv") == 50
    with open(tmp_path / "out.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == DETECTION_COLUMNS and rows[0]["deployment"] == "buoy-1"
    assert [r["label"] for r in rows] == [d.label for d in original]
    identity = [(r["model"], r["config_hash"], r["hydrophone"], r["calibration_db"]) for r in rows]
    assert (
        identity
        == [("", "0123456789abcdef", "", "")] * 20
        + [("narw-cnn@5f1c2a9e", "0123456789abcdef", "ST6872", "-177.60")] * 30
    )
    tables = export_raven(store, tmp_path / "raven")
    assert [t.name for t in tables] == ["buoy-1_20260328.selections.txt"]
    assert tables[0].read_text().startswith("Selection\tView\tChannel\tBegin Time (s)")


def test_a_click_train_reaches_the_export_and_an_older_store_gains_the_columns(tmp_path, clock):
    path = tmp_path / "old.sqlite"
    with ShoreStore(path, KeyRing({"buoy-1": KEY}), clock=clock) as s:  # then drop what an older store lacked
        s.conn.execute("DROP TABLE records")
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE records (deployment TEXT NOT NULL, seq INTEGER NOT NULL, time_s REAL NOT NULL, "
        "file_time INTEGER NOT NULL, channel INTEGER NOT NULL, duration_s REAL NOT NULL, low_hz REAL NOT NULL, "
        "high_hz REAL NOT NULL, label TEXT NOT NULL, score REAL, snr_db REAL, received_level_db REAL, "
        "PRIMARY KEY (deployment, seq))"
    )
    conn.commit()
    conn.close()
    dets = make_detections(4)
    dets[2] = dataclasses.replace(dets[2], label="sperm", clicks=23, ici_s=0.91)
    with ShoreStore(path, KeyRing({"buoy-1": KEY}), clock=clock) as s:
        for f in pack_all(list(enumerate(dets, 1)), deployment="buoy-1", key=KEY):
            assert s.accept(f) == ACCEPTED
        assert export_csv(s, tmp_path / "out.csv") == 4
    with open(tmp_path / "out.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["clicks"], r["ici_s"]) for r in rows if r["label"] != "sperm"] == [("", "")] * 3
    (train,) = [r for r in rows if r["label"] == "sperm"]
    assert train["clicks"] == "23" and float(train["ici_s"]) == pytest.approx(0.91, rel=0.011)  # 1/32 octave
