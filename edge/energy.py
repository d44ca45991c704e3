"""Energy of a piece of work: measured where a power sensor is readable, otherwise modelled
from CPU utilisation with a device profile's coefficients; always saying which.

Sensors: RAPL package energy (``/sys/class/powercap/intel-rapl:0/energy_uj``, x86; a
counter read before and after), and sampled power (INA219/INA260/INA3221 through hwmon or
the Jetson INA3221 driver's sysfs, Pi 5 ``vcgencmd pmic_read_adc``) integrated by a
background thread.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.devices import DeviceProfile

RAPL = Path("/sys/class/powercap/intel-rapl:0")
SAMPLE_PERIOD_S = 0.1


def _read(path: Path) -> float:
    return float(path.read_text().split()[0])


def hwmon_watts(path: str | Path) -> float:
    """Power from a hwmon file: ``power*_input`` (uW), or ``in*_input`` (mV) times the
    matching ``curr*_input`` (mA), as the INA3221 driver gives it."""
    path = Path(path)
    if path.name.startswith("power"):
        return _read(path) * 1e-6
    match = re.fullmatch(r"in(\d+)_input", path.name)
    if match:
        return _read(path) * _read(path.with_name(f"curr{match.group(1)}_input")) * 1e-6
    raise ValueError(f"{path}: not a hwmon power*_input or in*_input file")


def ina3221_watts(path: str | Path) -> float:
    """Jetson Nano's ina3221x driver: ``in_power*_input`` in mW."""
    return _read(Path(path)) * 1e-3


_PMIC = re.compile(r"^\s*(\S+?)_([VA]) \S+=([\d.]+)[VA]\s*$")


def pmic_watts(text: str) -> float:
    """The sum over rails of volts x amps in ``vcgencmd pmic_read_adc`` output (lines like
    ``VDD_CORE_A current(7)=2.1A`` and ``VDD_CORE_V volt(15)=0.8V``)."""
    volts: dict[str, float] = {}
    amps: dict[str, float] = {}
    for line in text.splitlines():
        m = _PMIC.match(line)
        if m:
            (volts if m.group(2) == "V" else amps)[m.group(1)] = float(m.group(3))
    return sum(volts[r] * amps[r] for r in volts.keys() & amps.keys())


def vcgencmd_watts() -> float:
    """Raspberry Pi 5's PMIC, read now."""
    out = subprocess.run(["vcgencmd", "pmic_read_adc"], capture_output=True, text=True, timeout=5, check=True)
    return pmic_watts(out.stdout)


@dataclass(frozen=True)
class Sensor:
    """A readable power sensor: ``name`` for the report, and either a joule counter or a
    watt reading sampled over the work."""

    name: str
    joules: Callable[[], float] | None = None
    watts: Callable[[], float] | None = None


def rapl_sensor(root: Path = RAPL) -> Sensor | None:
    path = root / "energy_uj"
    try:
        _read(path)
    except (OSError, ValueError):
        return None
    return Sensor(f"rapl:{path}", joules=lambda: _read(path) * 1e-6)


def find_sensor(profile: DeviceProfile | None) -> Sensor | None:
    """The sensor named by the (detected) profile when readable, else RAPL when readable,
    else None: the energy is then modelled."""
    if profile is not None:
        s = profile.sensors
        readers = {
            "hwmon": lambda: hwmon_watts(s.power_path or ""),
            "ina3221": lambda: ina3221_watts(s.power_path or ""),
            "vcgencmd": vcgencmd_watts,
        }
        if s.power in readers:
            try:
                readers[s.power]()
                return Sensor(f"{s.power}:{s.power_path or 'vcgencmd pmic_read_adc'}", watts=readers[s.power])
            except (OSError, ValueError, subprocess.SubprocessError):
                pass
    return rapl_sensor()


class Meter:
    """Measures a sensor over a ``with`` block: ``joules`` afterwards, and for a sampled sensor
    ``seconds``, the span its samples cover (from entering the block to leaving it)."""

    def __init__(self, sensor: Sensor, period_s: float = SAMPLE_PERIOD_S) -> None:
        self.sensor, self.period_s = sensor, period_s
        self.joules = 0.0
        self.seconds = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first = self._last = (0.0, 0.0)

    def _add(self, t: float, w: float) -> None:
        last_t, last_w = self._last
        self.joules += (t - last_t) * (w + last_w) / 2  # trapezoid
        self._last = (t, w)

    def _watts(self) -> float:
        assert self.sensor.watts is not None  # a sensor without a joule counter is sampled
        return self.sensor.watts()

    def _sample(self) -> None:
        while not self._stop.wait(self.period_s):
            self._add(time.perf_counter(), self._watts())

    def __enter__(self) -> Meter:
        if self.sensor.joules is not None:
            self._start = self.sensor.joules()
        else:
            # the first and last samples are taken here and in __exit__, so the samples span
            # the whole block however late the sampling thread is scheduled
            self._first = self._last = (time.perf_counter(), self._watts())
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.sensor.joules is not None:
            self.joules = self.sensor.joules() - self._start
            if self.joules < 0:  # the counter wrapped
                wrap = _read(RAPL / "max_energy_range_uj") * 1e-6
                self.joules += wrap
        else:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            self._add(time.perf_counter(), self._watts())
            self.seconds = self._last[0] - self._first[0]


def modelled(profile: DeviceProfile, cpu_s: float, wall_s: float) -> dict[str, Any]:
    """The profile's model applied to ``cpu_s`` CPU seconds over ``wall_s``."""
    u = cpu_s / (wall_s * profile.cores) if wall_s > 0 else 0.0
    return {
        "joules": profile.modelled_joules(cpu_s, wall_s),
        "utilisation": u,
        "mean_w": profile.power.watts(u),
        "formula": profile.power.formula(),
        "coefficients_estimate": profile.power.estimate,
        "coefficients_source": profile.power.source,
    }


def projection(
    profile: DeviceProfile, cpu_s_per_audio_s: float, *, duty_cycle: float, battery_wh: float | None
) -> dict[str, Any]:
    """Wh a day for a buoy recording ``duty_cycle`` of the time and processing as it goes
    (always on: idle power all day, plus the processing's share of the cores), and days on
    ``battery_wh``."""
    u = min(1.0, cpu_s_per_audio_s * duty_cycle / profile.cores)
    wh_day = profile.power.watts(u) * 24.0
    return {
        "duty_cycle": duty_cycle,
        "audio_h_per_day": 24.0 * duty_cycle,
        "utilisation": u,
        "wh_per_day": wh_day,
        "battery_wh": battery_wh,
        "days": battery_wh / wh_day if battery_wh else None,
    }
