"""edge-convert's exits: gate failure (table, no bundle), run folder errors, existing output."""

from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from convert.cli import main

pytestmark = pytest.mark.slow  # trains and converts tiny models


def test_gate_failure_writes_nothing_exits_1_and_prints_the_table(single_run, bundle, tmp_path, no_emulated_path):
    out = tmp_path / "models" / "fails"
    result = CliRunner().invoke(
        main, [str(single_run), "-o", str(out), "--min-agreement", "1.01", "--calibration-windows", "64"]
    )
    assert result.exit_code == 1, result.output
    assert "model        agreement precision" in result.stdout and "FAILED: onnx_int8 argmax agreement" in result.stdout
    assert "fail the accuracy gate; no bundle written" in result.stderr
    assert not out.exists() and not (tmp_path / "models").exists()  # not even the parent, nor a temp folder


def test_gate_failure_with_force_keeps_the_existing_bundle(single_run, bundle, tmp_path, no_emulated_path):
    out = tmp_path / "kept"
    shutil.copytree(bundle, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = CliRunner().invoke(
        main,
        [
            str(single_run),
            "-o",
            str(out),
            "--force",
            "--max-event-delta",
            "0",
            "--min-agreement",
            "1.5",
            "--calibration-windows",
            "64",
        ],
    )
    assert result.exit_code == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_run_folder_errors_are_one_line(single_run, tmp_path):
    result = CliRunner().invoke(main, [str(tmp_path / "nope"), "-o", str(tmp_path / "m")])
    assert (
        result.exit_code == 2
        and result.stderr.strip() == f"edge-convert: error: {tmp_path / 'nope'}: no such run folder"
    )
    partial = tmp_path / "partial"
    shutil.copytree(single_run, partial, ignore=shutil.ignore_patterns("best.pt", "split.json"))
    result = CliRunner().invoke(main, [str(partial), "-o", str(tmp_path / "m")])
    assert result.exit_code == 2
    assert "not a finished edge-train run: best.pt, split.json missing" in result.stderr
    assert "Traceback" not in result.output


def test_existing_output_needs_force(single_run, tmp_path):
    (tmp_path / "m").mkdir()
    result = CliRunner().invoke(main, [str(single_run), "-o", str(tmp_path / "m")])
    assert result.exit_code == 2 and "exists (use --force to replace it)" in result.stderr


def test_cli_module_loads_no_heavy_package_until_it_runs():
    """``edge-convert --help`` stays quick: torch, onnx and litert-torch load inside the command."""
    import subprocess
    import sys

    code = (
        "import sys, convert.cli; "
        "print(sorted(m for m in ('torch', 'onnx', 'litert_torch', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300).stdout
    assert out.strip() == "[]"
