"""Shipped files found by name (edge.shipped): deployments, the hydrophone table, bundles and
device profiles, from a checkout, from a copied deployment, and from a wheel with no repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from edge.config import load_deployment
from edge.errors import ConfigError
from tests.support.data import DEPLOYMENTS, ROOT

SYSTEMD = ROOT / "firmware-config" / "systemd"


def test_a_deployment_by_name_is_the_shipped_file():
    config = load_deployment("narw-upcall")
    assert Path(config.source) == DEPLOYMENTS / "narw-upcall.yaml"
    assert config.table_path() == ROOT / "firmware-config" / "hydrophones.yaml"
    assert config.hash == load_deployment(DEPLOYMENTS / "narw-upcall.yaml").hash


def test_an_unknown_deployment_name_lists_the_known_ones():
    with pytest.raises(
        ConfigError,
        match=r"deployment 'narw': no such file .*known: beluga, clicks, generic, multispecies, narw-upcall",
    ):
        load_deployment("narw")


def test_a_missing_path_is_not_taken_for_a_name(tmp_path):
    with pytest.raises(ConfigError, match="no-such.yaml"):
        load_deployment(tmp_path / "no-such.yaml")


def test_pamedge_deployments_is_searched_first(tmp_path, monkeypatch):
    (tmp_path / "narw-upcall.yaml").write_text(
        (DEPLOYMENTS / "narw-upcall.yaml").read_text().replace("name: narw-upcall", "name: narw-site-b")
    )
    monkeypatch.setenv("PAMEDGE_DEPLOYMENTS", str(tmp_path))
    assert load_deployment("narw-upcall").name == "narw-site-b"


def test_a_table_name_prefers_the_file_beside_the_deployment(tmp_path):
    copied = tmp_path / "deployment.yaml"
    copied.write_text((DEPLOYMENTS / "narw-upcall.yaml").read_text())
    assert load_deployment(copied).table_path() == ROOT / "firmware-config" / "hydrophones.yaml"
    (tmp_path / "hydrophones.yaml").write_text((ROOT / "firmware-config" / "hydrophones.yaml").read_text())
    assert load_deployment(copied).table_path() == tmp_path / "hydrophones.yaml"


def _in_root(root: Path, text: str) -> str:
    """The unit's absolute paths moved under a temporary root."""
    for prefix in ("/etc/pamedge", "/var/lib/pamedge", "/opt/pamedge"):
        text = text.replace(prefix, str(root) + prefix)
    return text


def _edge_run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from edge.cli.run import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
def test_the_readme_systemd_recipe_passes_its_own_check(tmp_path):
    """README "systemd": copy the units and a shipped deployment to /etc, then the unit's
    ExecStartPre (edge-run --check) must pass once the key file exists."""
    root = tmp_path / "root"
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    (root / "etc" / "pamedge").mkdir(parents=True)
    for unit in SYSTEMD.glob("edge-*"):
        (root / "etc" / "systemd" / "system" / unit.name).write_text(_in_root(root, unit.read_text()))
    deployment = root / "etc" / "pamedge" / "deployment.yaml"
    deployment.write_text(_in_root(root, (DEPLOYMENTS / "narw-upcall.yaml").read_text()))
    unit = (root / "etc" / "systemd" / "system" / "edge-run.service").read_text()
    pre = next(line for line in unit.splitlines() if line.startswith("ExecStartPre="))
    args = pre.split()[1:]
    assert args[args.index("--config") + 1] == str(deployment) and "--check" in args
    empty = tmp_path / "cwd"
    empty.mkdir()
    result = _edge_run(*args, cwd=empty)
    problems = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(problems) == 1, result.stderr
    assert "sync: key_file:" in problems[0] and "narw-upcall.key does not exist" in problems[0]
    (root / "etc" / "pamedge" / "narw-upcall.key").write_text("00112233445566778899aabbccddeeff\n")
    result = _edge_run(*args, cwd=empty)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow
def test_a_wheel_without_the_repository_finds_everything_by_name(tmp_path, rng):
    """``pip install pamedge`` on a buoy: the wheel alone (no checkout on the path), run from an
    empty folder, classifies with the shipped model, passes its self-test and checks a
    deployment by name."""
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    if build.returncode != 0 and "No module named pip" in build.stderr:
        pytest.skip("pip is not available in this interpreter")
    assert build.returncode == 0, build.stderr
    site = tmp_path / "site"
    (wheel,) = wheels.glob("pamedge-*.whl")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr
    assert (site / "edge" / "_shipped" / "models" / "narw-upcall" / "card.yaml").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    # a 2 kHz recording with three upcalls (the tests' synthetic-call generator)
    from tests.support.signals import upcalls

    audio = empty / "rec" / "upcalls.wav"
    audio.parent.mkdir()
    sf.write(str(audio), upcalls(120.0, calls=3, seed=3), 2000, subtype="PCM_16")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAMEDGE_")}
    env["PYTHONPATH"] = str(site)

    def cli(module: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", f"from {module} import main; main()", *args],
            capture_output=True,
            text=True,
            cwd=empty,
            env=env,
            timeout=300,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import edge; print(edge.__file__)"],
        capture_output=True,
        text=True,
        cwd=empty,
        env=env,
        timeout=300,
    )
    assert where.stdout.strip() == str(site / "edge" / "__init__.py")
    detect = cli("edge.cli.detect", "rec", "-o", "out", "--config", "narw-upcall", "-q")
    assert detect.returncode == 0, detect.stderr
    rows = (empty / "out" / "detections.csv").read_text().splitlines()
    assert len(rows) > 1 and all(",upcall," in r and "narw-upcall@" in r for r in rows[1:])
    selftest = cli("edge.cli.selftest")
    assert selftest.returncode == 0, selftest.stdout + selftest.stderr
    assert {line.split()[1].split("@")[0] for line in selftest.stdout.splitlines()} == {
        "narw-upcall",
        "multispecies",
        "beluga-demo",
    }
    check = cli("edge.cli.run", "--check", "--config", "narw-upcall")
    problems = [line for line in check.stderr.splitlines() if line.startswith("error:")]
    assert check.returncode == 2 and len(problems) == 1 and "key_file" in problems[0], check.stderr
    bench = cli("edge.cli.bench", "--json", "--no-model")
    assert bench.returncode == 0, bench.stderr
