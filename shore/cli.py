"""``edge-shore``: ingest frames from buoys into a shore database, export the records."""

from __future__ import annotations

from pathlib import Path

import click

from edge.cli.options import EXIT_OK, domain_errors, fail


def load_keys(path: str):
    """KEYS.yaml: ``{deployment id: hex key}``."""
    from edge._validate import private_file, read_yaml
    from edge.errors import ConfigError
    from edge.sync.frames import FrameError, KeyRing, parse_key

    private_file(path, "the keys file")
    data = read_yaml(path, "keys")
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}: expected a mapping of deployment id to hex key")
    try:
        return KeyRing({str(dep): parse_key(str(hexkey), f"{path}: {dep}") for dep, hexkey in data.items()})
    except FrameError as exc:
        raise ConfigError(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Shore side of pamedge telemetry (frame format: docs/reference/frames.md)."""


@main.command()
@click.argument("source", required=False)
@click.option("--db", required=True, type=click.Path(dir_okay=False), help="Shore SQLite database (created).")
@click.option(
    "--keys",
    "keys_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="KEYS.yaml mapping deployment id to hex key.",
)
@click.option(
    "--http",
    "http_port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Receive RockBLOCK web-hook POSTs on this port (until interrupted).",
)
@click.option(
    "--idle-s",
    type=click.FloatRange(min=0),
    default=None,
    help="With mqtt:// or --http: stop after this many seconds without a message.",
)
@domain_errors
def ingest(source, db, keys_path, http_port, idle_s):
    """Verify, decode, deduplicate and store frames from SOURCE: a folder of frame files or
    mqtt://host:port/topic; or, with --http PORT, RockBLOCK web-hook POSTs.  Prints the
    accepted / duplicate / rejected counts (rejections by reason: bad MAC, unknown deployment,
    replay, malformed; docs/reference/frames.md).  Exit status 0, 2 usage error."""
    from shore.ingest import ingest_folder, ingest_mqtt, webhook_server
    from shore.store import ShoreStore

    if (source is None) == (http_port is None):
        fail("give either SOURCE (a folder or mqtt://host:port/topic) or --http PORT")
    store = ShoreStore(db, load_keys(keys_path))
    try:
        if http_port is not None:
            server = webhook_server(store, http_port)
            if idle_s is not None:
                server.timeout = idle_s
                idle: list[bool] = []
                server.handle_timeout = lambda: idle.append(True)
                while not idle:
                    server.handle_request()
            else:
                try:
                    server.serve_forever()
                except KeyboardInterrupt:
                    pass
        elif source.startswith("mqtt://"):
            try:
                ingest_mqtt(store, source, idle_s=idle_s)
            except ValueError as exc:
                fail(str(exc))
        elif Path(source).is_dir():
            ingest_folder(store, source)
        else:
            fail(f"{source}: no such folder (or give mqtt://host:port/topic)")
        click.echo(store.summary())
    finally:
        store.close()
    raise SystemExit(EXIT_OK)


@main.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False, exists=True), help="Shore SQLite database.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="CSV with the columns of edge-detect's detections.csv.",
)
@click.option(
    "--raven",
    "raven_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for Raven selection tables, one per deployment and UTC day.",
)
@click.option(
    "--health",
    "health_csv",
    type=click.Path(dir_okay=False),
    default=None,
    help="CSV of the buoys' health and effort records (README: edge-shore export --health).",
)
@click.option(
    "--tethys",
    "tethys_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for Tethys documents of the deployment --config names: its Deployment document and a Detections "
    "document per stretch of effort (from the health records).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="The deployment YAML (its site: section) for --tethys.",
)
@click.option(
    "--model",
    "model_ref",
    default=None,
    help="Model bundle (folder or shipped name) whose card maps labels to species, for --tethys; default: the "
    "deployment's model.",
)
@domain_errors
def export(db, output, raven_dir, health_csv, tethys_dir, config_path, model_ref):
    """Export the records of the shore database.  Exit status 0, 2 usage error."""
    from edge.sync.frames import KeyRing
    from shore.export import export_csv, export_health_csv, export_raven
    from shore.store import ShoreStore

    if output is None and raven_dir is None and health_csv is None and tethys_dir is None:
        fail("give -o OUT.csv, --raven DIR, --health OUT.csv and/or --tethys DIR")
    if tethys_dir is not None and config_path is None:
        fail("--tethys needs --config DEPLOYMENT.yaml (its site: section and name)")
    with ShoreStore(db, KeyRing({})) as store:
        if tethys_dir:
            from edge.bundle import load_bundle, resolve
            from edge.config import load_deployment
            from shore.tethys import export_tethys

            config = load_deployment(config_path)
            ref = model_ref or (config.model.bundle if config.model is not None else None)
            if ref is None:
                fail(f"--tethys: deployment {config.name!r} names no model: give --model BUNDLE")
            bundle = load_bundle(resolve(str(ref), relative_to=config.model_base()))
            written = export_tethys(store, tethys_dir, config, bundle.species, bundle.identity("onnx"))
            click.echo(f"{len(written)} Tethys documents -> {tethys_dir}")
        if output:
            click.echo(f"{export_csv(store, output)} records -> {output}")
        if raven_dir:
            click.echo(f"{len(export_raven(store, raven_dir))} Raven tables -> {raven_dir}")
        if health_csv:
            click.echo(f"{export_health_csv(store, health_csv)} health records -> {health_csv}")


@main.command()
@click.argument("command_json", metavar="JSON")
@click.option(
    "--db", required=True, type=click.Path(dir_okay=False), help="Shore SQLite database (keeps the sequence)."
)
@click.option("--keys", "keys_path", required=True, type=click.Path(dir_okay=False), help="KEYS.yaml.")
@click.option("--deployment", required=True, help="Deployment id the command is for.")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the MT frame (<= 270 bytes) to queue for the buoy.",
)
@domain_errors
def command(command_json, db, keys_path, deployment, output):
    """Write an authenticated downlink command, e.g. '{"cmd": "status"}', '{"cmd": "pause"}',
    '{"cmd": "resume"}', '{"cmd": "set_threshold", "label": "upcall", "value": 0.8}'."""
    import json

    from shore.store import ShoreStore

    try:
        body = json.loads(command_json)
    except ValueError:
        fail(f"{command_json!r} is not JSON")
    with ShoreStore(db, load_keys(keys_path)) as store:
        try:
            data = store.new_command(deployment, body)
        except ValueError as exc:
            fail(str(exc))
    Path(output).write_bytes(data)
    click.echo(f"{len(data)} bytes -> {output}")


if __name__ == "__main__":
    main()
