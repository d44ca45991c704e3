"""Backlog-aware degradation: step down when the backlog or the disk crosses a configured
limit, step back up, one level at a time, only once comfortably clear of it (hysteresis),
so the level does not flap around a threshold."""

from __future__ import annotations

from edge.daemon.config import DegradeSettings
from edge.daemon.types import Level


class Degrader:
    def __init__(self, settings: DegradeSettings, level: Level = Level.FULL) -> None:
        self.settings = settings
        self.level = level
        self.reason = "ok"

    def _needed(self, backlog_s: float, free_mb: float | None, *, margin: bool) -> tuple[Level, str]:
        """The level the pressures call for; with ``margin``, thresholds moved by the
        hysteresis (the test for stepping up)."""
        s = self.settings
        needed, reason = Level.FULL, "ok"
        for level, limit in zip((Level.LIMITED, Level.ROI_ONLY), s.backlog_s):
            if backlog_s > (limit * s.recover if margin else limit):
                needed, reason = level, f"backlog {backlog_s:.0f} s > {limit:g} s"
        if free_mb is not None:
            for level, limit in zip((Level.LIMITED, Level.ROI_ONLY), s.min_free_mb):
                if free_mb < (limit / s.recover if margin else limit) and level >= needed:
                    needed, reason = level, f"disk free {free_mb:.0f} MB < {limit:g} MB"
        return needed, reason

    def update(self, backlog_s: float, free_mb: float | None) -> bool:
        """Re-evaluate; True when the level changed."""
        down, why = self._needed(backlog_s, free_mb, margin=False)
        if down > self.level:
            self.level, self.reason = down, why
            return True
        if self.level > Level.FULL:
            hold, why = self._needed(backlog_s, free_mb, margin=True)
            if hold < self.level:
                self.level = Level(self.level - 1)
                self.reason = "recovered" if self.level == Level.FULL else f"recovering ({why})"
                return True
        return False
