"""edge-selftest: golden vectors on this CPU; exit 0 pass, 1 deviation, 2 unusable bundle."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from edge.cli.selftest import main
from tests.support.bundles import has_tflite_tools, move_golden_reference, single


@pytest.fixture
def bundle(tmp_path_factory, tmp_path):
    return shutil.copytree(single(tmp_path_factory), tmp_path / "tiny")


def test_passes_on_every_installed_backend(bundle):
    result = CliRunner().invoke(main, [str(bundle), "--backend", "all", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    kinds = {r["backend"] for r in report["results"]}
    assert kinds == ({"onnx", "tflite"} if has_tflite_tools() else {"onnx"})
    for r in report["results"]:
        assert r["passed"] and r["max_abs_deviation"]["logits"] <= r["tolerance"] == 0.03  # the card's golden.tolerance
        assert r["identity"].startswith("tiny-single@")


def test_a_golden_vector_off_by_more_than_the_tolerance_fails(bundle):
    """As a CPU computing different answers would: the reference moved, the card re-signed."""
    move_golden_reference(bundle)
    result = CliRunner().invoke(main, [str(bundle), "--backend", "onnx"])
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("FAIL") and "tolerance 0.03" in result.stdout


def test_a_tampered_bundle_is_an_error(bundle):
    path = bundle / "golden.npz"
    path.write_bytes(path.read_bytes()[:-1] + b"x")
    result = CliRunner().invoke(main, [str(bundle)])
    assert result.exit_code == 2 and "golden.npz: sha256" in result.stderr
