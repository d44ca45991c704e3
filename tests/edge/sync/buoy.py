"""A buoy for the end-to-end tests, run as a program: it logs detections in batches (the
detector) and sends them through the outbox over a modem, with a virtual clock so backoffs
take no real time.  Killed at random by the tests; restarting it continues.

    python -m tests.edge.sync.buoy LOG DEVICE TOTAL
"""

from __future__ import annotations

import sys
import time

from edge.sync.iridium import IridiumModem
from edge.sync.log import DetectionLog
from edge.sync.outbox import Outbox
from edge.sync.sender import send_pending
from tests.edge.sync.conftest import make_detections

KEY = bytes(range(32))
BATCH = 97


def main(log_path: str, device: str, total: int) -> None:
    offset = [0.0]
    clock = lambda: time.time() + offset[0]  # noqa: E731
    sleep = lambda s: offset.__setitem__(0, offset[0] + s)  # noqa: E731
    dets = make_detections(total, seed=2026)
    log = DetectionLog(log_path)
    box = Outbox(log, {"buoy-1": KEY}, clock=clock)
    modem = IridiumModem(device, timeout_s=0.5, session_timeout_s=0.3)
    while True:
        n = log.count()
        if n < total:
            log.append(dets[n:n + BATCH])
        send_pending(box, modem, sleep=sleep, max_sessions=3)
        if n >= total and box.status()["frames_pending"] == 0:
            break
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
