"""What the health records measure: sensors, disk, clipping, and the running effort totals."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

CPU_TEMP_PATHS = ("/sys/class/thermal/thermal_zone0/temp",)
CLIP_FRACTION = 0.999  # of full scale: a sample this large is taken as clipped


def read_number(path: str | Path, scale: float = 1.0) -> float | None:
    """A sysfs value times ``scale``, or None when the sensor is absent or unreadable."""
    try:
        return float(Path(path).read_text().split()[0]) * scale
    except (OSError, ValueError, IndexError):
        return None


def cpu_temp_c(paths: tuple[str, ...] = CPU_TEMP_PATHS) -> float | None:
    """SoC temperature from the kernel's thermal zone (millidegrees), None without one."""
    for path in paths:
        value = read_number(path, 0.001)
        if value is not None:
            return value
    return None


def disk_free_mb(path: str | Path) -> float | None:
    """Free space (for an unprivileged writer) on the filesystem holding ``path``."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize / 1e6


def folder_mb(folders: list[Path]) -> float:
    """Bytes of the files under ``folders``, in MB (the disk budget's measure)."""
    total = 0
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in files:
                try:
                    total += os.stat(os.path.join(root, name)).st_size
                except OSError:
                    pass
    return total / 1e6


def clipped_fraction(path: str | Path, channel: int, *, block_frames: int = 1 << 18) -> float | None:
    """Fraction of ``channel``'s samples at or beyond :data:`CLIP_FRACTION` of full scale
    (a second, cheap read of the file: process_recording does not expose its samples)."""
    try:
        with sf.SoundFile(str(path)) as fh:
            clipped = total = 0
            dtype = "int16" if fh.subtype in ("PCM_16", "PCM_S8", "PCM_U8") else "float32"
            limit = CLIP_FRACTION * (32767 if dtype == "int16" else 1.0)
            for block in fh.blocks(block_frames, dtype=dtype, always_2d=True):
                x = block[:, channel]
                clipped += int(np.count_nonzero(np.abs(x.astype(np.float32)) >= limit))
                total += len(x)
    except (sf.LibsndfileError, RuntimeError, OSError, IndexError):
        return None
    return clipped / total if total else None


def usage_mb(path: str | Path) -> float | None:
    try:
        return shutil.disk_usage(path).used / 1e6
    except OSError:
        return None
