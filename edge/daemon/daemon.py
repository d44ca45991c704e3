"""The daemon's loop: take the next complete recording, process it at the current
degradation level, commit it to the log in one transaction, apply retention, report health.

The loop never waits on anything but its source; a recording that cannot be processed is
committed as ``failed`` (it is not retried forever); SIGTERM/SIGINT end the loop after the
recording under way is committed.  State lives only in the log: a restart (after a crash, a
power cut or SIGKILL) continues after the last committed recording, with its noise floor.
"""

from __future__ import annotations

import datetime as dt
import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge.audio import discover, probe
from edge.calibration import HydrophoneTable
from edge.classify import Classifier
from edge.config import DeploymentConfig
from edge.daemon.degrade import Degrader
from edge.daemon.health import clipped_fraction, cpu_temp_c, disk_free_mb, read_number
from edge.daemon.isolate import WorkerCrash, process_isolated
from edge.daemon.notify import notify
from edge.daemon.retention import Retention, utc_now
from edge.daemon.state import DaemonLog, HealthRecord, Processed
from edge.daemon.types import Level, PendingFile, Source
from edge.detect import contiguous, soundscape_minutes
from edge.errors import PamedgeError
from edge.pipeline import RecordingResult, process_recording
from edge.soundscape.types import Minute
from edge.types import AudioInfo, Detection

LEVEL_COST = {Level.FULL: 1.0, Level.LIMITED: 0.5, Level.ROI_ONLY: 0.0}  # of simulate_block_cost_s
# an isolated worker slower than twice real time on its recording is taken for hung
ISOLATED_MIN_TIMEOUT_S, ISOLATED_TIMEOUT_FACTOR = 300.0, 2.0


@dataclass
class Sensors:
    """Where the health records read the SoC temperature and battery voltage (a device
    profile's sensor paths); None: not fitted."""

    cpu_temp: tuple[str, ...] = ("/sys/class/thermal/thermal_zone0/temp",)
    battery_voltage: str | None = None
    battery_scale: float = 0.001  # hwmon in*_input is millivolts


@dataclass
class Summary:
    files: int = 0
    failed: int = 0
    skipped: int = 0  # already in the log (a restart)
    detections: int = 0
    audio_s: float = 0.0
    processing_s: float = 0.0


def _parse_utc(text: str) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


class Daemon:
    def __init__(
        self,
        config: DeploymentConfig,
        source: Source,
        *,
        table: HydrophoneTable | None = None,
        classifier: Classifier | None = None,
        sensors: Sensors | None = None,
        on_file: Callable[[Processed], None] | None = None,
        on_event: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config, self.settings = config, config.run
        self.source, self.table, self.classifier = source, table, classifier
        self.sensors = sensors or Sensors()
        self.on_file, self.on_event, self.clock = on_file, on_event or (lambda _: None), clock
        path = config.log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.log = DaemonLog(path)
        source.skip(self.log.processed_keys())
        self.degrader = Degrader(self.settings.degrade)
        self.retention = Retention(
            self.settings.retention, source.folders(), self.log, drop=self._drop, on_delete=self.on_event
        )
        self.stopping = False
        self.started = clock()
        self._period = {"audio_s": 0.0, "processing_s": 0.0, "clipped": 0.0, "clip_s": 0.0}
        self._noise_db: float | None = None
        self._last_health = -math.inf

    # -- signals ------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self.stop)

    def stop(self, *_args: object) -> None:
        """Finish the recording under way, then leave the loop."""
        self.stopping = True

    # -- the loop -----------------------------------------------------------------------
    def run(self) -> Summary:
        summary = Summary()
        notify("READY=1")
        self._health("start", force=True)
        try:
            self.retention.enforce(self._unprocessed)  # a card filled while the daemon was down
            while not self.stopping:
                notify("WATCHDOG=1")
                item = self.source.next(self.settings.poll_s)
                if item is None:
                    self._housekeeping()
                    if self.source.exhausted:
                        break
                    continue
                if self.log.is_processed(item.key):
                    summary.skipped += 1
                    self.source.done(item)
                    continue
                self._update_level()
                row, detections = self._process(item)
                self.source.done(item)
                summary.files += 1
                summary.failed += row.status != "ok"
                summary.detections += len(detections)
                summary.audio_s += row.duration_s
                summary.processing_s += row.processing_s
                self.retention.after(item.path, item.key, item.owned, detections)
                if self.on_file:
                    self.on_file(row)
                self._housekeeping()
        finally:
            notify("STOPPING=1")
            self._health("stop", force=True)
            self.source.close()
            self.log.close()
        return summary

    def _housekeeping(self) -> None:
        self.retention.enforce(self._unprocessed)
        self._update_level()
        self._health("period")

    def _unprocessed(self) -> list[Path]:
        if not self.source.folders():
            return []
        done = self.log.processed_keys()
        out = []
        for p in discover(self.source.folders()):
            try:
                if PendingFile(p, p.stat().st_size, True).key not in done:
                    out.append(p)
            except OSError:  # removed since the listing
                pass
        return out

    def _free_mb(self) -> float | None:
        if self.source.folders():
            return self.retention.free_mb(self._unprocessed())
        return disk_free_mb(self.config.log_path().parent)

    def _update_level(self) -> None:
        if self.degrader.update(self.source.backlog_s(), self._free_mb()):
            self.on_event(f"level {self.degrader.level.label}: {self.degrader.reason}")
            self._health("level", force=True)

    # -- one recording ------------------------------------------------------------------
    def _carry(self) -> tuple[AudioInfo | None, list[np.ndarray] | None]:
        last = self.log.last()
        if last is None or last[0].status != "ok":
            return None, None
        row, state = last
        if not row.sample_rate:
            return None, None
        sr = row.sample_rate
        info = AudioInfo(row.path, sr, 1, round(row.duration_s * sr), "", _parse_utc(row.start_utc))
        return info, state

    def _classify_kwargs(self, level: Level) -> dict[str, Any]:
        if self.classifier is None or level == Level.ROI_ONLY:
            return {}
        if level == Level.LIMITED:
            return {"classifier": self.classifier, "classify_limit": self.settings.degrade.classify_limit}
        return {"classifier": self.classifier}

    def _process(self, item: PendingFile) -> tuple[Processed, list[Detection]]:
        level = self.degrader.level
        t0 = time.perf_counter()
        # a recording under way when the daemon last ended (crash, kill or power cut) goes to a
        # worker process of its own: only its worker dying counts against it
        isolate = self.log.attempt(item.key) > 1 and self.settings.max_attempts is not None
        prev_info, prev_state = self._carry()
        try:
            info = probe(item.path, allow_truncated=True, timezone=self.config.tz())
            carry = contiguous(prev_info, info)
            gap = None
            prev_end = prev_info.end_utc if prev_info is not None else None
            if prev_end is not None and info.start_utc:
                gap = (info.start_utc - prev_end).total_seconds()
            if isolate:
                isolated = self._isolated(item, info, prev_state if carry else None, level)
                if isinstance(isolated, Processed):
                    return isolated, []
                result = isolated
            else:
                result = process_recording(
                    item.path,
                    self.config,
                    self.table,
                    allow_truncated=True,
                    noise_state=prev_state if carry else None,
                    display_name=str(item.path),
                    **self._classify_kwargs(level),
                )
        except (PamedgeError, ValueError, OSError) as exc:
            return self._failed(item, " ".join(str(exc).split()), level, time.perf_counter() - t0), []
        clipped = clipped_fraction(item.path, self.config.channel)
        minutes, warnings = self._soundscape(info, result, level)
        self._simulated_cost(info, level)
        processing_s = time.perf_counter() - t0
        row = Processed(
            item.key,
            str(item.path),
            "ok",
            "; ".join(result.warnings + warnings),
            info.start_utc.isoformat() if info.start_utc else "",
            info.duration_s,
            info.sample_rate,
            gap,
            utc_now(),
            processing_s,
            level.label,
            len(result.rois),
            len(result.detections),
            None if clipped is None else 100.0 * clipped,
        )
        self.log.commit_file(row, result.detections, result.levels, result.noise_state, minutes)
        p = self._period
        p["audio_s"] += info.duration_s
        p["processing_s"] += processing_s
        if clipped is not None:
            p["clipped"] += clipped * info.duration_s
            p["clip_s"] += info.duration_s
        if result.levels:
            self._noise_db = result.levels[-1].broadband_db
        return row, result.detections

    def _soundscape(self, info: AudioInfo, result: RecordingResult, level: Level) -> tuple[list[Minute], list[str]]:
        """The recording's HMD minutes when the deployment has a soundscape: section and
        the daemon keeps up (shed with classification at roi-only); a warning instead when
        the recording has no UTC start."""
        if self.config.soundscape is None or level >= Level.ROI_ONLY:
            return [], []
        try:
            minutes = soundscape_minutes(
                info, result.calibration, self.config.channel, self.config, encoder_top_hz=result.encoder_top_hz
            )
            return minutes, []
        except ValueError as exc:
            return [], [str(exc)]

    def _isolated(
        self, item: PendingFile, info: AudioInfo, noise_state: list[np.ndarray] | None, level: Level
    ) -> RecordingResult | Processed:
        """The recording processed in isolated workers, retried while they crash up to
        ``max_attempts`` crashes in all (counted durably); then the failed row, committed."""
        kwargs = self._classify_kwargs(level)
        limit = self.settings.max_attempts or 1
        while True:
            outcome = process_isolated(
                item.path,
                self.config,
                self.table,
                kwargs.get("classifier"),
                noise_state=noise_state,
                classify_limit=kwargs.get("classify_limit"),
                timeout_s=max(ISOLATED_MIN_TIMEOUT_S, ISOLATED_TIMEOUT_FACTOR * info.duration_s),
                on_wait=lambda: notify("WATCHDOG=1"),
            )
            if not isinstance(outcome, WorkerCrash):
                return outcome
            crashes = self.log.crashed(item.key)
            self.on_event(f"{item.path}: the isolated worker processing it died ({outcome.how}), crash {crashes}")
            if crashes >= limit:
                reason = (
                    f"{item.path}: given up: it ended the daemon, then crashed the worker processing it in "
                    f"isolation {crashes} time{'s' * (crashes != 1)} (last: {outcome.how})"
                )
                return self._failed(item, reason, level, 0.0)

    def _failed(self, item: PendingFile, reason: str, level: Level, processing_s: float) -> Processed:
        """Commit ``item`` as failed for ``reason`` and return its row."""
        row = Processed(
            item.key,
            str(item.path),
            "failed",
            reason,
            "",
            0.0,
            None,
            None,
            utc_now(),
            processing_s,
            level.label,
            0,
            0,
            None,
        )
        self.log.commit_file(row, [], [], None)
        return row

    def _simulated_cost(self, info: AudioInfo, level: Level) -> None:
        cost = self.settings.simulate_block_cost_s * LEVEL_COST[level]
        if cost > 0:
            block_frames = max(1, round(self.config.block_s * info.sample_rate))
            time.sleep(cost * math.ceil(info.frames / block_frames))

    def _drop(self, path: Path) -> None:
        """Record an unprocessed recording deleted to keep the disk from filling."""
        try:
            info = probe(path, allow_truncated=True, timezone=self.config.tz())
            start = info.start_utc.isoformat() if info.start_utc else ""
            duration, rate = info.duration_s, info.sample_rate
        except PamedgeError:
            start, duration, rate = "", 0.0, None
        key = PendingFile(path, path.stat().st_size, True).key
        row = Processed(
            key,
            str(path),
            "dropped",
            "deleted unprocessed: disk budget exceeded",
            start,
            duration,
            rate,
            None,
            utc_now(),
            0.0,
            self.degrader.level.label,
            0,
            0,
            None,
        )
        self.log.commit_file(row, [], [], None)
        self.log.mark_deleted(key)

    # -- health -------------------------------------------------------------------------
    def _health(self, event: str, *, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._last_health < self.settings.health_period_s:
            return
        self._last_health = now
        totals = self.log.totals()
        backlog = self.source.backlog_s()
        p = self._period
        folders = self.source.folders()
        record = HealthRecord(
            utc=utc_now(),
            event=event,
            uptime_s=round(now - self.started, 3),
            level=self.degrader.level.label,
            level_reason=self.degrader.reason,
            recorded_s=totals["processed_s"] + backlog + totals["dropped_s"],
            processed_s=totals["processed_s"],
            backlog_s=backlog,
            dropped_s=totals["dropped_s"],
            gaps_s=totals["gaps_s"],
            clipped_pct=100.0 * p["clipped"] / p["clip_s"] if p["clip_s"] else None,
            noise_db=self._noise_db,
            realtime_factor=p["audio_s"] / p["processing_s"] if p["processing_s"] > 0 else None,
            disk_free_mb=self._free_mb(),
            audio_mb=self.retention.used_mb() if folders else None,
            cpu_temp_c=cpu_temp_c(self.sensors.cpu_temp),
            battery_v=read_number(self.sensors.battery_voltage, self.sensors.battery_scale)
            if self.sensors.battery_voltage
            else None,
            files=int(totals["files"]),
            detections=int(totals["detections"]),
        )
        self.log.add_health(record)
        self._period = {"audio_s": 0.0, "processing_s": 0.0, "clipped": 0.0, "clip_s": 0.0}
