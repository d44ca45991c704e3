"""edge-run --help and edge-bench --help stay as light as edge-detect --help."""

from __future__ import annotations

import pytest

from tests.support.imports import NEVER_IN_THE_CLI, loaded, modules_after


@pytest.mark.parametrize("module", ["edge.cli.run", "edge.cli.bench"])
def test_help_loads_no_inference_plotting_or_signal_library(module):
    code = (
        f"import {module}\n"
        "try:\n"
        f"    {module}.main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
    )
    modules = modules_after(code)
    assert module in modules
    assert loaded(modules, NEVER_IN_THE_CLI) == []
    assert "sounddevice" not in modules and "edge.daemon.daemon" not in modules
