"""``edge-convert RUN_DIR -o models/NAME``: a thin CLI over :func:`convert.bundle.convert_run`.

Exit status: 0 bundle written; 1 the gate failed (comparison table printed, nothing written);
2 a usage or domain error (one line), or a missing extra (with its ``pip install`` line).
"""

from __future__ import annotations

import sys

import click

from convert.types import SCHEMES
from edge.errors import MissingExtraError, PamedgeError

EXIT_OK, EXIT_GATE, EXIT_USAGE = 0, 1, 2


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(f"edge-convert: error: {message}", err=True)
    sys.exit(code)


@click.command(
    "edge-convert",
    help="Convert an edge-train RUN_DIR into an INT8 model bundle (ONNX + TFLite, "
    "card.yaml, golden vectors), written only if it passes the accuracy gate.",
)
@click.argument("run_dir", type=click.Path())
@click.option(
    "-o", "--output", required=True, type=click.Path(file_okay=False), help="bundle folder, e.g. models/narw-upcall"
)
@click.option(
    "--onnx-scheme",
    type=click.Choice(list(SCHEMES)),
    default="u8s7",
    show_default=True,
    help="ONNX activations and weights: u8s7 (uint8 x 7-bit int8 weights: the same answers on every "
    "CPU), u8s8 (saturates on AVX2-only x86-64), u8u8 (exact, slower), s8s8",
)
@click.option(
    "--golden-tolerance",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.03,
    show_default=True,
    help="edge-selftest's limit on |scores - golden|; every kernel path checked must stay within half of it",
)
@click.option(
    "--calibration-windows",
    type=click.IntRange(min=1),
    default=512,
    show_default=True,
    help="training windows used to calibrate the INT8 ranges",
)
@click.option(
    "--min-agreement",
    type=float,
    default=0.99,
    show_default=True,
    help="least argmax agreement of each INT8 file with FP32 on held-out windows",
)
@click.option(
    "--max-event-delta",
    type=click.FloatRange(min=0),
    default=0.01,
    show_default=True,
    help="largest |INT8 - FP32| of event-level precision and recall",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="detection threshold of the event comparison and the card's suggested thresholds "
    "(the run's evaluation.threshold wins when it has one)",
)
@click.option("--name", help="bundle name in card.yaml and detection records (default: the output folder's name)")
@click.option("--force", is_flag=True, help="replace an existing bundle")
def main(
    run_dir,
    output,
    onnx_scheme,
    golden_tolerance,
    calibration_windows,
    min_agreement,
    max_event_delta,
    threshold,
    name,
    force,
) -> None:
    try:
        from convert.bundle import check_extras

        check_extras()
        from convert.bundle import convert_run
        from convert.types import ConvertOptions, GateError
    except (MissingExtraError, ImportError) as exc:
        _fail(
            str(exc)
            if isinstance(exc, MissingExtraError)
            else f'{exc}; edge-convert needs: pip install torch==2.13.0 "pamedge[convert]"'
        )
    try:
        options = ConvertOptions(
            onnx_scheme=onnx_scheme,
            golden_tolerance=golden_tolerance,
            calibration_windows=calibration_windows,
            min_agreement=min_agreement,
            max_event_delta=max_event_delta,
            threshold=threshold,
            name=name,
            force=force,
        )
        path, table = convert_run(run_dir, output, options)
    except GateError as exc:
        click.echo(exc.table)
        _fail(str(exc), EXIT_GATE)
    except PamedgeError as exc:
        _fail(str(exc))
    click.echo(table)
    click.echo(f"written {path}")


if __name__ == "__main__":  # python -m convert.cli (before the console script is installed)
    main()
