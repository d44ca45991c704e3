"""Device profiles (``firmware-config/devices/NAME.yaml``): the buoy computers pamedge runs
on, with what the runtime and the benchmark need to know about each: cores, inference
backend and threads, a power model for when no power sensor is fitted, and sensor paths.

Power model (PowerJoular's form): ``P = idle_w + slope_w * u`` watts, ``u`` the CPU
utilisation over all cores, 0..1.  ``power.estimate`` says whether the coefficients are a
published regression or this project's estimate, and ``power.source`` where they come from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge import _validate as v
from edge.errors import ConfigError

BACKENDS = ("onnx", "tflite")
POWER_SENSORS = ("none", "hwmon", "ina3221", "vcgencmd", "rapl")
MODEL_PATH = "/proc/device-tree/model"


def devices_dir() -> Path:
    """Where profiles are looked up by name: ``$PAMEDGE_DEVICES``, else the shipped
    ``firmware-config/devices`` (edge.shipped)."""
    from edge import shipped

    env = os.environ.get("PAMEDGE_DEVICES")
    return Path(env) if env else shipped.path("firmware-config") / "devices"


@dataclass(frozen=True)
class PowerModel:
    idle_w: float
    slope_w: float
    source: str
    estimate: bool

    def __post_init__(self) -> None:
        v.number("idle_w", self.idle_w, minimum=0)
        v.number("slope_w", self.slope_w, minimum=0)
        v.require(isinstance(self.source, str) and self.source != "", "source must say where the figures come from")
        v.require(isinstance(self.estimate, bool), f"estimate={self.estimate!r} must be true or false")

    def watts(self, utilisation: float) -> float:
        """Modelled power at CPU utilisation ``utilisation`` (clipped to 0..1)."""
        return self.idle_w + self.slope_w * min(1.0, max(0.0, utilisation))

    def formula(self) -> str:
        return f"P = {self.idle_w:g} + {self.slope_w:g} u W"


@dataclass(frozen=True)
class SensorPaths:
    power: str = "none"  # none | hwmon | ina3221 | vcgencmd | rapl
    power_path: str | None = None  # hwmon power*_input (uW) or INA3221 in_power*_input (mW); rapl energy_uj
    cpu_temp: str = "/sys/class/thermal/thermal_zone0/temp"
    battery_voltage: str | None = None  # e.g. an INA219's hwmon in1_input (mV)
    battery_scale: float = 0.001  # to volts

    def __post_init__(self) -> None:
        v.require(self.power in POWER_SENSORS, f"power={self.power!r} must be one of {', '.join(POWER_SENSORS)}")
        v.require(
            self.power in ("none", "vcgencmd") or bool(self.power_path),
            f"power_path is needed for power={self.power!r}",
        )
        v.number("battery_scale", self.battery_scale, minimum=0, exclusive=True)


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    description: str
    cores: int
    arch: str
    backend: str
    threads: int
    power: PowerModel
    sensors: SensorPaths = field(default_factory=SensorPaths)
    model_match: tuple[str, ...] = ()  # substrings of /proc/device-tree/model naming this device
    source: str = ""

    def __post_init__(self) -> None:
        v.require(isinstance(self.name, str) and self.name != "", f"name={self.name!r} must be a non-empty string")
        v.integer("cores", self.cores, minimum=1)
        v.integer("threads", self.threads, minimum=1)
        v.require(self.threads <= self.cores, f"threads={self.threads} exceeds cores={self.cores}")
        v.require(self.backend in BACKENDS, f"backend={self.backend!r} must be one of {', '.join(BACKENDS)}")
        v.require(isinstance(self.arch, str) and self.arch != "", f"arch={self.arch!r} must be e.g. aarch64")
        object.__setattr__(self, "model_match", tuple(self.model_match or ()))

    def modelled_joules(self, cpu_s: float, wall_s: float) -> float:
        """Energy over ``wall_s`` seconds in which the process used ``cpu_s`` CPU seconds:
        ``(idle_w + slope_w * u) * wall_s`` with ``u = cpu_s / (wall_s * cores)``."""
        if wall_s <= 0:
            return 0.0
        return self.power.watts(cpu_s / (wall_s * self.cores)) * wall_s


def profile_from_mapping(data: Any, where: str) -> DeviceProfile:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of device settings")
    sections: dict[str, Any] = {}
    if "power" not in data:
        raise ConfigError(f"{where}: missing key 'power' (idle_w, slope_w, source, estimate)")
    sections["power"] = v.build(PowerModel, data["power"], f"{where}: power")
    if "sensors" in data:
        sections["sensors"] = v.build(SensorPaths, data["sensors"], f"{where}: sensors")
    top = {k: val for k, val in data.items() if k not in ("power", "sensors")}
    if "source" in top:
        raise ConfigError(f"{where}: unknown key 'source'")
    return v.build(DeviceProfile, top, where, **sections, source=where)


def load_profile(name_or_path: str | Path) -> DeviceProfile:
    """A profile by name (``rpi4``) or by YAML path; errors name the file and key."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = devices_dir() / f"{name_or_path}.yaml"
        if not path.exists():
            known = ", ".join(sorted(p.stem for p in devices_dir().glob("*.yaml"))) or "none"
            raise ConfigError(f"device profile {str(name_or_path)!r}: no {path} (known: {known})")
    return profile_from_mapping(v.read_yaml(path, "device profile"), str(path))


def all_profiles() -> list[DeviceProfile]:
    return [load_profile(p) for p in sorted(devices_dir().glob("*.yaml"))]


def board_model(path: str = MODEL_PATH) -> str | None:
    """The board's name from the device tree (Raspberry Pi, Jetson), None on a PC."""
    try:
        return Path(path).read_bytes().rstrip(b"\0").decode(errors="replace").strip() or None
    except OSError:
        return None


def detect_profile(model: str | None = None) -> DeviceProfile | None:
    """The profile whose ``model_match`` names this board, None when none does (a PC)."""
    model = board_model() if model is None else model
    if not model:
        return None
    for profile in all_profiles():
        if any(m.lower() in model.lower() for m in profile.model_match):
            return profile
    return None
