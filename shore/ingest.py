"""Sources of frames for the shore store: a folder of frame files, RockBLOCK web-hook POSTs,
and an MQTT topic (QoS 1, persistent session)."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from edge.errors import MissingExtraError
from shore.store import ShoreStore

SYNC_HINT = 'pip install "pamedge[sync]"'


def ingest_folder(store: ShoreStore, folder: str | Path) -> None:
    """Every file under ``folder`` in name order: ``*.frame``/``*.bin`` hold one frame,
    ``*.json`` one RockBLOCK web-hook delivery (imei, momsn, transmit_time, data hex)."""
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith(".")):
        if path.suffix in (".frame", ".bin"):
            store.accept(path.read_bytes(), str(path))
        elif path.suffix == ".json":
            try:
                doc = json.loads(path.read_text())
                imei, momsn, when, data = str(doc["imei"]), int(doc["momsn"]), str(doc["transmit_time"]), \
                    bytes.fromhex(doc["data"])
            except (OSError, ValueError, KeyError, TypeError):
                store.accept(b"", str(path))  # counted as rejected
                continue
            store.accept_webhook(imei, momsn, when, data)


def webhook_server(store: ShoreStore, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """An HTTP server taking RockBLOCK web-hook POSTs (form-encoded or JSON: imei, momsn,
    transmit_time, data as hex).  Answers 200 to every well-formed POST (a rejected frame
    must not be retried); 400 to a POST missing fields.  Call ``serve_forever``."""
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace")
            try:
                if "json" in (self.headers.get("Content-Type") or ""):
                    fields = json.loads(raw)
                else:
                    fields = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                imei, momsn = str(fields["imei"]), int(fields["momsn"])
                transmit_time, data = str(fields.get("transmit_time", "")), bytes.fromhex(str(fields["data"]))
            except (KeyError, ValueError, TypeError):
                self.send_response(400)
                self.end_headers()
                return
            with lock:
                outcome = store.accept_webhook(imei, momsn, transmit_time, data)
            body = outcome.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet: the counts are reported
            pass

    return ThreadingHTTPServer((host, port), Handler)


def ingest_mqtt(store: ShoreStore, url: str, *, client_id: str = "pamedge-shore", idle_s: float | None = None) -> None:
    """Subscribe to ``url``'s topic with QoS 1 in a persistent session (messages published
    while shore was away are delivered on reconnect); stops after ``idle_s`` without messages."""
    try:
        import paho.mqtt.client as mqtt
    except ImportError:
        raise MissingExtraError(f"MQTT ingest needs paho-mqtt: {SYNC_HINT}") from None
    import queue
    import time

    from edge.sync.mqtt import parse_url

    host, port, topic = parse_url(url)
    inbox: queue.Queue = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
    subscribed = threading.Event()
    client.on_connect = lambda c, u, flags, rc, props=None: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda c, u, mid, codes, props=None: subscribed.set()
    client.on_message = lambda c, u, msg: inbox.put(bytes(msg.payload))
    client.connect(host, port)
    client.loop_start()
    try:
        if not subscribed.wait(30):
            raise OSError(f"{url}: no subscription acknowledgement from the broker")
        last = time.monotonic()
        while idle_s is None or time.monotonic() - last < idle_s:
            try:
                store.accept(inbox.get(timeout=0.2), url)
                last = time.monotonic()
            except queue.Empty:
                continue
    finally:
        client.disconnect()  # first: the network thread sends it and ends at once (not at its next 1 s tick)
        client.loop_stop()
