"""The benchmark's result as a JSON-ready dict (schema in docs/reference/bench.md) and as text."""

from __future__ import annotations

from typing import Any

from edge.bench import machine
from edge.bench.stages import StageTimes
from edge.config import DeploymentConfig
from edge.devices import DeviceProfile
from edge.energy import modelled, projection

SCHEMA = "pamedge-bench/1"


def energy_section(
    times: StageTimes,
    *,
    measured_j: float | None,
    sensor: str | None,
    profile: DeviceProfile | None,
    host_profile: DeviceProfile | None,
) -> dict[str, Any]:
    """Measured joules when a sensor was read on this machine; otherwise the profile's model
    on this run's CPU seconds, labelled with the device it is modelled for."""
    if measured_j is not None:
        return {
            "method": "measured",
            "sensor": sensor,
            "device": host_profile.name if host_profile else None,
            "label": "measured on this host",
            "joules": measured_j,
            "mean_w": measured_j / times.wall_s if times.wall_s else None,
            "j_per_audio_h": measured_j / times.audio_s * 3600 if times.audio_s else None,
        }
    if profile is None:
        return {
            "method": "none",
            "sensor": None,
            "device": None,
            "joules": None,
            "mean_w": None,
            "j_per_audio_h": None,
            "label": "no power sensor readable and no device profile: give --device NAME to model one",
        }
    m = modelled(profile, times.cpu_s, times.wall_s)
    on_device = host_profile is not None and host_profile.name == profile.name
    label = (
        f"modelled for {profile.name} from CPU utilisation on this device"
        if on_device
        else f"modelled for {profile.name} from this host's CPU seconds (the device's own CPU time will differ)"
    )
    return {
        "method": "modelled",
        "sensor": None,
        "device": profile.name,
        "label": label,
        **m,
        "j_per_audio_h": m["joules"] / times.audio_s * 3600 if times.audio_s else None,
    }


def build(
    times: StageTimes,
    config: DeploymentConfig,
    *,
    energy: dict[str, Any],
    profile: DeviceProfile | None,
    duty_cycle: float,
    battery_wh: float | None,
) -> dict[str, Any]:
    cpu_per_audio = times.cpu_s / times.audio_s if times.audio_s else None
    proj = None
    if profile is not None and cpu_per_audio is not None:
        proj = {
            "device": profile.name,
            "label": f"modelled for {profile.name} from the CPU seconds above",
            **projection(profile, cpu_per_audio, duty_cycle=duty_cycle, battery_wh=battery_wh),
        }
    return {
        "schema": SCHEMA,
        "machine": machine.describe(),
        "config": {"name": config.name, "source": config.source, "hash": config.hash},
        "files": times.files,
        "audio_s": times.audio_s,
        "stages_s": times.seconds,
        "wall_s": times.wall_s,
        "realtime_factor": times.audio_s / times.wall_s if times.wall_s else None,
        "cpu_s": times.cpu_s,
        "cpu_s_per_audio_h": cpu_per_audio * 3600 if cpu_per_audio is not None else None,
        "peak_rss_mb": times.peak_rss_mb,
        "energy": energy,
        "projection": proj,
    }


def text(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        f"machine: {m['board'] or 'no device-tree board (a PC)'}; {m['cpu']}, {m['cores']} cores, {m['arch']}",
        f"audio: {len(doc['files'])} files, {doc['audio_s']:.0f} s  ({doc['config']['name']})",
        "stage seconds:",
    ]
    for stage, sec in doc["stages_s"].items():
        lines.append(f"  {stage:<10} {'not configured' if sec is None else f'{sec:.4f}'}")
    lines.append(
        f"wall {doc['wall_s']:.3f} s, {doc['realtime_factor']:.0f}x real time, CPU {doc['cpu_s']:.3f} s, "
        f"peak RSS {doc['peak_rss_mb']:.0f} MB"
    )
    e = doc["energy"]
    if e["joules"] is None:
        lines.append(f"energy: {e['label']}")
    else:
        lines.append(
            f"energy: {e['joules']:.2f} J, {e['j_per_audio_h']:.2f} J per audio hour ({e['label']}"
            + (f"; {e['formula']}" if e.get("formula") else "")
            + ")"
        )
    p = doc["projection"]
    if p:
        days = f", {p['days']:.1f} days on {p['battery_wh']:g} Wh" if p["days"] else ""
        lines.append(f"projection ({p['label']}, duty cycle {p['duty_cycle']:g}): {p['wh_per_day']:.1f} Wh/day{days}")
    return "\n".join(lines)
