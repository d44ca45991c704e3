"""edge-bench: the --json schema (docs/reference/bench.md), modelled energy equal to the profile's
formula, and energy measured from sensor files read as the kernel presents them."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from edge.devices import load_profile
from edge.energy import Meter, Sensor, find_sensor, hwmon_watts, ina3221_watts, pmic_watts, projection, rapl_sensor
from tests.support.daemon import recordings
from tests.support.data import DEPLOYMENTS, ROOT

TOP = {
    "schema": str,
    "machine": dict,
    "config": dict,
    "files": list,
    "audio_s": float,
    "stages_s": dict,
    "wall_s": float,
    "realtime_factor": float,
    "cpu_s": float,
    "cpu_s_per_audio_h": float,
    "peak_rss_mb": float,
    "energy": dict,
    "projection": (dict, type(None)),
    "model": (dict, type(None)),
}
STAGES = ["decode", "frontend", "roi", "clicks", "levels", "inference", "logging", "frames"]


def bench(*args) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli.bench", "--json", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    import numpy as np

    folder = tmp_path_factory.mktemp("bench")
    recordings(folder, 2, 120.0, np.random.default_rng(3))
    return folder


@pytest.mark.slow
def test_json_schema_and_modelled_energy_for_a_named_device(audio):
    doc = bench(
        audio,
        "--config",
        DEPLOYMENTS / "narw-upcall.yaml",
        "--device",
        "rpi4",
        "--battery-wh",
        "500",
        "--duty-cycle",
        "0.5",
    )
    for key, kind in TOP.items():
        assert isinstance(doc[key], kind), key
    assert doc["schema"] == "pamedge-bench/1"
    assert set(doc["machine"]) == {"board", "cpu", "cores", "arch", "kernel", "python"}
    assert list(doc["stages_s"]) == STAGES and doc["stages_s"]["clicks"] is None  # narw-upcall has no clicks:
    assert all(
        doc["stages_s"][s] >= 0 for s in STAGES if s != "clicks"
    )  # inference too: the deployment names its model
    assert doc["audio_s"] == 240.0 and [f["audio_s"] for f in doc["files"]] == [120.0, 120.0]
    assert doc["realtime_factor"] == pytest.approx(doc["audio_s"] / doc["wall_s"])
    assert doc["config"]["name"] == "narw-upcall" and doc["model"]["identity"].startswith("narw-upcall@")
    energy = doc["energy"]
    if energy["method"] == "measured":  # a host with a readable sensor: the device model comes beside it
        assert energy["label"] == "measured on this host"
        energy = energy["modelled_for_device"]
    assert energy["method"] == "modelled" and energy["device"] == "rpi4"
    assert "modelled for rpi4 from this host's CPU seconds" in energy["label"]
    rpi4 = load_profile("rpi4")
    u = doc["cpu_s"] / (doc["wall_s"] * rpi4.cores)
    assert energy["utilisation"] == pytest.approx(u)
    assert energy["joules"] == pytest.approx((2.286 + 4.534 * u) * doc["wall_s"])
    assert energy["formula"] == "P = 2.286 + 4.534 u W" and energy["coefficients_estimate"] is False
    p = doc["projection"]
    u_day = doc["cpu_s"] / doc["audio_s"] * 0.5 / 4
    assert p["wh_per_day"] == pytest.approx((2.286 + 4.534 * u_day) * 24)
    assert p["days"] == pytest.approx(500 / p["wh_per_day"]) and p["audio_h_per_day"] == 12.0


def test_without_a_sensor_or_profile_it_says_so(audio):
    if find_sensor(None) is not None:
        pytest.skip("this host has a readable power sensor")
    doc = bench(audio)
    assert doc["energy"]["method"] == "none" and doc["energy"]["joules"] is None
    assert "--device" in doc["energy"]["label"] and doc["projection"] is None


@pytest.mark.slow
def test_text_output_names_the_machine_and_the_method(audio):
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli.bench", str(audio), "--device", "rpi-zero2w"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("machine: ")
    assert "modelled for rpi-zero2w" in result.stdout or "measured on this host" in result.stdout


def test_hwmon_ina3221_and_pmic_readings(tmp_path):
    (tmp_path / "power1_input").write_text("2500000\n")  # uW
    assert hwmon_watts(tmp_path / "power1_input") == pytest.approx(2.5)
    (tmp_path / "in1_input").write_text("5000\n")  # mV
    (tmp_path / "curr1_input").write_text("800\n")  # mA
    assert hwmon_watts(tmp_path / "in1_input") == pytest.approx(4.0)
    (tmp_path / "in_power0_input").write_text("3200\n")  # mW
    assert ina3221_watts(tmp_path / "in_power0_input") == pytest.approx(3.2)
    text = (
        "   VDD_CORE_A current(7)=2.00000000A\n   VDD_CORE_V volt(15)=0.80000000V\n"
        "   EXT5V_V volt(24)=5.10000000V\n   3V3_SYS_A current(1)=0.10000000A\n   3V3_SYS_V volt(9)=3.30000000V\n"
    )
    assert pmic_watts(text) == pytest.approx(2.0 * 0.8 + 0.1 * 3.3)


def test_meter_integrates_a_sampled_sensor_and_differences_a_counter(tmp_path):
    (tmp_path / "power1_input").write_text("2000000\n")
    sensor = Sensor("hwmon:test", watts=lambda: hwmon_watts(tmp_path / "power1_input"))
    t0 = time.perf_counter()
    with Meter(sensor, period_s=0.01) as meter:
        time.sleep(0.3)
    elapsed = time.perf_counter() - t0
    # 2 W over exactly the span sampled, which covers the block whatever the machine's load
    assert meter.joules == pytest.approx(2.0 * meter.seconds) and 0.3 <= meter.seconds <= elapsed
    (tmp_path / "energy_uj").write_text("1000000\n")
    counter = rapl_sensor(tmp_path)
    with Meter(counter) as meter:
        (tmp_path / "energy_uj").write_text("4500000\n")
    assert meter.joules == pytest.approx(3.5)
    assert rapl_sensor(tmp_path / "absent") is None


def test_projection_days_on_a_battery():
    p = projection(load_profile("rpi5"), 0.01, duty_cycle=1.0, battery_wh=1000)
    u = 0.01 / 4
    assert p["wh_per_day"] == pytest.approx((4.403 + 3.458 * u) * 24)
    assert p["days"] == pytest.approx(1000 / p["wh_per_day"])


@pytest.mark.slow
def test_with_a_model_the_inference_stage_is_timed(audio, tmp_path, tmp_path_factory):
    import yaml

    from tests.support.bundles import single

    tiny = single(tmp_path_factory)
    data = yaml.safe_load((DEPLOYMENTS / "narw-upcall.yaml").read_text())
    data["calibration"]["table"] = str(DEPLOYMENTS.parent / "hydrophones.yaml")
    data["model"] = {"bundle": str(tiny)}
    (tmp_path / "d.yaml").write_text(yaml.safe_dump(data))
    doc = bench(audio, "--config", tmp_path / "d.yaml")
    assert doc["stages_s"]["inference"] > 0 and doc["model"]["identity"]
    assert bench(audio, "--config", tmp_path / "d.yaml", "--no-model")["stages_s"]["inference"] is None


def test_the_impulse_detector_is_timed_as_its_own_stage(tmp_path):
    """clicks.yaml: the clicks stage beside the tonal ROI stage, at the recording's own rate."""
    import numpy as np
    import soundfile as sf

    rate, rng = 96_000, np.random.default_rng(8)
    x = 0.01 * rng.standard_normal(20 * rate)
    t = np.arange(-48, 48) / rate
    for at in np.arange(0.5, 19.5, 0.25):  # 20-kHz clicks 20 dB over the noise
        i = int(at * rate)
        x[i - 48 : i + 48] += 0.1 * np.exp(-((t / 50e-6) ** 2)) * np.cos(2 * np.pi * 20_000 * t)
    sf.write(tmp_path / "clicks.wav", x.astype(np.float32), rate)
    doc = bench(tmp_path, "--config", DEPLOYMENTS / "clicks.yaml", "--no-model")
    stages = doc["stages_s"]
    assert list(stages) == STAGES and stages["inference"] is None
    assert stages["clicks"] > 0 and stages["roi"] > 0
