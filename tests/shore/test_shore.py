"""Shore: accepted / duplicate / rejected, RockBLOCK web-hook POSTs with MOMSN wrap, exports."""

from __future__ import annotations

import csv
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest

from edge.outputs import DETECTION_COLUMNS
from edge.sync.frames import KeyRing, pack_all
from shore.export import export_csv, export_raven
from shore.ingest import ingest_folder, webhook_server
from shore.store import ACCEPTED, DUPLICATE, REJECTED, ShoreStore
from tests.edge.sync.conftest import make_detections

KEY = bytes(range(32))


@pytest.fixture
def store(tmp_path):
    with ShoreStore(tmp_path / "shore.sqlite", KeyRing({"buoy-1": KEY, "buoy-2": bytes(range(1, 33))})) as s:
        yield s


def frames(n=200, **kw):
    return pack_all(list(enumerate(make_detections(n), 1)), deployment="buoy-1", key=KEY, **kw)


def test_flipped_bit_other_key_and_replay_are_rejected_and_counted(store):
    fs = frames()
    assert [store.accept(f) for f in fs] == [ACCEPTED] * len(fs)
    flipped = bytearray(fs[1])
    flipped[20] ^= 0x04
    assert store.accept(bytes(flipped)) == REJECTED
    other = pack_all(list(enumerate(make_detections(3), 1)), deployment="buoy-1", key=bytes(range(1, 33)))[0]
    assert store.accept(other) == REJECTED  # buoy-2's key used for buoy-1's frames
    assert store.accept(fs[0]) == DUPLICATE  # a replayed old frame stores nothing
    assert dict(store.counts) == {ACCEPTED: len(fs), REJECTED: 2, DUPLICATE: 1}
    assert store.conn.execute("SELECT COUNT(*) FROM rejected").fetchone()[0] == 2
    assert store.seqs("buoy-1") == list(range(1, 201))


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
        momsns = [65534, 65535, 0, 1][: len(fs)]
        for f, m in zip(fs, momsns):
            assert post(port, imei="300234010000001", momsn=m, transmit_time=f"26-03-28 00:0{m % 10}:00",
                        data=f.hex()) == (200, ACCEPTED)
        # RockBLOCK retrying a POST: same imei, momsn and time
        assert post(port, imei="300234010000001", momsn=0, transmit_time="26-03-28 00:00:00",
                    data=fs[2].hex())[1] == DUPLICATE
        with pytest.raises(urllib.error.HTTPError, match="400"):
            post(port, imei="300234010000001", data="zz")
    finally:
        server.shutdown()
        server.server_close()
    assert store.seqs("buoy-1") == list(range(1, 151))


def test_exports_have_the_detections_csv_columns(tmp_path, store):
    for f in frames(50):
        store.accept(f)
    assert export_csv(store, tmp_path / "out.csv") == 50
    with open(tmp_path / "out.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == DETECTION_COLUMNS and rows[0]["deployment"] == "buoy-1"
    original = make_detections(50)
    assert [r["label"] for r in rows] == [d.label for d in original]
    tables = export_raven(store, tmp_path / "raven")
    assert [t.name for t in tables] == ["buoy-1_20260328.selections.txt"]
    assert tables[0].read_text().startswith("Selection\tView\tChannel\tBegin Time (s)")
