"""Telemetry: the detection log, authenticated frames, the outbox and the transports.

``log`` (SQLite) -> ``outbox`` -> ``frames`` (byte budget, HMAC) -> ``iridium`` / ``mqtt``.
Nothing here imports pyserial or paho-mqtt at import time; the transports import them when
opened and say ``pip install "pamedge[sync]"`` when they are missing.
"""
