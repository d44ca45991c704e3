"""edge-sync pack and edge-shore ingest/export from the command line: counts, one-line errors."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from edge.cli.sync import main as sync_main
from edge.log import DetectionLog
from shore.cli import main as shore_main
from tests.support.telemetry import make_detections

KEY = bytes(range(32)).hex()


def test_pack_ingest_export(tmp_path):
    with DetectionLog(tmp_path / "log.sqlite") as log:
        log.append(make_detections(300))
    (tmp_path / "key").write_text(KEY + "\n")
    (tmp_path / "keys.yaml").write_text(f"buoy-1: {KEY}\n")
    runner = CliRunner()
    result = runner.invoke(
        sync_main,
        ["pack", str(tmp_path / "log.sqlite"), "-o", str(tmp_path / "frames"), "--key-file", str(tmp_path / "key")],
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("300 records -> ") and "bytes per record" in result.output
    files = sorted((tmp_path / "frames").iterdir())
    assert files[0].name == "buoy-1-00000001.frame" and all(f.stat().st_size <= 340 for f in files)
    flipped = bytearray(files[0].read_bytes())
    flipped[-1] ^= 1
    (tmp_path / "frames" / "zz-forged.frame").write_bytes(bytes(flipped))
    args = [
        "ingest",
        str(tmp_path / "frames"),
        "--db",
        str(tmp_path / "shore.sqlite"),
        "--keys",
        str(tmp_path / "keys.yaml"),
    ]
    result = runner.invoke(shore_main, args)
    reasons = "(bad MAC 1, unknown deployment 0, replay 0, malformed 0)"
    assert (
        result.exit_code == 0 and result.output.strip() == f"accepted {len(files)}  duplicate 0  rejected 1 {reasons}"
    )
    result = runner.invoke(shore_main, args)
    assert result.output.strip() == f"accepted 0  duplicate {len(files)}  rejected 1 {reasons}"
    result = runner.invoke(
        shore_main,
        [
            "export",
            "--db",
            str(tmp_path / "shore.sqlite"),
            "-o",
            str(tmp_path / "out.csv"),
            "--raven",
            str(tmp_path / "raven"),
        ],
    )
    assert result.exit_code == 0 and "300 records" in result.output
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert len(lines) == 301
    header = lines[0].split(",")
    assert {line.split(",")[header.index("config_hash")] for line in lines[1:]} == {"0123456789abcdef"}


def test_usage_errors_are_one_line_and_exit_2(tmp_path):
    runner = CliRunner()
    (tmp_path / "key").write_text("abcd")
    with DetectionLog(tmp_path / "log.sqlite") as log:
        log.append(make_detections(3))
    result = runner.invoke(
        sync_main,
        ["pack", str(tmp_path / "log.sqlite"), "-o", str(tmp_path / "f"), "--key-file", str(tmp_path / "key")],
    )
    assert (
        result.exit_code == 2
        and result.stderr.strip() == f"error: {tmp_path / 'key'}: key is 2 bytes, at least 16 are needed"
    )
    (tmp_path / "keys.yaml").write_text("buoy-1: nothex\n")
    result = runner.invoke(
        shore_main, ["ingest", str(tmp_path), "--db", str(tmp_path / "s.sqlite"), "--keys", str(tmp_path / "keys.yaml")]
    )
    assert result.exit_code == 2 and result.stderr.strip() == f"error: {tmp_path / 'keys.yaml'}: buoy-1: not a hex key"
    result = runner.invoke(
        shore_main, ["ingest", "--db", str(tmp_path / "s.sqlite"), "--keys", str(tmp_path / "keys.yaml")]
    )
    assert result.exit_code == 2 and "give either SOURCE" in result.stderr


def test_command_frames_are_sequenced_and_verified_by_the_buoy(tmp_path):
    from edge.log import connect
    from edge.sync.commands import CommandHandler

    (tmp_path / "keys.yaml").write_text(f"buoy-1: {KEY}\n")
    runner = CliRunner()
    base = [
        "command",
        "--db",
        str(tmp_path / "shore.sqlite"),
        "--keys",
        str(tmp_path / "keys.yaml"),
        "--deployment",
        "buoy-1",
    ]
    assert runner.invoke(shore_main, base + ['{"cmd": "pause"}', "-o", str(tmp_path / "a.mt")]).exit_code == 0
    result = runner.invoke(
        shore_main, base + ['{"cmd": "set_threshold", "label": "upcall", "value": 0.7}', "-o", str(tmp_path / "b.mt")]
    )
    assert result.exit_code == 0 and result.output.endswith(f"bytes -> {tmp_path / 'b.mt'}\n")
    result = runner.invoke(shore_main, base + ['{"cmd": "reboot"}', "-o", str(tmp_path / "c.mt")])
    assert result.exit_code == 2 and "unknown command" in result.stderr
    handler = CommandHandler(connect(tmp_path / "buoy.sqlite"), "buoy-1", bytes.fromhex(KEY))
    assert handler.handle((tmp_path / "a.mt").read_bytes()).cmd == "pause"
    assert handler.handle((tmp_path / "b.mt").read_bytes()).value == 0.7
    assert handler.handle((tmp_path / "a.mt").read_bytes()) is None  # replayed


@pytest.mark.slow
def test_http_ingest_from_the_command_line(tmp_path):
    """edge-shore ingest --http PORT --idle-s S: web-hook POSTs until S seconds pass without one."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.parse
    import urllib.request

    from edge.sync.frames import pack_all

    (tmp_path / "keys.yaml").write_text(f"buoy-1: {KEY}\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from shore.cli import main; main()",
            "ingest",
            "--http",
            str(port),
            "--idle-s",
            "1.5",
            "--db",
            str(tmp_path / "s.sqlite"),
            "--keys",
            str(tmp_path / "keys.yaml"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    frame = pack_all(list(enumerate(make_detections(10), 1)), deployment="buoy-1", key=bytes.fromhex(KEY))[0]
    body = urllib.parse.urlencode(
        {"imei": "300234010000001", "momsn": 7, "transmit_time": "26-03-28 10:00:00", "data": frame.hex()}
    ).encode()
    for _attempt in range(50):
        try:
            for _ in range(2):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", data=body, timeout=5).read()
            break
        except OSError:
            time.sleep(0.1)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out.strip() == (
        "accepted 1  duplicate 1  rejected 0 (bad MAC 0, unknown deployment 0, replay 0, malformed 0)"
    )
