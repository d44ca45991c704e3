"""``edge-bench``: how fast, how much memory and how much energy the runtime takes here."""

from __future__ import annotations

import json
from pathlib import Path

import click

from edge.cli.options import config_option, domain_errors, fail, hydrophones_option, version_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@version_option
@click.argument("audio", nargs=-1, type=click.Path())
@config_option
@hydrophones_option
@click.option(
    "--device",
    default=None,
    help="Device profile to model energy for (firmware-config/devices/NAME.yaml). "
    "Default: the profile detected from /proc/device-tree/model.",
)
@click.option(
    "--duty-cycle",
    type=click.FloatRange(0, 1, min_open=True),
    default=1.0,
    show_default=True,
    help="Fraction of the day the buoy records, for the Wh/day projection.",
)
@click.option(
    "--battery-wh",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Battery capacity: also project the days it lasts.",
)
@click.option("--no-model", is_flag=True, help="Skip the deployment's classifier (no inference stage).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (schema: docs/reference/bench.md).")
@domain_errors
def main(
    audio: tuple[str, ...],
    config_path: str | None,
    hydrophones_path: str | None,
    device: str | None,
    duty_cycle: float,
    battery_wh: float | None,
    no_model: bool,
    as_json: bool,
) -> None:
    """Benchmark the chain on AUDIO (files or folders; default: the bundled examples/recordings):
    per-stage seconds, real-time factor, CPU seconds, peak RSS, and energy, measured when a
    power sensor is readable and otherwise modelled with a device profile, always saying which."""
    from edge import shipped
    from edge.audio import AUDIO_KINDS, discover
    from edge.bench.report import build, energy_section, text
    from edge.bench.stages import run_stages
    from edge.calibration import HydrophoneTable
    from edge.config import load_deployment
    from edge.devices import detect_profile, load_profile
    from edge.energy import Meter, find_sensor

    config = load_deployment(config_path)
    examples = shipped.path("examples") / "recordings"
    inputs: list[str | Path] = [*audio] or [examples]
    if not audio and not examples.is_dir():
        fail(f"no AUDIO given and no bundled recordings at {examples}")
    paths = discover(inputs)
    if not paths:
        fail(f"no recordings ({AUDIO_KINDS}) in {', '.join(map(str, inputs))}")
    table_path = hydrophones_path or config.table_path()
    table = HydrophoneTable.load(table_path) if table_path else None
    classifier = None
    if not no_model and config.model is not None and config.model.bundle is not None:
        from edge.classify import load_classifier

        classifier = load_classifier(config)
    host = detect_profile()
    profile = load_profile(device) if device else host
    sensor = find_sensor(host)
    if sensor is not None:
        with Meter(sensor) as meter:
            times = run_stages(paths, config, table, classifier=classifier)
        measured = meter.joules
    else:
        times = run_stages(paths, config, table, classifier=classifier)
        measured = None
    energy = energy_section(
        times, measured_j=measured, sensor=sensor.name if sensor else None, profile=profile, host_profile=host
    )
    if measured is not None and device and profile is not host:
        energy["modelled_for_device"] = energy_section(
            times, measured_j=None, sensor=None, profile=profile, host_profile=host
        )
    doc = build(times, config, energy=energy, profile=profile, duty_cycle=duty_cycle, battery_wh=battery_wh)
    doc["model"] = classifier.describe() if classifier is not None else None
    click.echo(json.dumps(doc, indent=2) if as_json else text(doc))


if __name__ == "__main__":
    main()
