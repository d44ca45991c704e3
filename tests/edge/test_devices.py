"""Device profiles: the shipped five load and carry the figures they cite; bad ones are
refused naming file and key; the board is recognised from its device-tree name."""

from __future__ import annotations

import pytest

from edge.devices import all_profiles, board_model, detect_profile, load_profile, profile_from_mapping
from edge.errors import ConfigError

NAMES = {"rpi4", "rpi5", "rpi-zero2w", "jetson-nano", "jetson-orin-nano"}


def test_the_five_profiles_load_with_the_cited_coefficients():
    profiles = {p.name: p for p in all_profiles()}
    assert set(profiles) == NAMES
    for name, p in profiles.items():
        assert p.source.endswith(f"{name}.yaml") and p.threads <= p.cores
    assert (profiles["rpi4"].power.idle_w, profiles["rpi4"].power.slope_w) == (2.286, 4.534)
    assert (profiles["rpi5"].power.idle_w, profiles["rpi5"].power.slope_w) == (4.403, 3.458)
    assert not profiles["rpi4"].power.estimate and not profiles["rpi5"].power.estimate
    assert all(profiles[n].power.estimate for n in ("rpi-zero2w", "jetson-nano", "jetson-orin-nano"))


def test_modelled_energy_is_the_profile_formula():
    p = load_profile("rpi4")
    # 30 CPU seconds over 60 s on 4 cores: u = 0.125
    assert p.modelled_joules(30.0, 60.0) == pytest.approx((2.286 + 4.534 * 0.125) * 60.0)
    assert p.modelled_joules(1e9, 10.0) == pytest.approx((2.286 + 4.534) * 10.0)  # u saturates at 1


def good() -> dict:
    return {
        "name": "x",
        "description": "",
        "cores": 4,
        "arch": "aarch64",
        "backend": "tflite",
        "threads": 2,
        "power": {"idle_w": 1.0, "slope_w": 2.0, "source": "test", "estimate": True},
    }


@pytest.mark.parametrize(
    "change, message",
    [
        ({"clock_mhz": 1500}, "x.yaml: unknown key 'clock_mhz'"),
        ({"backend": "tensorrt"}, "x.yaml: backend='tensorrt' must be one of onnx, tflite"),
        ({"threads": 8}, "x.yaml: threads=8 exceeds cores=4"),
        (
            {"power": {"idle_w": -1, "slope_w": 2.0, "source": "t", "estimate": True}},
            "x.yaml: power: idle_w=-1 must be >= 0",
        ),
        (
            {"power": {"idle_w": 1, "slope_w": 2.0, "source": "t", "estimate": True, "peak_w": 3}},
            "x.yaml: power: unknown key 'peak_w'",
        ),
        ({"sensors": {"power": "hwmon"}}, "x.yaml: sensors: power_path is needed for power='hwmon'"),
    ],
)
def test_bad_profiles_are_refused_naming_file_and_key(change, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        profile_from_mapping({**good(), **change}, "x.yaml")


def test_an_unknown_profile_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match="device profile 'rpi3'.*known: jetson-nano, jetson-orin-nano, rpi-zero2w"):
        load_profile("rpi3")


@pytest.mark.parametrize(
    "model, name",
    [
        ("Raspberry Pi 4 Model B Rev 1.4", "rpi4"),
        ("Raspberry Pi 5 Model B Rev 1.0", "rpi5"),
        ("Raspberry Pi Zero 2 W Rev 1.0", "rpi-zero2w"),
        ("NVIDIA Jetson Nano Developer Kit", "jetson-nano"),
        ("NVIDIA Jetson Orin Nano Developer Kit", "jetson-orin-nano"),
        ("Raspberry Pi 3 Model B Plus Rev 1.3", None),
    ],
)
def test_the_board_is_recognised_from_its_device_tree_model(model, name):
    found = detect_profile(model)
    assert (found.name if found else None) == name


def test_board_model_strips_the_device_tree_nul(tmp_path):
    (tmp_path / "model").write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    assert board_model(str(tmp_path / "model")) == "Raspberry Pi 4 Model B Rev 1.4"
    assert board_model(str(tmp_path / "absent")) is None
