"""What machine a benchmark ran on, from /proc/cpuinfo and the device tree."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from edge.devices import board_model


def cpu_name(cpuinfo: str = "/proc/cpuinfo") -> str:
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return platform.processor() or "unknown"
    for key in ("model name", "Model", "Hardware", "cpu model"):
        for line in text.splitlines():
            if line.split(":")[0].strip() == key:
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def describe() -> dict[str, Any]:
    """``board`` (device-tree model, None on a PC), ``cpu``, ``cores``, ``arch``, ``kernel``."""
    return {
        "board": board_model(),
        "cpu": cpu_name(),
        "cores": os.cpu_count() or 1,
        "arch": platform.machine(),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
