"""Sync YAML: the shipped files load; unknown keys and bad values are named."""

from __future__ import annotations

import pytest

from edge.errors import ConfigError
from edge.sync.config import load_sync_config
from tests.support.data import DEPLOYMENTS


def test_shipped_deployments_carry_sync_sections():
    narw = load_sync_config(DEPLOYMENTS / "narw-upcall.yaml")
    assert (narw.deployment, narw.transport, narw.max_bytes, narw.concern) == (
        "narw-upcall",
        "iridium",
        340,
        ("upcall",),
    )
    beluga = load_sync_config(DEPLOYMENTS / "beluga.yaml")
    assert (beluga.deployment, beluga.transport, beluga.mqtt.tls) == ("beluga", "mqtt", True)


def test_sync_section_is_not_part_of_the_deployment_hash(tmp_path):
    from edge.config import load_deployment

    text = (DEPLOYMENTS / "narw-upcall.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text.replace("../hydrophones.yaml", str(DEPLOYMENTS.parent / "hydrophones.yaml")))
    (tmp_path / "b.yaml").write_text(
        text.replace("../hydrophones.yaml", str(DEPLOYMENTS.parent / "hydrophones.yaml")).replace(
            "daily_credits: 150", "daily_credits: 20"
        )
    )
    a, b = load_deployment(tmp_path / "a.yaml"), load_deployment(tmp_path / "b.yaml")
    assert a.sync.daily_credits == 150 and b.sync.daily_credits == 20 and a.hash == b.hash


def test_deployment_without_sync_section_is_named(tmp_path):
    (tmp_path / "d.yaml").write_text("name: quiet\n")
    with pytest.raises(ConfigError, match="deployment 'quiet' has no sync: section"):
        load_sync_config(tmp_path / "d.yaml")


def test_bad_key_in_a_deployment_sync_section_is_named(tmp_path):
    (tmp_path / "d.yaml").write_text("name: x\nsync:\n  key_file: k\n  modem: rockblock\n")
    with pytest.raises(ConfigError, match=r"d.yaml: sync: unknown key 'modem'"):
        load_sync_config(tmp_path / "d.yaml")


@pytest.mark.parametrize(
    "text, message",
    [
        ("deployment: b\nkey_file: k\niridium: {prot: /dev/x}\n", "iridium: unknown key 'prot'"),
        ("deployment: b\nkey_file: k\nmax_bytes: 400\n", "max_bytes=400 exceeds the 340-byte Iridium SBD MO limit"),
        ("deployment: b\nkey_file: k\ntransport: lora\n", "transport='lora' must be iridium or mqtt"),
        ("key_file: k\n", "deployment='' must be 1-64 letters, digits"),
        ("deployment: b\nkey_file: k\nhealth_hold_s: -5\n", "health_hold_s=-5 must be >= 0"),
    ],
)
def test_bad_sync_configs_are_named(tmp_path, text, message):
    (tmp_path / "s.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_sync_config(tmp_path / "s.yaml")


def test_health_hold_reaches_the_outbox_settings(tmp_path):
    from edge.cli.sync import _open

    (tmp_path / "k").write_text(bytes(range(32)).hex())
    (tmp_path / "s.yaml").write_text("deployment: b\nkey_file: k\nlog: log.sqlite\nhealth_hold_s: 0\n")
    assert load_sync_config(tmp_path / "s.yaml").health_hold_s == 0
    config, box, _ = _open(tmp_path / "s.yaml")
    try:
        assert box.settings.health_hold_s == 0
    finally:
        box.log.close()
    assert load_sync_config(DEPLOYMENTS / "narw-upcall.yaml").health_hold_s == 3600
