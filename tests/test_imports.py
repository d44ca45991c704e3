"""Import boundaries, checked in fresh interpreters (click's test_imports, pip-tools' per-module imports).

The runtime runs on a Raspberry Pi: ``import edge`` and ``edge-detect --help`` must stay cheap,
and no inference or plotting library may be pulled into the ROI path.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import edge
from tests.support.imports import HEAVY, NEVER_IN_THE_CLI, loaded, modules_after

PACKAGE_DIR = Path(edge.__file__).resolve().parent
DASK = ("dask", "distributed")


def test_import_edge_loads_nothing_heavy():
    modules = modules_after("import edge")
    assert loaded(modules, HEAVY) == []
    # allowlist: beyond what the interpreter starts with (site hooks), only the package itself
    # and the standard library
    new = modules - modules_after("pass")
    assert {m.split(".")[0] for m in new} - set(sys.stdlib_module_names) == {"edge"}


def test_cli_help_loads_no_inference_plotting_or_signal_library():
    code = (
        "import edge.cli.detect\n"
        "try:\n"
        "    edge.cli.detect.main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    modules = modules_after(code)
    assert "edge.cli.detect" in modules and "click" in modules
    assert loaded(modules, NEVER_IN_THE_CLI) == []


def test_report_help_loads_no_plotting_library():
    """matplotlib is imported when a report is drawn, not to print the options."""
    code = (
        "import edge.cli.report\n"
        "try:\n"
        "    edge.cli.report.main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    modules = modules_after(code)
    assert "edge.cli.report" in modules and "click" in modules
    assert loaded(modules, NEVER_IN_THE_CLI + ("numpy", "PIL")) == []


def test_cli_help_text():
    result = subprocess.run(
        [sys.executable, "-c", "from edge.cli.detect import main; main()", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "--outdir" in result.stdout and "--no-model" in result.stdout and "--config" in result.stdout
    # every shipped deployment is named, read from the folder (clicks was once left out of a hand list)
    shipped = sorted(p.stem for p in (PACKAGE_DIR.parent / "firmware-config" / "deployments").glob("*.yaml"))
    assert "clicks" in shipped and ", ".join(shipped) in " ".join(result.stdout.split())


def all_modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_module_list_is_complete():
    names = all_modules()
    assert {
        "edge",
        "edge.audio",
        "edge.frontend",
        "edge.roi",
        "edge.cli",
        "edge.cli.detect",
        "edge.cli.report",
        "edge.plots.render",
        "edge.report.build",
    } <= set(names)
    assert {
        "edge.log",
        "edge.sync.frames",
        "edge.sync.outbox",
        "edge.sync.iridium",
        "edge.sync.mqtt",
        "edge.sync.modem_sim",
        "edge.cli.sync",
    } <= set(names)


@pytest.mark.parametrize("module", all_modules())
def test_each_module_imports_on_its_own(module):
    """Catches import cycles and modules that only work after another one was imported."""
    modules = modules_after(f"import {module}")
    assert module in modules
    assert loaded(modules, ("torch", "onnx", "onnxruntime", "tensorflow", "litert_torch", "matplotlib")) == []


def test_runtime_and_cluster_planning_load_no_dask():
    """Dask is imported by ``edge.cluster.client`` when a run asks for a scheduler, not before:
    the local engine, the plan and the worker's task function stay plain."""
    modules = modules_after(
        "import edge.detect, edge.pipeline, edge.cluster.plan, edge.cluster.task, "
        "edge.cluster.engine, edge.cluster.client"
    )
    assert loaded(modules, DASK) == []


SYNC_LIBRARIES = ("serial", "paho")


def test_sync_modules_and_cli_help_load_no_serial_or_mqtt_library():
    """pyserial and paho-mqtt are imported when a transport is opened (extra ``sync``), not
    by the log, the codec, the outbox, the shore side or ``--help``."""
    code = (
        "import edge.log, edge.sync.frames, edge.sync.outbox, edge.sync.sender, edge.sync.iridium, "
        "edge.sync.mqtt, edge.sync.config, edge.sync.modem_sim, shore.store, shore.ingest, shore.export\n"
        "import edge.cli.sync, shore.cli\n"
        "for main in (edge.cli.sync.main, shore.cli.main):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
    )
    modules = modules_after(code)
    assert loaded(modules, SYNC_LIBRARIES + HEAVY) == []


def test_missing_sync_extra_names_the_pip_line():
    code = (
        "import sys\n"
        "sys.modules['serial'] = None\n"
        "from edge.errors import MissingExtraError\n"
        "from edge.sync.iridium import IridiumModem\n"
        "try:\n"
        "    IridiumModem('/dev/null')\n"
        "except MissingExtraError as exc:\n"
        "    assert 'pip install \"pamedge[sync]\"' in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('no MissingExtraError')\n"
    )
    modules_after(code)


CONVERTER_SIDE = ("torch", "onnx", "litert_torch", "tensorflow")


def test_model_modules_load_no_backend_until_one_is_opened():
    code = (
        "import edge.bundle, edge.classify, edge.backends, edge.selftest, edge.cli.selftest\n"
        "try:\n"
        "    edge.cli.selftest.main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    assert loaded(modules_after(code), NEVER_IN_THE_CLI) == []


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnx", "tflite"])
def test_detection_with_a_model_loads_nothing_of_the_converter(tmp_path, tmp_path_factory, backend):
    """A runtime-only install (``pip install .``) classifies: the backend and nothing that
    builds models."""
    import importlib.util

    import numpy as np
    import soundfile as sf

    from tests.support.bundles import single
    from tests.support.data import DEPLOYMENTS

    if backend == "tflite" and importlib.util.find_spec("ai_edge_litert") is None:
        pytest.skip('ai-edge-litert is not installed (pip install "pamedge[tflite]")')
    bundle = single(tmp_path_factory)
    wav = tmp_path / "x.wav"
    t = np.arange(20 * 2000) / 2000
    x = 0.01 * np.random.default_rng(1).standard_normal(len(t))
    x[20000:22000] += 0.3 * np.sin(2 * np.pi * (60 * t[:2000] + 80 * t[:2000] ** 2))
    sf.write(str(wav), x, 2000)
    code = (
        "import edge.cli.detect\n"
        "try:\n"
        f"    edge.cli.detect.main([{str(wav)!r}, '-o', {str(tmp_path / 'out')!r}, '-q', '--config', "
        f"{str(DEPLOYMENTS / 'narw-upcall.yaml')!r}, '--model', {str(bundle)!r}, '--backend', {backend!r}])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    modules = modules_after(code)
    assert loaded(modules, CONVERTER_SIDE) == []
    assert loaded(modules, ("onnxruntime",) if backend == "onnx" else ("ai_edge_litert",))
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["model"]["backend"] == backend
