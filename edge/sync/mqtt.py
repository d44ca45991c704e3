"""LTE transport: MQTT with paho-mqtt, QoS 1, a persistent session, optional TLS.

A frame counts as sent when the broker acknowledged it (PUBACK); QoS 1 may deliver it twice,
which shore deduplicates by frame sequence.  paho is imported when the transport is opened.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from edge.errors import MissingExtraError
from edge.sync.iridium import SYNC_HINT, SendResult


def parse_url(url: str) -> tuple[str, int, str]:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme != "mqtt" or not parsed.hostname or not parsed.path.strip("/"):
        raise ValueError(f"{url}: expected mqtt://host:port/topic")
    return parsed.hostname, parsed.port or 1883, parsed.path.lstrip("/")


class MqttTransport:
    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        timeout_s: float = 10.0,
        tls: bool = False,
        ca_file: str | None = None,
        username: str | None = None,
        password_file: str | None = None,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
            from paho.mqtt.enums import CallbackAPIVersion
        except ImportError:
            raise MissingExtraError(f"the MQTT transport needs paho-mqtt: {SYNC_HINT}") from None
        self.host, self.port, self.topic = parse_url(url)
        self.timeout_s = timeout_s
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        if tls:
            self.client.tls_set(ca_certs=ca_file)
        if username:
            password = Path(password_file).read_text().strip() if password_file else None
            self.client.username_pw_set(username, password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.connect_async(self.host, self.port)
        self.client.loop_start()

    def send(self, data: bytes) -> SendResult:
        if not self.client.is_connected():
            import time

            deadline = time.monotonic() + self.timeout_s
            while not self.client.is_connected() and time.monotonic() < deadline:
                time.sleep(0.05)
            if not self.client.is_connected():
                return SendResult(False, f"not connected to {self.host}:{self.port}")
        info = self.client.publish(self.topic, data, qos=1)
        try:
            info.wait_for_publish(timeout=self.timeout_s)
        except (RuntimeError, ValueError) as exc:
            return SendResult(False, f"publish failed: {exc}")
        if not info.is_published():
            return SendResult(False, "no PUBACK in time")
        return SendResult(True, f"mid {info.mid}")

    def check_mailbox(self) -> None:
        """No downlink over MQTT (commands come by Iridium): nothing to fetch."""
        return None

    def close(self) -> None:
        self.client.disconnect()  # first: the network thread sends it and ends at once (not at its next 1 s tick)
        self.client.loop_stop()
