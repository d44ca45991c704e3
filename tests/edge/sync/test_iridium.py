"""The Iridium transport against the simulator: every SBDIX field, failures, ring alerts."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("serial", reason='needs pyserial: pip install "pamedge[sync]"')

from edge.sync.iridium import IridiumModem, ModemError, SbdixResult, checksum
from tests.support.data import ROOT


def start(tmp_path, *args):
    link = tmp_path / "modem"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge.sync.modem_sim",
            "--link",
            str(link),
            "--gateway",
            str(tmp_path / "gw"),
            "--mt-dir",
            str(tmp_path / "mt"),
            *args,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().startswith("ready ")
    return proc, link


def test_sbdix_parsing_and_checksum():
    r = SbdixResult.parse("+SBDIX: 0, 65535, 1, 12, 40, 2")
    assert (r.ok, r.momsn, r.mt_status, r.mtmsn, r.mt_length, r.mt_queued) == (True, 65535, 1, 12, 40, 2)
    assert not SbdixResult.parse("+SBDIX: 32, 7, 2, 0, 0, 0").ok
    with pytest.raises(ModemError, match="6"):
        SbdixResult.parse("+SBDIX: 0, 1, 0")
    assert checksum(b"hello") == bytes([0x02, 0x14])


def test_no_network_wrap_and_ring_alert(tmp_path):
    proc, link = start(tmp_path, "--no-network")
    try:
        with IridiumModem(str(link), timeout_s=2) as modem:
            assert modem.csq() == 0
            result = modem.send(b"x" * 40)
            assert not result.ok and "MO status 32 (no network service)" == result.detail
            with pytest.raises(ModemError, match="1..340"):
                modem.write_mo(b"x" * 341)
    finally:
        proc.kill()
        proc.wait()
    (tmp_path / "mt").mkdir()
    (tmp_path / "mt" / "a").write_bytes(b"down")
    proc, link = start(tmp_path, "--momsn", "65535")
    try:
        with IridiumModem(str(link), timeout_s=2) as modem:
            assert modem.csq() == 4
            modem.enable_ring_alerts()
            modem.command("AT")
            assert modem.ring
            result = modem.send(b"up")
            assert result.ok and result.sbdix.momsn == 0 and result.mt == [b"down"]  # MOMSN wrapped
    finally:
        proc.kill()
        proc.wait()
