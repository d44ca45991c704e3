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


# Bounds on what a sender can make shore read or hold (an SBD message is at most 340 bytes,
# 680 as hex; a frame file or MQTT payload past MAX_FRAME_BYTES cannot be a pamedge frame)
MAX_FRAME_BYTES = 4096
MAX_DELIVERY_BYTES = 8192  # a web-hook POST body or a .json delivery file
WEBHOOK_TIMEOUT_S = 10.0  # a connection that sends nothing for this long is closed
WEBHOOK_MAX_CONNECTIONS = 16  # connections served at once; more are answered 503 and closed


class DeliveryError(ValueError):
    """A RockBLOCK delivery that is not one: the message names what is wrong."""


def _no_constant(name: str):
    raise DeliveryError(f"{name} is not a JSON number shore accepts")


def parse_delivery(fields: object) -> tuple[str, int, str, bytes]:
    """``(imei, momsn, transmit_time, data)`` of one RockBLOCK delivery (a mapping from JSON
    or a form); :class:`DeliveryError` for anything else: missing or ill-typed fields, a
    MOMSN outside 0-65535, data that is not hex or longer than a frame."""
    if not isinstance(fields, dict):
        raise DeliveryError("a delivery is a mapping of imei, momsn, transmit_time, data")
    try:
        imei, momsn, data = fields["imei"], fields["momsn"], fields["data"]
    except KeyError as exc:
        raise DeliveryError(f"missing field {exc.args[0]!r}") from None
    if isinstance(momsn, str) and momsn.strip().isdigit():
        momsn = int(momsn)
    if not isinstance(imei, (str, int)) or isinstance(imei, bool) or not str(imei).isdigit() or len(str(imei)) > 20:
        raise DeliveryError(f"imei {str(imei)[:40]!r} is not a modem IMEI")
    if not isinstance(momsn, int) or isinstance(momsn, bool) or not 0 <= momsn <= 65535:
        raise DeliveryError(f"momsn {str(momsn)[:40]!r} is not a number from 0 to 65535")
    when = fields.get("transmit_time", "")
    if not isinstance(when, str) or len(when) > 64:
        raise DeliveryError("transmit_time is not a short text")
    if not isinstance(data, str) or len(data) > 2 * MAX_FRAME_BYTES:
        raise DeliveryError("data is not hex text of at most one frame")
    try:
        payload = bytes.fromhex(data)
    except ValueError:
        raise DeliveryError("data is not hex") from None
    return str(imei), momsn, when, payload


def parse_delivery_json(text: str) -> tuple[str, int, str, bytes]:
    """A delivery from JSON text (strict: no NaN/Infinity, bounded nesting and size)."""
    if len(text) > MAX_DELIVERY_BYTES:
        raise DeliveryError(f"{len(text)} bytes, more than a delivery's {MAX_DELIVERY_BYTES}")
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise DeliveryError("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise DeliveryError(f"not JSON ({exc.msg})") from None
    return parse_delivery(doc)


def ingest_folder(store: ShoreStore, folder: str | Path) -> None:
    """Every file under ``folder`` in name order: ``*.frame``/``*.bin`` hold one frame,
    ``*.json`` one RockBLOCK web-hook delivery (imei, momsn, transmit_time, data hex).  A file
    that is not what its name says is counted as rejected (its first bytes kept) and the
    others go on; no file is read past the size its kind can have."""
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith(".")):
        if path.suffix in (".frame", ".bin"):
            store.accept(_head(path, MAX_FRAME_BYTES + 1), str(path))
        elif path.suffix == ".json":
            raw = _head(path, MAX_DELIVERY_BYTES + 1)
            try:
                imei, momsn, when, data = parse_delivery_json(raw.decode("utf-8"))
            except (DeliveryError, UnicodeDecodeError):
                store.accept(raw, str(path))  # counted as rejected (malformed)
                continue
            store.accept_webhook(imei, momsn, when, data)


def _head(path: Path, limit: int) -> bytes:
    """At most ``limit`` bytes of ``path`` (b"" when unreadable: rejected as malformed)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(limit)
    except OSError:
        return b""


def webhook_server(store: ShoreStore, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """An HTTP server taking RockBLOCK web-hook POSTs (form-encoded or JSON: imei, momsn,
    transmit_time, data as hex).  Answers 200 to every well-formed POST (a rejected frame
    must not be retried); 400 to a malformed one, 413 to a body past
    :data:`MAX_DELIVERY_BYTES`; a connection idle for :data:`WEBHOOK_TIMEOUT_S` is closed and
    at most :data:`WEBHOOK_MAX_CONNECTIONS` are served at once (others get 503).  Call
    ``serve_forever``."""
    lock = threading.Lock()
    slots = threading.BoundedSemaphore(WEBHOOK_MAX_CONNECTIONS)

    class Handler(BaseHTTPRequestHandler):
        timeout = WEBHOOK_TIMEOUT_S  # socket timeout: a slow or silent client cannot hold a thread

        def handle(self):  # http.server's naming
            if not slots.acquire(blocking=False):
                self.request_version, self.requestline = "HTTP/1.1", "(refused: busy)"  # nothing parsed yet
                self._answer(503, b"busy")
                return
            try:
                super().handle()
            finally:
                slots.release()

        def do_POST(self):  # http.server's naming
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self._answer(400, b"bad Content-Length")
                return
            if not 0 <= length <= MAX_DELIVERY_BYTES:
                self._answer(413, b"too large")
                return
            raw = self.rfile.read(length).decode("utf-8", "replace")
            try:
                if "json" in (self.headers.get("Content-Type") or ""):
                    imei, momsn, transmit_time, data = parse_delivery_json(raw)
                else:
                    imei, momsn, transmit_time, data = parse_delivery(
                        {k: v[0] for k, v in urllib.parse.parse_qs(raw, max_num_fields=16).items()}
                    )
            except ValueError:  # DeliveryError, or too many form fields
                self._answer(400, b"malformed delivery")
                return
            with lock:
                outcome = store.accept_webhook(imei, momsn, transmit_time, data)
            self._answer(200, outcome.encode())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
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
                store.accept(inbox.get(timeout=0.2)[: MAX_FRAME_BYTES + 1], url)
                last = time.monotonic()
            except queue.Empty:
                continue
    finally:
        client.disconnect()  # first: the network thread sends it and ends at once (not at its next 1 s tick)
        client.loop_stop()
