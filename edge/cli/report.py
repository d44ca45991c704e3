"""``edge-report``: an output folder -> one self-contained HTML page to review the run."""

from __future__ import annotations

from pathlib import Path

import click

from edge.cli.options import domain_errors, fail, version_option


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@version_option
@click.argument("outdir", type=click.Path(file_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to write the page. Default: OUTDIR/report.html.",
)
@click.option(
    "--top",
    "top_per_label",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Rows per label in the top-detections table.",
)
@domain_errors
def main(outdir: str, output: str | None, top_per_label: int) -> None:
    """Write a run report of OUTDIR (an edge-detect output folder): summary, failed
    recordings, detections per hour and label, noise levels, effort and gaps, and the
    strongest detections with their spectrograms (from `edge-detect --plots`).

    Reads only the files of OUTDIR (run.json, detections.csv, levels.csv, raven/, plots/).
    Without run.json (a folder holding only detections.csv, e.g. a shore database export) the
    page is built from the detections and says what it cannot know.

    Exit status: 0 written, 2 usage error (no such folder, neither run.json nor detections.csv,
    matplotlib missing).
    """
    from edge.report.build import write_report
    from edge.report.data import ReportSettings

    if not Path(outdir).is_dir():
        fail(f"{outdir}: no such folder")
    path = write_report(outdir, output=output, settings=ReportSettings(top_per_label=top_per_label))
    click.echo(str(path))


if __name__ == "__main__":
    main()
