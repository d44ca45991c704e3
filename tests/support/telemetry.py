"""Telemetry helpers: seeded synthetic detections like a buoy's, the detector's side of a
buoy in a thread, the edge-sync process helpers, and the frame quantisation check."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
import random
import signal
import subprocess
from pathlib import Path

import pytest

from edge.sync import frames as fr
from edge.types import Detection

T0 = dt.datetime(2026, 3, 28, 0, 0, tzinfo=dt.timezone.utc)


def make_detections(
    n: int,
    *,
    seed: int = 5,
    deployment: str = "buoy-1",
    labels=("upcall", "gunshot"),
    mean_gap_s: float = 86.4,
    scores: bool = True,
    trains: float = 0.0,
) -> list[Detection]:
    """``n`` detections in time order, as a classifier on a right-whale buoy makes them; with
    ``trains``, that share of them click trains (a click count and a median ICI)."""
    rnd = random.Random(seed)
    t = 0.0
    out = []
    for _ in range(n):
        t += rnd.expovariate(1 / mean_gap_s)
        start = T0 + dt.timedelta(seconds=round(t, 3))
        dur = round(rnd.uniform(0.4, 3.0), 3)
        low = round(rnd.uniform(40, 150), 1)
        out.append(
            Detection(
                file=f"{start:%Y%m%d_%H}0000.wav",
                channel=0,
                start_utc=start.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                start_s=round(t % 3600, 3),
                end_s=round(t % 3600 + dur, 3),
                low_hz=low,
                high_hz=round(low + rnd.uniform(20, 200), 1),
                label=rnd.choice(labels),
                score=round(rnd.uniform(0.5, 1.0), 4) if scores else float("nan"),
                snr_db=round(rnd.uniform(10, 40), 2),
                received_level_db=round(rnd.uniform(90, 140), 2),
                deployment=deployment,
                config_hash="0123456789abcdef",
            )
        )
        if trains and rnd.random() < trains:
            out[-1] = dataclasses.replace(out[-1], clicks=rnd.randint(3, 400), ici_s=round(rnd.uniform(0.002, 1.5), 4))
    return out


def console_script(name: str) -> list[str]:
    """The installed console script (``edge-sync``, ``edge-shore``) next to this interpreter."""
    import shutil
    import sys

    script = Path(sys.executable).parent / name
    found = str(script) if script.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: pip install -e .")
    return [found]


class Detector:
    """The detector's side of a buoy, in a thread: appends ``detections`` to the log in
    batches, as edge-detect does, while the sender runs (and is killed) in its own process."""

    def __init__(self, log_path, detections, *, batch: int = 97, interval_s: float = 0.1) -> None:
        import threading

        self.log_path, self.detections, self.batch, self.interval_s = log_path, detections, batch, interval_s
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import time

        from edge.log import DetectionLog

        try:
            with DetectionLog(self.log_path) as log:
                for i in range(log.count(), len(self.detections), self.batch):
                    log.append(self.detections[i : i + self.batch])
                    time.sleep(self.interval_s)
        except BaseException as exc:  # reported by join()
            self.error = exc

    def start(self) -> Detector:
        self.thread.start()
        return self

    def join(self) -> None:
        self.thread.join(120)
        assert not self.thread.is_alive(), "the detector thread did not finish"
        if self.error is not None:
            raise self.error


def kill_sender(proc: subprocess.Popen) -> None:
    """SIGKILL a running ``edge-sync send``; it must not have crashed on its own before."""
    os.kill(proc.pid, signal.SIGKILL)
    _, err = proc.communicate()
    assert "Traceback" not in err, err[-2000:]


def drain(send: list[str]) -> None:
    """One last ``edge-sync send`` run that empties the outbox."""
    done = subprocess.run(send, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0 and done.stdout.strip().endswith("pending 0"), done.stdout + done.stderr[-2000:]


def assert_within_quantisation(original: Detection, rec: fr.FrameRecord) -> None:
    t = original.start_s if not original.start_utc else fr.utc_seconds(original.start_utc)
    assert abs(rec.time_s - t) <= 0.05 + 1e-6
    assert abs(rec.duration_s - (original.end_s - original.start_s)) <= 0.025 + 1e-6
    for got, want in ((rec.low_hz, original.low_hz), (rec.high_hz, original.high_hz)):
        if want >= 10:
            assert abs(got - want) <= 0.011 * want + 0.05
    assert rec.label == original.label
    if math.isnan(original.score):
        assert math.isnan(rec.score)
    else:
        assert abs(rec.score - original.score) <= 0.5 / 127 + 1e-4
    assert abs(rec.snr_db - original.snr_db) <= 0.25 + 1e-9
    assert abs(rec.received_level_db - original.received_level_db) <= 0.25 + 1e-9
    assert rec.clicks == original.clicks
    if original.clicks and not math.isnan(original.ici_s):
        assert abs(rec.ici_s - original.ici_s) <= 0.011 * original.ici_s  # 1/32 octave
    else:
        assert math.isnan(rec.ici_s)
