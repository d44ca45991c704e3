"""The run: section: validated on load (edge-detect too), defaults, and edge-run --check
listing every problem."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from edge.config import load_deployment
from edge.daemon.config import DegradeSettings
from edge.errors import ConfigError
from tests.support.bundles import move_golden_reference, single
from tests.support.daemon import deployment_yaml
from tests.support.data import DEPLOYMENTS, ROOT


def test_shipped_deployments_have_valid_run_sections_that_do_not_change_the_hash(tmp_path):
    for name in ("narw-upcall", "beluga"):
        d = load_deployment(DEPLOYMENTS / f"{name}.yaml")
        assert d.run.watch and d.run.device
        assert str(d.log_path()) == str(d.sync.path(d.sync.log))  # edge-sync reads the same log
        data = yaml.safe_load((DEPLOYMENTS / f"{name}.yaml").read_text())
        data.pop("run")
        (tmp_path / "x.yaml").write_text(yaml.safe_dump(data))
        assert load_deployment(tmp_path / "x.yaml").hash == d.hash


def test_log_defaults_to_sync_log_then_beside_the_yaml(tmp_path):
    path = deployment_yaml(tmp_path)
    data = yaml.safe_load(path.read_text())
    del data["run"]["log"]
    path.write_text(yaml.safe_dump(data))
    assert load_deployment(path).log_path() == tmp_path / "detections.sqlite"


@pytest.mark.parametrize(
    "run, message",
    [
        ({"poll": 1}, "run: unknown key 'poll'"),
        ({"retention": {"policy": "shred"}}, "run: retention: policy='shred' must be one of delete, keep, snippets"),
        ({"degrade": {"backlog_s": [100, 10]}}, "backlog_s=[100, 10]: the limited threshold must be <="),
        ({"degrade": {"recover": 1.5}}, "recover=1.5 must be < 1"),
        ({"stable_s": -1}, "stable_s=-1 must be >= 0"),
    ],
)
def test_bad_run_settings_name_the_file_and_key_for_edge_detect_too(tmp_path, run, message):
    path = deployment_yaml(tmp_path, run)
    with pytest.raises(ConfigError, match=rf"{tmp_path}.*{message.replace('[', '.').replace(']', '.')}"):
        load_deployment(path)


def test_degrade_pairs_must_be_two_numbers():
    with pytest.raises(ConfigError, match="must be two numbers"):
        DegradeSettings(min_free_mb=(5,))


def test_check_lists_every_problem(tmp_path):
    (tmp_path / "a-file").write_text("")
    path = deployment_yaml(tmp_path, {"device": "rpi9", "watch": str(tmp_path / "a-file" / "rec")})
    data = yaml.safe_load(path.read_text())
    data["sync"] = {"key_file": "missing.key", "log": "elsewhere.sqlite"}
    path.write_text(yaml.safe_dump(data))
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli.run", "--config", str(path), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 2
    errors = result.stderr.splitlines()
    assert len(errors) == 4, errors
    assert any("run: device: device profile 'rpi9'" in e and "known: jetson-nano" in e for e in errors)
    assert any("run: watch:" in e and "a-file/rec is not a writable folder" in e for e in errors)
    assert any("sync: key_file:" in e and "missing.key does not exist" in e for e in errors)
    assert any("sync: log:" in e and "differs from run.log" in e for e in errors)


def test_check_passes_a_good_deployment(tmp_path):
    path = deployment_yaml(tmp_path, {"device": "rpi4", "watch": str(tmp_path / "rec")})
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli.run", "--config", str(path), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.strip().endswith(": ok"), result.stderr


def test_check_runs_the_models_golden_windows_on_this_cpu(tmp_path):
    """A bundle whose golden windows this CPU's kernels miss (as AVX2's saturating ones once
    did) is a problem edge-run --check reports, naming the deviation and edge-selftest."""
    from edge.daemon.check import check

    bundle = shutil.copytree(single(), tmp_path / "tiny")
    move_golden_reference(bundle)
    path = deployment_yaml(tmp_path, {"watch": str(tmp_path / "rec")})
    data = yaml.safe_load(path.read_text())
    data["model"]["bundle"] = str(bundle)
    path.write_text(yaml.safe_dump(data))
    problems = check(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: model: tiny-single@")
    assert "from its golden windows on this CPU's onnx kernels (logits; tolerance 0.03)" in problems[0]
    assert problems[0].endswith("(edge-selftest tiny-single --backend onnx)")
    deviation = float(problems[0].split(" deviates ")[1].split()[0])
    assert 0.03 < deviation <= 1.0  # scores (softmax of the logits) moved past the tolerance
