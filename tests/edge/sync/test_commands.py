"""Downlink commands through the modem simulator: applied once, forged / malformed /
replayed ones ignored and recorded; a status request is answered with a status frame; a
paused buoy sends nothing until resumed."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("serial", reason='needs pyserial: pip install "pamedge[sync]"')

from edge.log import DetectionLog
from edge.sync import frames as fr
from edge.sync.commands import CommandHandler, pack_command
from edge.sync.iridium import IridiumModem
from edge.sync.outbox import Outbox
from edge.sync.sender import send_pending
from tests.support.data import ROOT
from tests.support.telemetry import make_detections

KEY = bytes(range(32))


@pytest.fixture
def sim(tmp_path):
    link, gateway, mt = tmp_path / "modem", tmp_path / "gateway", tmp_path / "mt"
    mt.mkdir()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "edge.sync.modem_sim",
            "--link",
            str(link),
            "--gateway",
            str(gateway),
            "--mt-dir",
            str(mt),
            "--seed",
            "3",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().startswith("ready ")
    yield link, gateway, mt
    proc.kill()
    proc.wait()


def test_pack_command_validates_and_fits_the_mt_limit():
    with pytest.raises(ValueError, match="unknown command"):
        pack_command({"cmd": "self-destruct"}, deployment="buoy-1", key=KEY, frame_seq=1)
    with pytest.raises(ValueError, match="0..1"):
        pack_command({"cmd": "set_threshold", "label": "upcall", "value": 3}, deployment="buoy-1", key=KEY, frame_seq=1)
    with pytest.raises(fr.FrameError, match="270-byte MT limit"):
        pack_command(
            {"cmd": "set_threshold", "label": "x" * 300, "value": 0.5}, deployment="buoy-1", key=KEY, frame_seq=1
        )


def test_commands_through_the_simulator(tmp_path, sim):
    link, gateway, mt = sim
    cmd = lambda c, seq, key=KEY: pack_command(c, deployment="buoy-1", key=key, frame_seq=seq)  # noqa: E731
    queued = [
        cmd({"cmd": "set_threshold", "label": "upcall", "value": 0.8}, 1),
        cmd({"cmd": "pause"}, 2, key=bytes(32)),  # forged: another key
        b"\x13garbage",  # malformed
        cmd({"cmd": "set_threshold", "label": "upcall", "value": 0.8}, 1),  # replayed
        cmd({"cmd": "status"}, 3),
    ]
    for i, data in enumerate(queued):
        (mt / f"{i:03d}.mt").write_bytes(data)
    with DetectionLog(tmp_path / "buoy.sqlite") as log, IridiumModem(str(link), timeout_s=2) as modem:
        log.append(make_detections(400))
        box = Outbox(log, {"buoy-1": KEY})
        handler = CommandHandler(log.conn, "buoy-1", KEY)
        stats = send_pending(box, modem, commands=handler)
        assert stats.downlink == 5 and box.status()["frames_pending"] == 0
        assert handler.thresholds() == {"upcall": 0.8} and handler.last_seq() == 3
        rejected = [r[0] for r in log.conn.execute("SELECT reason FROM commands_rejected")]
        assert len(rejected) == 3 and "authentication failed" in rejected[0] and "replayed" in rejected[2]
        # the status request was answered with a status frame (the identity frame with the
        # outbox counters), delivered like the others
        ring = fr.KeyRing({"buoy-1": KEY})
        kinds = [fr.decode(bytes.fromhex(json.loads(p.read_text())["data"]), ring) for p in gateway.iterdir()]
        status = [f.identity for f in kinds if f.kind == fr.KIND_IDENTITY and f.identity.status]
        assert len(status) == 1 and dict(status[0].status)["records"] == 400
        assert status[0].from_seq == 1 and status[0].identity.config_hash == "0123456789abcdef"
        # pause: nothing is sent, the mailbox is still checked; resume: sending continues
        (mt / "100.mt").write_bytes(cmd({"cmd": "pause"}, 4))
        log.append(make_detections(200, seed=8))  # several frames, even after the 0.8 upcall threshold
        stats = send_pending(box, modem, commands=handler)  # the pause arrives with the first frame
        assert handler.paused
        before = box.status()["frames_pending"]
        assert before > 0
        assert send_pending(box, modem, commands=handler).sent == 0 and box.status()["frames_pending"] == before
        (mt / "101.mt").write_bytes(cmd({"cmd": "resume"}, 5))
        send_pending(box, modem, commands=handler)
        assert not handler.paused and box.status()["frames_pending"] == 0


def test_edge_sync_send_and_status_with_a_sync_yaml(tmp_path, sim):
    from click.testing import CliRunner

    from edge.cli.sync import main

    link, gateway, _ = sim
    with DetectionLog(tmp_path / "buoy.sqlite") as log:
        log.append(make_detections(120))
    (tmp_path / "key").write_text(KEY.hex())
    (tmp_path / "sync.yaml").write_text(
        f"deployment: buoy-1\nlog: buoy.sqlite\nkey_file: key\ntransport: iridium\n"
        f"daily_bytes: 100000\niridium: {{port: {link}, timeout_s: 2}}\n"
    )
    runner = CliRunner()
    result = runner.invoke(main, ["status", "--config", str(tmp_path / "sync.yaml")])
    assert result.exit_code == 0 and "frames_pending" in result.output and "records         120" in result.output
    result = runner.invoke(main, ["send", "--config", str(tmp_path / "sync.yaml")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("sent ") and result.output.strip().endswith("pending 0")
    assert len(list(gateway.iterdir())) == int(result.output.split()[1])
    (tmp_path / "bad.yaml").write_text("deployment: buoy-1\nkey_file: key\ntransprot: mqtt\n")
    result = runner.invoke(main, ["send", "--config", str(tmp_path / "bad.yaml")])
    assert result.exit_code == 2 and "unknown key 'transprot'" in result.stderr


def test_pause_resume_threshold_and_status_end_to_end_from_the_command_lines(tmp_path, sim):
    """edge-shore command -> (RockBLOCK MT queue: the simulator's --mt-dir) -> edge-sync send."""
    from click.testing import CliRunner

    from edge.cli.sync import main as sync
    from edge.sync.commands import threshold_overrides
    from shore.cli import main as shore

    link, gateway, mt = sim
    (tmp_path / "key").write_text(KEY.hex())
    (tmp_path / "keys.yaml").write_text(f"buoy-1: {KEY.hex()}\n")
    (tmp_path / "buoy-1.yaml").write_text(
        f"name: buoy-1\nsync:\n  log: buoy.sqlite\n  key_file: key\n  iridium: {{port: {link}, timeout_s: 2}}\n"
    )
    runner = CliRunner()
    send = ["send", "--config", str(tmp_path / "buoy-1.yaml")]

    def command(body: str, name: str) -> None:
        result = runner.invoke(
            shore,
            [
                "command",
                body,
                "--db",
                str(tmp_path / "shore.sqlite"),
                "--keys",
                str(tmp_path / "keys.yaml"),
                "--deployment",
                "buoy-1",
                "-o",
                str(mt / name),
            ],
        )
        assert result.exit_code == 0, result.output

    dets = make_detections(300)
    with DetectionLog(tmp_path / "buoy.sqlite") as log:
        log.append(dets[:100])
    command('{"cmd": "pause"}', "001.mt")
    result = runner.invoke(sync, send)  # the pause arrives with the first session
    assert result.output.strip().endswith("paused"), result.output
    with DetectionLog(tmp_path / "buoy.sqlite") as log:
        log.append(dets[100:])
    result = runner.invoke(sync, send)  # paused: the mailbox is checked, nothing is sent
    assert result.exit_code == 1 and result.output.startswith("sent 0") and "paused" in result.output
    pending = int(result.output.split("pending ")[1].split()[0])
    assert pending > 0
    command('{"cmd": "set_threshold", "label": "upcall", "value": 0.9}', "002.mt")
    command('{"cmd": "status"}', "003.mt")
    command('{"cmd": "resume"}', "004.mt")
    result = runner.invoke(sync, send)
    assert result.exit_code == 0 and result.output.strip().endswith("pending 0"), result.output
    assert threshold_overrides(tmp_path / "buoy.sqlite") == {"upcall": 0.9}
    status = runner.invoke(sync, ["status", "--config", str(tmp_path / "buoy-1.yaml")]).output
    assert "paused          no\n" in status and "thresholds      upcall=0.9\n" in status

    ingest = runner.invoke(
        shore, ["ingest", str(gateway), "--db", str(tmp_path / "shore.sqlite"), "--keys", str(tmp_path / "keys.yaml")]
    )
    assert ingest.exit_code == 0 and " rejected 0 " in ingest.output, ingest.output
    from shore.store import ShoreStore

    with ShoreStore(tmp_path / "shore.sqlite", fr.KeyRing({"buoy-1": KEY})) as store:
        seqs = store.seqs("buoy-1")
        status = store.conn.execute("SELECT status FROM identity WHERE status IS NOT NULL").fetchall()
    assert len(status) == 1 and json.loads(status[0][0])["records"] == 300
    # frames packed before the threshold arrived carry every record; the threshold applies to
    # the records packed after it (the queue had already packed these 300)
    assert seqs == list(range(1, 301))
