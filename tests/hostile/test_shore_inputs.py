"""Hostile input at shore (issue: hardening, cases 3, 4, 9, 19): a delivery file or POST that
is not one is counted as rejected and ingest goes on; the database keeps at most the first
bytes of a rejected frame; the web hook answers every request (400, 413, 503) instead of
dropping it, closes silent connections and serves a bounded number at once; a fuzz of the
delivery parser never raises anything but its own error."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shore.ingest as ingest
from edge.sync.frames import KeyRing
from shore.ingest import DeliveryError, ingest_folder, parse_delivery_json, webhook_server
from shore.store import ACCEPTED, MAX_KEPT_REJECT_BYTES, ShoreStore
from tests.support.shore import KEY, frames

IMEI = "300234010000001"


@pytest.fixture
def store(tmp_path):
    with ShoreStore(tmp_path / "shore.sqlite", KeyRing({"buoy-1": KEY})) as s:
        yield s


def _delivery(frame: bytes, momsn: int) -> dict:
    return {"imei": IMEI, "momsn": momsn, "transmit_time": f"26-03-28 00:0{momsn}:00", "data": frame.hex()}


def test_hostile_delivery_files_are_rejected_and_the_others_ingested(tmp_path, store):
    good = frames(150)[:3]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "00.json").write_text(json.dumps(_delivery(good[0], 1)))
    (folder / "01.json").write_text('{"imei": "300234010000001", "momsn": Infinity, "data": "00"}')
    (folder / "02.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "03.json").write_text(json.dumps({**_delivery(good[1], 3), "momsn": 10**30}))
    (folder / "04.json").write_bytes(b"\xff\xfe not utf-8")
    (folder / "05.json").write_text(json.dumps({**_delivery(good[1], 5), "pad": "x" * 100_000}))
    (folder / "06.frame").write_bytes(good[1])
    (folder / "07.frame").write_bytes(b"\x00" * 50_000_000)  # 50 MB: read no further than a frame can be
    (folder / "08.json").write_text(json.dumps(_delivery(good[2], 8)))
    ingest_folder(store, folder)
    assert store.counts[ACCEPTED] == 3  # 00, 06, 08
    assert store.counts["rejected"] == 6
    kept = sqlite3.connect(tmp_path / "shore.sqlite").execute("SELECT MAX(LENGTH(data)) FROM rejected").fetchone()[0]
    assert kept <= MAX_KEPT_REJECT_BYTES


def _raw(port: int, payload: bytes, *, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        s.sendall(payload)
        chunks = []
        while True:
            try:
                part = s.recv(65536)
            except TimeoutError:
                break
            if not part:
                break
            chunks.append(part)
        return b"".join(chunks)


@pytest.fixture
def server(store, monkeypatch):
    monkeypatch.setattr(ingest, "WEBHOOK_TIMEOUT_S", 0.5)
    monkeypatch.setattr(ingest, "WEBHOOK_MAX_CONNECTIONS", 2)
    srv = webhook_server(store, 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _post(body: bytes, *, length: str | None = None, kind: str = "application/json") -> bytes:
    head = (
        f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: {kind}\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    ).encode()
    return head + body


def test_the_web_hook_answers_every_hostile_post(server, store):
    port = server.server_address[1]
    assert _raw(port, _post(b"{}", length="12abc")).startswith(b"HTTP/1.0 400")
    assert _raw(port, _post(b"", length=str(50_000_000))).startswith(b"HTTP/1.0 413")
    deep = b"[" * 4000 + b"]" * 4000
    assert _raw(port, _post(deep)).startswith(b"HTTP/1.0 400")
    assert _raw(port, _post(b'{"imei": "1", "momsn": NaN, "data": "00"}')).startswith(b"HTTP/1.0 400")
    good = json.dumps(_delivery(frames(1)[0], 1)).encode()
    reply = _raw(port, _post(good))
    assert reply.startswith(b"HTTP/1.0 200") and reply.endswith(ACCEPTED.encode())


def test_silent_connections_are_closed_and_bounded(server):
    port = server.server_address[1]
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]  # hold both slots
    try:
        time.sleep(0.1)
        assert _raw(port, _post(b"{}")).startswith(b"HTTP/1.0 503")
        for s in idle:  # closed by the server after its timeout, not held forever
            s.settimeout(5)
            assert s.recv(100) == b""
    finally:
        for s in idle:
            s.close()
    assert _raw(port, _post(b"{}")).startswith(b"HTTP/1.0 400")  # slots free again


@settings(derandomize=True, max_examples=500, deadline=None)
@given(
    st.one_of(
        st.text(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(st.sampled_from(["imei", "momsn", "data", "transmit_time", "x"]), inner, max_size=5)
            ),
            max_leaves=20,
        ).map(lambda doc: json.dumps(doc, allow_nan=True)),
    )
)
@pytest.mark.slow
def test_the_delivery_parser_raises_only_its_own_error(text):
    try:
        imei, momsn, when, data = parse_delivery_json(text)
    except DeliveryError:
        return
    assert imei.isdigit() and 0 <= momsn <= 65535 and isinstance(when, str) and isinstance(data, bytes)
