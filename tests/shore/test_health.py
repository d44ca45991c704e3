"""Health end to end: a log written through edge-run's own writer (recordings committed with
their detections, health records from the running totals) -> edge-sync pack -> edge-shore
ingest -> edge-shore export --health equals the log's rows within the documented
quantisation; the detections export is the same as without health."""

from __future__ import annotations

import csv
import datetime as dt

from click.testing import CliRunner

from edge.cli.sync import main as sync_main
from edge.daemon.state import DaemonLog, HealthRecord, Processed
from edge.log import DetectionLog
from shore.cli import main as shore_main
from shore.export import HEALTH_COLUMNS
from tests.support.telemetry import T0, make_detections

KEY = bytes(range(32)).hex()
FILE_S = 600.0


def utc(t: float) -> str:
    return (T0 + dt.timedelta(seconds=t)).isoformat(timespec="seconds").replace("+00:00", "Z")


def recordings(detections) -> list[list]:
    """The detections of 12 ten-minute recordings; the 8th is dropped (deleted unprocessed)."""
    seconds = lambda d: (dt.datetime.fromisoformat(d.start_utc.replace("Z", "+00:00")) - T0).total_seconds()  # noqa
    return [[] if i == 7 else [d for d in detections if i * FILE_S <= seconds(d) < (i + 1) * FILE_S] for i in range(12)]


def health(log: DaemonLog, t: float, event: str, uptime: float, level: str, i: int, backlog: float) -> HealthRecord:
    """A health record as edge-run makes one: effort from the log's running totals."""
    totals = log.totals()
    return HealthRecord(
        utc(t),
        event,
        uptime,
        level,
        "backlog" if level != "full" else "",
        totals["processed_s"] + backlog + totals["dropped_s"],
        totals["processed_s"],
        backlog,
        totals["dropped_s"],
        totals["gaps_s"],
        None if i == 7 else 0.004 * i,
        96.0 + 0.37 * i,
        FILE_S / 14.2,
        25000.0 - 123.4 * i,
        50.0 * i,
        48.0 + 0.6 * i if i >= 2 else None,
        None,
        int(totals["files"]),
        int(totals["detections"]),
    )


def write_daemon_log(path, batches) -> list[HealthRecord]:
    """What edge-run writes: each recording committed with its detections, a health record
    after each (a restart after the 6th: stop, then start; roi-only from the 10th; no battery
    sensor, a CPU temperature from the 3rd)."""
    with DaemonLog(path) as log:
        boot = 0.0
        for i, batch in enumerate(batches):
            t = i * FILE_S
            level = "roi-only" if i >= 9 else "full"
            log.commit_file(
                Processed(
                    f"rec{i}:1",
                    f"/rec/{i}.wav",
                    "dropped" if i == 7 else "ok",
                    "",
                    utc(t),
                    FILE_S,
                    2000,
                    2.5 if i == 5 else 0.0,
                    utc(t + FILE_S),
                    14.2,
                    level,
                    9,
                    len(batch),
                    None if i == 7 else 0.004 * i,
                ),
                batch,
                [],
                None,
            )
            if i == 6:
                log.add_health(health(log, t + FILE_S, "stop", t + FILE_S - boot + 0.3, level, i, FILE_S))
                boot = t + FILE_S
            event = "start" if i in (0, 6) else "level" if i == 9 else "period"
            log.add_health(
                health(log, t + FILE_S + 1, event, t + FILE_S + 1 - boot + 0.3, level, i, FILE_S if i < 11 else 0.0)
            )
        return log.health()


def test_health_from_edge_run_log_to_shore_csv(tmp_path):
    batches = recordings(make_detections(120, mean_gap_s=55))
    rows = write_daemon_log(tmp_path / "daemon.sqlite", batches)
    with DetectionLog(tmp_path / "detect.sqlite") as log:  # the same detections, as edge-detect logs them
        log.append([d for batch in batches for d in batch])
    (tmp_path / "key").write_text(KEY)
    (tmp_path / "keys.yaml").write_text(f"buoy-1: {KEY}\n")
    runner = CliRunner()
    out = {}
    for name in ("daemon", "detect"):
        result = runner.invoke(
            sync_main,
            ["pack", str(tmp_path / f"{name}.sqlite"), "-o", str(tmp_path / name), "--key-file", str(tmp_path / "key")],
        )
        assert result.exit_code == 0, result.output
        out[name] = result.output.strip()
    frames = sorted((tmp_path / "daemon").iterdir())
    assert len(frames) == len(list((tmp_path / "detect").iterdir())) + 1  # the health rows in one frame
    assert out["daemon"] == (
        f"{out['detect']}; {len(rows)} health records -> 1 frames, {frames[-1].stat().st_size} bytes"
    )
    frames = sorted((tmp_path / "daemon").iterdir())
    forged = bytearray(frames[-1].read_bytes())
    forged[12] ^= 0x10
    (tmp_path / "forged").mkdir()
    (tmp_path / "forged" / "x.frame").write_bytes(bytes(forged))
    n = len(frames)
    for name, counts in (
        ("daemon", f"accepted {n}  duplicate 0  rejected 0"),
        ("forged", "accepted 0  duplicate 0  rejected 1 (bad MAC 1"),
        ("daemon", f"accepted 0  duplicate {n}  rejected 0"),
    ):
        result = runner.invoke(
            shore_main,
            [
                "ingest",
                str(tmp_path / name),
                "--db",
                str(tmp_path / "shore.sqlite"),
                "--keys",
                str(tmp_path / "keys.yaml"),
            ],
        )
        assert result.exit_code == 0 and result.output.startswith(counts), result.output
    result = runner.invoke(
        shore_main,
        [
            "ingest",
            str(tmp_path / "detect"),
            "--db",
            str(tmp_path / "plain.sqlite"),
            "--keys",
            str(tmp_path / "keys.yaml"),
        ],
    )
    for db in ("shore", "plain"):
        result = runner.invoke(
            shore_main,
            [
                "export",
                "--db",
                str(tmp_path / f"{db}.sqlite"),
                "-o",
                str(tmp_path / f"{db}.csv"),
                "--health",
                str(tmp_path / f"{db}-health.csv"),
            ],
        )
        assert result.exit_code == 0, result.output
    assert (tmp_path / "shore.csv").read_text() == (tmp_path / "plain.csv").read_text()  # records unaffected
    assert (tmp_path / "plain-health.csv").read_text().strip() == ",".join(HEALTH_COLUMNS)
    with open(tmp_path / "shore-health.csv", newline="") as fh:
        exported = list(csv.DictReader(fh))
    assert list(exported[0]) == list(HEALTH_COLUMNS) and len(exported) == len(rows) == 13
    num = lambda text: None if text == "" else float(text)  # noqa: E731
    for seq, (want, got) in enumerate(zip(rows, exported), start=1):
        assert (got["deployment"], int(got["seq"]), got["utc"], got["event"], got["level"]) == (
            "buoy-1",
            seq,
            want.utc,
            want.event,
            want.level,
        )
        assert (int(got["files"]), int(got["detections"])) == (want.files, want.detections)
        for name in ("uptime_s", "recorded_s", "processed_s", "backlog_s", "dropped_s", "gaps_s"):
            assert abs(num(got[name]) - getattr(want, name)) <= 0.5, name
        assert (num(got["battery_v"]), num(got["audio_mb"]) is None) == (None, want.audio_mb is None)
        assert (num(got["cpu_temp_c"]) is None) == (want.cpu_temp_c is None)
        if want.cpu_temp_c is not None:
            assert abs(num(got["cpu_temp_c"]) - want.cpu_temp_c) <= 0.25
        assert abs(num(got["noise_db"]) - want.noise_db) <= 0.125
        assert abs(num(got["disk_free_mb"]) - want.disk_free_mb) <= 0.0073 * want.disk_free_mb
        assert abs(num(got["realtime_factor"]) - want.realtime_factor) <= 0.029 * want.realtime_factor
        if want.clipped_pct is None or want.clipped_pct == 0:
            assert num(got["clipped_pct"]) == want.clipped_pct
        else:
            assert abs(num(got["clipped_pct"]) - want.clipped_pct) <= 0.029 * want.clipped_pct
    # effort per period: the 8th recording was dropped, so its period shows recorded but not processed
    periods = [
        (e["event"], num(e["period_recorded_s"]), num(e["period_processed_s"]), num(e["period_detections"]))
        for e in exported
    ]
    assert periods[0] == ("start", None, None, None)
    dropped = 8  # the row after the 8th recording (rows 0..5, the stop and start after the 7th, then it)
    assert rows[dropped].dropped_s == FILE_S and rows[dropped - 1].dropped_s == 0
    assert periods[dropped][1] >= FILE_S - 1 and periods[dropped][2:] == (0, 0)
    for i, (want, prev) in enumerate(zip(rows[1:], rows), start=1):
        assert abs(periods[i][2] - (want.processed_s - prev.processed_s)) <= 1
        assert periods[i][3] == want.detections - prev.detections


def test_a_quiet_buoy_with_health_and_no_detections(tmp_path):
    """No detections at all: the health rows still reach shore (the deployment is named, since
    the log holds no record of it), and say the buoy was listening."""
    with DaemonLog(tmp_path / "quiet.sqlite") as log:
        for i in range(3):
            log.commit_file(
                Processed(
                    f"rec{i}:1",
                    f"/rec/{i}.wav",
                    "ok",
                    "",
                    utc(i * FILE_S),
                    FILE_S,
                    2000,
                    0.0,
                    utc((i + 1) * FILE_S),
                    14.2,
                    "full",
                    0,
                    0,
                    0.0,
                ),
                [],
                [],
                None,
            )
            log.add_health(
                health(log, (i + 1) * FILE_S, "start" if i == 0 else "period", (i + 1) * FILE_S, "full", i, 0.0)
            )
    (tmp_path / "key").write_text(KEY)
    (tmp_path / "keys.yaml").write_text(f"quiet-1: {KEY}\n")
    runner = CliRunner()
    pack = ["pack", str(tmp_path / "quiet.sqlite"), "-o", str(tmp_path / "frames"), "--key-file", str(tmp_path / "key")]
    result = runner.invoke(sync_main, pack)
    assert result.exit_code == 2 and "holds deployments none; give --deployment" in result.stderr
    result = runner.invoke(sync_main, pack + ["--deployment", "quiet-1"])
    assert result.exit_code == 0 and result.output.startswith("0 records -> 0 frames"), result.output
    assert [p.name for p in (tmp_path / "frames").iterdir()] == ["quiet-1-00000001.frame"]
    db = ["--db", str(tmp_path / "shore.sqlite")]
    result = runner.invoke(shore_main, ["ingest", str(tmp_path / "frames"), *db, "--keys", str(tmp_path / "keys.yaml")])
    assert result.output.startswith("accepted 1  duplicate 0  rejected 0")
    result = runner.invoke(shore_main, ["export", *db, "--health", str(tmp_path / "h.csv")])
    assert result.exit_code == 0 and result.output == f"3 health records -> {tmp_path / 'h.csv'}\n"
    with open(tmp_path / "h.csv", newline="") as fh:
        periods = [(r["period_s"], r["period_processed_s"], r["period_detections"]) for r in csv.DictReader(fh)]
    assert periods == [("", "", ""), ("600", "600", "0"), ("600", "600", "0")]  # listening, and quiet
