"""``edge-selftest``: a bundle's golden vectors on this device and backend."""

from __future__ import annotations

import json
import sys

import click

from edge.cli.options import EXIT_OK, EXIT_USAGE, domain_errors, fail, version_option

EXIT_FAILED = 1


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@version_option
@click.argument("model", required=False, metavar="[MODEL]")
@click.option(
    "--backend",
    type=click.Choice(["auto", "onnx", "tflite", "all"]),
    default="auto",
    show_default=True,
    help="Backend to test; all: every installed backend (a missing one is reported, not run).",
)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True, help="Intra-op threads.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@domain_errors
def main(model: str | None, backend: str, threads: int, as_json: bool) -> None:
    """Run MODEL's golden vectors (a bundle name under models/ or a folder; default: every
    bundle in models/) and compare the scores with the card's tolerance.

    Exit status: 0 every test passed, 1 a deviation exceeds its tolerance, 2 a bundle or
    backend cannot be used.
    """
    from edge.backends import resolve_kind
    from edge.bundle import find_bundles, load_bundle, resolve
    from edge.errors import MissingExtraError
    from edge.selftest import selftest

    paths = [resolve(model)] if model else find_bundles()
    if not paths:
        fail("no model bundles found (models/NAME/card.yaml); name one: edge-selftest PATH")
    results, problems = [], []
    for path in paths:
        bundle = load_bundle(path)
        kinds = (
            [
                k
                for k in ("onnx", "tflite")
                if k == "onnx"
                and "model.int8.onnx" in bundle.files
                or k == "tflite"
                and "model.int8.tflite" in bundle.files
            ]
            if backend == "all"
            else [resolve_kind(backend, bundle)]
        )
        for kind in kinds:
            try:
                results.append(selftest(bundle, kind, threads=threads))
            except MissingExtraError as exc:
                if backend != "all":
                    raise
                problems.append({"bundle": bundle.name, "backend": kind, "skipped": str(exc)})
    if as_json:
        click.echo(json.dumps({"results": [r.as_dict() for r in results], "skipped": problems}, indent=2))
    else:
        for r in results:
            devs = ", ".join(f"{name} {d:.4f}" for name, d in r.deviation.items())
            click.echo(
                f"{'pass' if r.passed else 'FAIL'}  {r.identity}  {r.backend:<6}  {r.windows} windows  "
                f"max deviation {devs} (tolerance {r.tolerance:g})"
            )
        for p in problems:
            click.echo(f"skip  {p['bundle']}  {p['backend']:<6}  {p['skipped']}")
    if not results:
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_OK if all(r.passed for r in results) else EXIT_FAILED)


if __name__ == "__main__":
    main()
