"""``edge-sync``: the detection log -> authenticated frames -> shore (Iridium SBD or MQTT)."""

from __future__ import annotations

from pathlib import Path

import click

from edge.cli.options import domain_errors, fail


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Telemetry from the buoy: pack the detection log into frames (docs/frames.md) and send
    them through the outbox.  Exit status 0, 1 frames left unsent, 2 usage error."""


@main.command()
@click.argument("log_path", metavar="LOG.sqlite", type=click.Path(dir_okay=False))
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False), help="Folder for the frame files.")
@click.option("--max-bytes", type=click.IntRange(min=40), default=340, show_default=True,
              help="Byte budget per frame (340: an Iridium SBD MO message).")
@click.option("--key-file", required=True, type=click.Path(dir_okay=False), help="The deployment key, in hex.")
@click.option("--deployment", default=None, help="Deployment id to pack. Default: the only one in the log.")
@domain_errors
def pack(log_path, outdir, max_bytes, key_file, deployment):
    """Pack every record of LOG.sqlite (e.g. edge-detect's OUTDIR/detections.sqlite) into
    frames, one file per frame: <deployment>-<frame seq>.frame, frame sequence from 1."""
    from edge.sync.config import read_key
    from edge.sync.frames import pack_all
    from edge.sync.log import DetectionLog

    if not Path(log_path).is_file():
        fail(f"{log_path}: no such file")
    key = read_key(key_file)
    with DetectionLog(log_path) as log:
        deployments = log.deployments()
        if deployment is None:
            if len(deployments) != 1:
                fail(f"{log_path}: holds deployments {', '.join(map(repr, deployments)) or 'none'}; give --deployment")
            deployment = deployments[0]
        elif deployment not in deployments:
            fail(f"{log_path}: no records of deployment {deployment!r}")
        records = log.read(deployment)
    frames = pack_all(records, deployment=deployment, key=key, max_bytes=max_bytes)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    for i, data in enumerate(frames, start=1):
        (out / f"{deployment}-{i:08d}.frame").write_bytes(data)
    total = sum(map(len, frames))
    click.echo(f"{len(records)} records -> {len(frames)} frames, {total} bytes, "
               f"{total / max(len(records), 1):.2f} bytes per record (header and tag included), "
               f"largest frame {max(map(len, frames), default=0)} bytes")


def _open(config_path):
    from edge.sync.config import load_sync_config, read_key
    from edge.sync.log import DetectionLog
    from edge.sync.outbox import Outbox, OutboxSettings

    config = load_sync_config(config_path)
    key = read_key(config.path(config.key_file))
    log = DetectionLog(config.path(config.log))
    settings = OutboxSettings(max_bytes=config.max_bytes, daily_bytes=config.daily_bytes,
                              daily_credits=config.daily_credits, tally_period_s=config.tally_period_s,
                              concern=config.concern)
    return config, Outbox(log, {config.deployment: key}, settings=settings), key


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="Deployment YAML with a sync: section (firmware-config/deployments/*.yaml).")
@click.option("--no-wait", is_flag=True, help="Return at the first failed session instead of waiting out the backoff.")
@domain_errors
def send(config_path, no_wait):
    """Pack new log records into the outbox and send what is queued over the configured
    transport, within the daily budget; failed sessions back off (>= 60 s).  Downlink
    commands arriving with a session are verified and applied."""
    from edge.sync.sender import send_pending

    from edge.sync.commands import CommandHandler

    config, box, key = _open(config_path)
    commands = CommandHandler(box.log.conn, config.deployment, key)
    if config.transport == "iridium":
        from edge.sync.iridium import IridiumModem
        s = config.iridium
        transport = IridiumModem(s.port, baudrate=s.baud, timeout_s=s.timeout_s, session_timeout_s=s.session_timeout_s)
    else:
        from edge.sync.mqtt import MqttTransport
        m = config.mqtt
        transport = MqttTransport(m.url, client_id=m.client_id or f"pamedge-{config.deployment}",
                                  timeout_s=m.timeout_s, tls=m.tls, ca_file=m.ca_file, username=m.username,
                                  password_file=m.password_file)
    try:
        stats = send_pending(box, transport, wait=not no_wait, commands=commands)
    finally:
        transport.close()
    status = box.status()
    click.echo(f"sent {stats.sent}  failed sessions {stats.failed}  downlink {stats.downlink}  "
               f"pending {status['frames_pending']}")
    raise SystemExit(1 if status["frames_pending"] else 0)


@main.command()
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False),
              help="Deployment YAML with a sync: section (firmware-config/deployments/*.yaml).")
@domain_errors
def status(config_path):
    """Records logged, frames pending and acknowledged, bytes and credits spent today."""
    _, box, _ = _open(config_path)
    box.fill()
    for key, value in box.status().items():
        click.echo(f"{key:<15} {value}")


if __name__ == "__main__":
    main()
