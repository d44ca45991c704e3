"""``edge-sync``: the detection log -> authenticated frames -> shore (Iridium SBD or MQTT)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from edge.cli.options import domain_errors, fail, version_option

if TYPE_CHECKING:
    from edge.sync.config import SyncConfig
    from edge.sync.outbox import Outbox
    from edge.types import Transport


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@version_option
def main() -> None:
    """Telemetry from the buoy: pack the detection log into frames (docs/reference/frames.md) and send
    them through the outbox.  Exit status 0, 1 frames left unsent, 2 usage error."""


@main.command()
@click.argument("log_path", metavar="LOG.sqlite", type=click.Path(dir_okay=False))
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False), help="Folder for the frame files.")
@click.option(
    "--max-bytes",
    type=click.IntRange(min=40),
    default=340,
    show_default=True,
    help="Byte budget per frame (340: an Iridium SBD MO message).",
)
@click.option("--key-file", required=True, type=click.Path(dir_okay=False), help="The deployment key, in hex.")
@click.option("--deployment", default=None, help="Deployment id to pack. Default: the only one in the log.")
@domain_errors
def pack(log_path: str, outdir: str, max_bytes: int, key_file: str, deployment: str | None) -> None:
    """Pack every record of LOG.sqlite (e.g. edge-detect's OUTDIR/detections.sqlite) into
    frames, one file per frame: <deployment>-<frame seq>.frame, frame sequence from 1.  The
    health records of an edge-run log follow the detections, in health frames."""
    from edge.log import DetectionLog
    from edge.sync import health
    from edge.sync.config import read_key
    from edge.sync.frames import pack_all, pack_all_health

    if not Path(log_path).is_file():
        fail(f"{log_path}: no such file")
    key = read_key(key_file)
    with DetectionLog(log_path) as log:
        deployments = log.deployments()
        rows = health.read(log.conn)
        if deployment is None:
            if len(deployments) != 1:
                fail(f"{log_path}: holds deployments {', '.join(map(repr, deployments)) or 'none'}; give --deployment")
            deployment = deployments[0]
        elif deployment not in deployments and not rows:
            fail(f"{log_path}: no records of deployment {deployment!r}")
        records = log.read(deployment)
    frames = pack_all(records, deployment=deployment, key=key, max_bytes=max_bytes) if records else []
    health_frames = pack_all_health(
        rows, deployment=deployment, key=key, first_frame_seq=len(frames) + 1, max_bytes=max_bytes
    )
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(frames + health_frames, start=1):
        (out / f"{deployment}-{i:08d}.frame").write_bytes(data)
    total = sum(map(len, frames))
    click.echo(
        f"{len(records)} records -> {len(frames)} frames, {total} bytes, "
        f"{total / max(len(records), 1):.2f} bytes per record (header and tag included), "
        f"largest frame {max(map(len, frames), default=0)} bytes"
        + (
            f"; {len(rows)} health records -> {len(health_frames)} frames, {sum(map(len, health_frames))} bytes"
            if rows
            else ""
        )
    )


def _open(config_path: str, clock: Callable[[], float] = time.time) -> tuple[SyncConfig, Outbox, bytes]:
    from edge.log import DetectionLog
    from edge.sync.config import load_sync_config, read_key
    from edge.sync.outbox import Outbox, OutboxSettings

    config = load_sync_config(config_path)
    key = read_key(config.path(config.key_file))
    log = DetectionLog(config.path(config.log))
    settings = OutboxSettings(
        max_bytes=config.max_bytes,
        daily_bytes=config.daily_bytes,
        daily_credits=config.daily_credits,
        tally_period_s=config.tally_period_s,
        concern=config.concern,
        health_hold_s=config.health_hold_s,
    )
    return config, Outbox(log, {config.deployment: key}, settings=settings, clock=clock), key


class _Stop(Exception):
    """SIGTERM: finish the current step, close the transport, report."""


def _stop(signum: int, frame: object) -> NoReturn:
    raise _Stop


@main.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Deployment YAML with a sync: section, or a shipped deployment's name (narw-upcall).",
)
@click.option("--no-wait", is_flag=True, help="Return at the first failed session instead of waiting out the backoff.")
@click.option(
    "--follow",
    is_flag=True,
    help="Keep running: when the queue is empty, look for new log records every --poll-s (stop: SIGTERM).",
)
@click.option(
    "--poll-s",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="With --follow: seconds between looks at the log (and, when paused, at the mailbox).",
)
@click.option(
    "--simulated-time",
    is_flag=True,
    help="Backoffs advance a clock instead of sleeping: for runs against the modem simulator "
    "(python -m edge.sync.modem_sim), never on a buoy.",
)
@domain_errors
def send(config_path: str, no_wait: bool, follow: bool, poll_s: float, simulated_time: bool) -> None:
    """Pack new log records into the outbox and send what is queued over the configured
    transport, within the daily budget; failed sessions back off (>= 60 s).  Downlink
    commands arriving with a session are verified and applied."""
    import signal

    from edge.sync.commands import CommandHandler
    from edge.sync.sender import SendStats, send_pending

    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    if simulated_time:
        offset = [0.0]

        def simulated_clock() -> float:
            return time.time() + offset[0]

        def simulated_sleep(seconds: float) -> None:
            offset[0] += seconds

        clock, sleep = simulated_clock, simulated_sleep

    config, box, key = _open(config_path, clock)
    commands = CommandHandler(box.log.conn, config.deployment, key)
    if config.transport == "iridium":
        from edge.sync.iridium import IridiumModem

        s = config.iridium
        transport: Transport = IridiumModem(
            s.port, baudrate=s.baud, timeout_s=s.timeout_s, session_timeout_s=s.session_timeout_s
        )
    else:
        from edge.sync.mqtt import MqttTransport

        m = config.mqtt
        transport = MqttTransport(
            m.url,
            client_id=m.client_id or f"pamedge-{config.deployment}",
            timeout_s=m.timeout_s,
            tls=m.tls,
            ca_file=str(config.path(m.ca_file)) if m.ca_file else None,
            username=m.username,
            password_file=str(config.path(m.password_file)) if m.password_file else None,
        )
    stats = SendStats()
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        while True:
            step = send_pending(box, transport, sleep=sleep, wait=not no_wait, commands=commands)
            stats.sent, stats.failed, stats.downlink = (
                stats.sent + step.sent,
                stats.failed + step.failed,
                stats.downlink + step.downlink,
            )
            if not follow:
                break
            time.sleep(poll_s)
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        transport.close()
    status = box.status()
    click.echo(
        f"sent {stats.sent}  failed sessions {stats.failed}  downlink {stats.downlink}  "
        f"pending {status['frames_pending']}" + ("  paused" if commands.paused else "")
    )
    raise SystemExit(1 if status["frames_pending"] else 0)


@main.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Deployment YAML with a sync: section, or a shipped deployment's name (narw-upcall).",
)
@domain_errors
def status(config_path: str) -> None:
    """Records logged, frames pending and acknowledged, bytes and credits spent today, and
    what downlink commands set (paused, per-label thresholds)."""
    from edge.sync.commands import buoy_setting, threshold_overrides

    _, box, _ = _open(config_path)
    box.fill()
    for key, value in box.status().items():
        click.echo(f"{key:<15} {value}")
    click.echo(f"{'paused':<15} {'yes' if buoy_setting(box.log, 'paused') == '1' else 'no'}")
    thresholds = threshold_overrides(box.log)
    click.echo(f"{'thresholds':<15} {', '.join(f'{k}={v:g}' for k, v in sorted(thresholds.items())) or 'none'}")


if __name__ == "__main__":
    main()
