"""``edge-run``: the buoy daemon.  Recordings as the recorder closes them (or live capture, or
a replay) -> the detection log, with effort and health records, degradation and retention."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from edge.cli.options import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    domain_errors,
    fail,
    hydrophones_option,
    one_line,
    version_option,
)

if TYPE_CHECKING:
    from edge.classify import Classifier
    from edge.config import DeploymentConfig
    from edge.daemon.state import Processed
    from edge.daemon.types import Source


def _classifier(config: DeploymentConfig, no_model: bool) -> Classifier | None:
    """The deployment's classifier (``model:``), None when it names none or ``no_model``."""
    if no_model or config.model is None or config.model.bundle is None:
        return None
    from edge.classify import load_classifier

    return load_classifier(config)


def _status(config_path: str) -> None:
    from dataclasses import asdict

    from edge.config import load_deployment
    from edge.daemon.state import DaemonLog

    path = load_deployment(config_path).log_path()
    if not path.is_file():
        fail(f"{path}: no log yet (edge-run has not run with this deployment)")
    with DaemonLog(path) as log:
        health = log.health()
        totals = log.totals()
    for key, value in (asdict(health[-1]) if health else {}).items():
        click.echo(f"{key:<18} {'-' if value is None else value}")
    for key, value in totals.items():  # committed, so current even when the last run was killed
        click.echo(f"{'total_' + key:<18} {value}")


def _soundscape(config_path: str, folder: str) -> None:
    from pathlib import Path

    from edge import __version__
    from edge.config import load_deployment
    from edge.daemon.state import DaemonLog
    from edge.outputs import write_atomic
    from edge.soundscape.settings import SoundscapeSettings
    from edge.soundscape.write import netcdf_attrs, write_days

    config = load_deployment(config_path)
    path = config.log_path()
    if not path.is_file():
        fail(f"{path}: no log yet (edge-run has not run with this deployment)")
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)

    with DaemonLog(path) as log:
        by_day = log.soundscape_days()
        if not by_day:
            fail(f"{path}: no soundscape minutes (the deployment needs a soundscape: section while edge-run runs)")
        done = write_days(
            by_day,
            config.soundscape or SoundscapeSettings(),
            lambda name, text: write_atomic(out / name, text),
            lambda name: out / name,  # a NetCDF file cut short by a power cut is written whole next time
            lambda day: netcdf_attrs(
                day, deployment=config.name, site=config.site, calibration="", version=__version__
            ),
        )
    netcdf = "" if done["netcdf"] else f" (CSV only: {done['netcdf_missing']})"
    click.echo(f"{len(done['days'])} days -> {out}{netcdf}")


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@version_option
@click.argument("files", nargs=-1, type=click.Path())
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Deployment YAML with a run: section, or a shipped deployment's name (narw-upcall).",
)
@click.option(
    "--replay", is_flag=True, help="Process FILES (files or folders) instead of watching a folder, then exit."
)
@click.option(
    "--realtime",
    is_flag=True,
    help="With --replay: release each file when its audio would have ended (a recorder's pace).",
)
@click.option(
    "--watch",
    type=click.Path(file_okay=False),
    default=None,
    help="The recorder's output folder. Default: the run: section's watch.",
)
@click.option("--once", is_flag=True, help="With a folder: exit when every complete file is processed.")
@hydrophones_option
@click.option(
    "--no-model",
    is_flag=True,
    help="Write every ROI as an ROI-only record labelled 'roi' even if the deployment names a model.",
)
@click.option(
    "--status",
    is_flag=True,
    help="Print the newest health record and the committed effort totals from the log, and exit.",
)
@click.option(
    "--soundscape",
    "soundscape_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the daily soundscape products (hybrid millidecade, decidecade and percentile tables; NetCDF with "
    "the soundscape extra) from the HMD minutes in the detection log into DIR, and exit.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Validate the deployment (run:, device profile, model and its golden windows on this CPU, sync:) and exit.",
)
@click.option("-q", "--quiet", is_flag=True, help="No summary line.")
@domain_errors
def main(
    files: tuple[str, ...],
    config_path: str,
    replay: bool,
    realtime: bool,
    watch: str | None,
    once: bool,
    hydrophones_path: str | None,
    no_model: bool,
    status: bool,
    soundscape_dir: str | None,
    check: bool,
    quiet: bool,
) -> None:
    """Run the buoy's detection daemon: each recording, once complete, through the ROI detector
    (and classifier) into the detection log; SIGTERM finishes the recording under way and
    exits 0; a restart continues where it stopped.

    Exit status: 0 clean stop, 1 some recordings failed (replay), 2 configuration error.
    """
    if check:
        from edge.daemon.check import check as run_check

        problems = run_check(config_path)
        for p in problems:
            click.echo(f"error: {p}", err=True)
        if problems:
            raise SystemExit(2)
        click.echo(f"{config_path}: ok")
        return
    if status:
        _status(config_path)
        return
    if soundscape_dir is not None:
        _soundscape(config_path, soundscape_dir)
        return
    from edge.calibration import HydrophoneTable
    from edge.config import load_deployment
    from edge.daemon.daemon import Daemon, Sensors
    from edge.daemon.lock import InstanceLock
    from edge.daemon.sources import FolderSource, LiveSource, ReplaySource
    from edge.devices import detect_profile, load_profile

    config = load_deployment(config_path)
    run = config.run
    if realtime and not replay:
        fail("--realtime paces a --replay; give --replay FILE...")
    if replay and not files:
        fail("--replay needs FILE...")
    if files and not replay:
        fail("FILE... are replayed: give --replay")
    # held to the process's end (a local of main): taken before live capture recovers what it would
    # take for a power cut's file
    lock = InstanceLock(config.log_path()).acquire()
    table_path = hydrophones_path or config.table_path()
    table = HydrophoneTable.load(table_path) if table_path else None
    profile = None
    if run.device is not None:
        profile = load_profile(run.path(run.device) if run.device.endswith((".yaml", ".yml")) else run.device)
    else:
        profile = detect_profile()
    sensors = Sensors()
    if profile is not None:
        sensors = Sensors((profile.sensors.cpu_temp,), profile.sensors.battery_voltage, profile.sensors.battery_scale)
    classifier = _classifier(config, no_model)  # a bad bundle fails before capture starts

    def on_event(text: str) -> None:  # to the journal under systemd
        click.echo(text, err=True)

    source: Source
    if replay:
        source = ReplaySource(list(files), realtime=realtime)
    else:
        folder = watch or (run.path(run.watch) if run.watch else None)
        if folder is None:
            fail(f"{config_path}: no run.watch folder: give --watch DIR or --replay FILE...")
        if run.live is not None and watch is None:
            live = run.live
            source = LiveSource(
                folder,
                device=live.device,
                sample_rate=live.sample_rate,
                channels=live.channels,
                file_s=live.file_s,
                poll_s=run.poll_s,
                on_event=on_event,
            )
        else:
            source = FolderSource(folder, stable_s=run.stable_s, poll_s=run.poll_s, once=once)

    def on_file(row: Processed) -> None:
        if row.status == "failed":
            click.echo(f"failed: {one_line(row.reason)}", err=True)

    daemon = Daemon(
        config, source, table=table, classifier=classifier, sensors=sensors, on_file=on_file, on_event=on_event
    )
    daemon.install_signal_handlers()
    try:
        summary = daemon.run()
    finally:
        lock.release()
    if not quiet:
        speed = f" at {summary.audio_s / summary.processing_s:.0f}x real time" if summary.processing_s else ""
        click.echo(
            f"processed {summary.files} recordings ({summary.failed} failed, {summary.skipped} already in the "
            f"log), {summary.detections} detections, {summary.audio_s:.0f} s of audio{speed}; "
            f"log: {config.log_path()}"
        )
    raise SystemExit(EXIT_SOME_FAILED if replay and summary.failed else EXIT_OK)


if __name__ == "__main__":
    main()
