"""Hostile and careless YAML (issue 15, cases 7 and 11): one line naming the file, exit 2."""

from __future__ import annotations

import pytest
import yaml
from click.testing import CliRunner

from edge._validate import read_yaml
from edge.calibration import HydrophoneTable
from edge.errors import CalibrationError, ConfigError
from tests.support.data import DEPLOYMENTS

BOMB = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi")
    )
    + "description: *i\n"
)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"name: caf\xe9\n", r"not UTF-8 text \(byte 0xe9 at offset 9\)"),
        (b"name: a\nname: b\n", r"not valid YAML: duplicate key 'name' \(line 2\)"),
        (BOMB.encode(), r"not valid YAML: aliases \(\*name\) are not allowed in pamedge configs \(line 2\)"),
        (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", r"not valid YAML: nested too deeply"),
    ],
)
@pytest.mark.slow
def test_read_yaml_refuses_in_one_line(tmp_path, content, message):
    path = tmp_path / "d.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=rf"^{path}: .*{message}$") as err:
        read_yaml(path, "deployment config")
    assert "\n" not in str(err.value)


def test_edge_detect_and_edge_run_check_exit_2_with_one_line(tmp_path):
    from edge.cli.detect import main as detect
    from edge.cli.run import main as run

    bad = tmp_path / "d.yaml"
    bad.write_text((DEPLOYMENTS / "narw-upcall.yaml").read_text() + "description: again\n")
    for cli, args in (
        (detect, [str(tmp_path), "-o", str(tmp_path / "out"), "--config", str(bad)]),
        (run, ["--check", "--config", str(bad)]),
    ):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert "duplicate key 'description'" in result.stderr and "Traceback" not in result.output


def test_a_hydrophone_table_in_latin_1_is_refused_in_one_line(tmp_path):
    path = tmp_path / "h.yaml"
    path.write_bytes(b"convention: sensitivity\nhydrophones: {\xe9: -170}\n")
    with pytest.raises(CalibrationError, match=r"not UTF-8 text"):
        HydrophoneTable.load(path)


@pytest.mark.parametrize("name", ["../../etc", "a/b", ".hidden", "", "x" * 65, "with space", "-dash"])
def test_a_deployment_name_that_could_be_a_path_is_refused(tmp_path, name):
    """Issue 15, case 15: such a name reached edge-sync pack's and edge-shore's file names."""
    from edge.config import load_deployment

    path = tmp_path / "d.yaml"
    path.write_text((DEPLOYMENTS / "generic.yaml").read_text().replace("name: generic", f"name: {name!r}"))
    with pytest.raises(ConfigError, match=r"name=.* must be 1-64 letters, digits"):
        load_deployment(path)


def test_a_keys_file_id_that_could_be_a_path_is_refused(tmp_path):
    from shore.cli import load_keys

    path = tmp_path / "KEYS.yaml"
    path.write_text("'../evil': '" + "ab" * 32 + "'\n")
    with pytest.raises(ConfigError, match=r"deployment id '../evil' must be 1-64"):
        load_keys(str(path))


def test_a_key_file_others_can_write_is_refused_and_check_says_so(tmp_path):
    """Issue 15, case 16: world-writable key files were used without a word."""
    from edge.daemon.check import check
    from edge.sync.config import read_key
    from shore.cli import load_keys

    key = tmp_path / "etc" / "pamedge" / "narw-upcall.key"
    key.parent.mkdir(parents=True)
    key.write_text("ab" * 32 + "\n")
    key.chmod(0o666)
    with pytest.raises(
        ConfigError, match=r"narw-upcall.key: the key file is writable by group or others \(mode 666\); chmod 600"
    ):
        read_key(key)
    deployment = tmp_path / "deployment.yaml"
    deployment.write_text(
        (DEPLOYMENTS / "narw-upcall.yaml")
        .read_text()
        .replace("/etc/pamedge", str(tmp_path / "etc" / "pamedge"))
        .replace("/var/lib/pamedge", str(tmp_path / "var"))
    )
    assert [p for p in check(deployment) if "key_file" in p and "writable by group or others" in p]
    key.chmod(0o600)
    assert read_key(key) == bytes.fromhex("ab" * 32) and check(deployment) == []
    keys = tmp_path / "KEYS.yaml"
    keys.write_text("narw-upcall: '" + "ab" * 32 + "'\n")
    keys.chmod(0o664)
    with pytest.raises(ConfigError, match=r"KEYS.yaml: the keys file is writable by group or others"):
        load_keys(str(keys))


@pytest.mark.parametrize(
    "section, key, value, message",
    [
        ("frontend", "nfft", 1_000_000_000, "nfft=1000000000 must be <= 131072"),
        ("model", "threads", 100_000, "threads=100000 must be <= 32 (more threads than cores"),
        ("model", "batch_size", 10**9, "batch_size=1000000000 must be <= 4096"),
        ("roi", "smooth_frames", 100_001, "smooth_frames=100001 must be <= 101"),
        ("roi", "noise_segment_s", 0.0001, "noise_window_s / noise_segment_s = 600000 segments"),
        (None, "block_s", 0.0001, "block_s=0.0001 must be >= 0.01"),
        (None, "block_s", 1e9, "block_s=1000000000.0 must be <= 3600"),
        ("levels", "period_s", 1e9, "period_s=1000000000.0 must be <= 86400"),
        ("run", "live", {"channels": 100_000}, "channels=100000 must be <= 64"),
    ],
)
def test_sizes_are_bounded_at_validation_with_the_limit_named(tmp_path, section, key, value, message):
    """Sizes that would take gigabytes or minutes are refused when the deployment loads, in one
    line naming the file, the key and the limit (issue: hardening, case 8)."""
    from edge.config import load_deployment
    from edge.errors import ConfigError

    data = {"name": "bounded", "sample_rate": 2000}
    if section == "model":
        data["model"] = {"bundle": "narw-upcall", key: value}
    elif section is None:
        data[key] = value
    else:
        data[section] = {key: value}
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_deployment(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(str(path)) and message in text


def test_libyaml_and_the_pure_python_loader_read_every_shipped_yaml_alike():
    """parse_yaml takes libyaml where PyYAML has it; the refusals above hold on that path, and
    every YAML file the project ships reads as PyYAML's pure-Python safe loader reads it."""
    from edge._validate import parse_yaml
    from tests.support.data import ROOT

    if not yaml.__with_libyaml__:  # PyYAML built without it: parse_yaml is the pure-Python loader
        pytest.skip("PyYAML without libyaml here: only the pure-Python loader runs")
    files = [p for d in ("firmware-config", "models", "training/recipes") for p in (ROOT / d).rglob("*.yaml")]
    assert len(files) >= 10
    for path in files:
        text = path.read_text()
        assert parse_yaml(text, path) == yaml.load(text, Loader=yaml.SafeLoader), path
