"""``edge-detect``: recordings from an SD card (or an archive) -> ROIs, detections and noise
levels in analyst formats."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, cast

import click

from edge.cli.options import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    config_option,
    domain_errors,
    fail,
    hydrophones_option,
    one_line,
    version_option,
)

if TYPE_CHECKING:
    from edge.classify import Classifier
    from edge.config import DeploymentConfig
    from edge.detect import RunReport
    from edge.types import BackendKind


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@version_option
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option(
    "-o",
    "--outdir",
    required=True,
    type=click.Path(file_okay=False),
    help="Output folder: detections.csv, levels.csv, raven/, run.json.",
)
@config_option
@hydrophones_option
@click.option("--no-model", is_flag=True, help="Write every ROI as a detection labelled 'roi' (no classifier).")
@click.option(
    "--model",
    "model_ref",
    default=None,
    metavar="NAME_OR_PATH",
    help="Model bundle to classify with (a name under models/ or a folder); overrides the deployment's model.bundle.",
)
@click.option(
    "--backend",
    type=click.Choice(["auto", "onnx", "tflite"]),
    default=None,
    help="Inference backend; overrides the deployment's model.backend. auto: onnx when onnxruntime is "
    "installed, else tflite.",
)
@click.option(
    "--min-score",
    type=click.FloatRange(0, 1),
    default=None,
    help="Keep a label when its score reaches this, for every label: overrides the card's and the "
    "deployment's thresholds (and enters the config hash, as they do).",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 32),
    default=None,
    help="Inference threads; overrides the deployment's model.threads.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 4096),
    default=None,
    help="Windows per inference batch; overrides the deployment's model.batch_size.",
)
@click.option(
    "--outputs",
    "outputs_text",
    default=None,
    metavar="LIST",
    help="Which outputs to write besides run.json, comma-separated: csv (detections.csv), levels "
    "(levels.csv), sqlite (detections.sqlite, the log edge-sync sends from), raven (raven/), audacity "
    "(audacity/: a label track per recording, File > Import > Labels; not by default), ranking "
    "(ranking.csv, when the deployment has a ranking: section and a model runs), scores (scores.csv: "
    "every window the model scored for an ROI, kept or rejected, a column per class; not by default), parquet "
    "(scores.parquet: the same, typed, with the parquet extra; not by default), "
    "clicks (clicks.csv: every click of the impulse detector, its measurements and click train, when the "
    "deployment has a clicks: section; by default in a detector-only one, model: none), hmd (soundscape/: hybrid millidecade levels per UTC "
    "minute, decidecades and percentiles per day, NetCDF with the soundscape extra; by default when the "
    "deployment has a soundscape: section), tethys (tethys/: Tethys Deployment and Detections documents with "
    "effort; needs the deployment's site: section and a model whose card names its species; not by default).  [default: csv,levels,sqlite,raven,ranking]",
)
@click.option(
    "--top-k",
    type=click.IntRange(1, 1000),
    default=None,
    help="Classes per recording in ranking.csv: the species most probable first, then the negative class "
    "(other); overrides the deployment's ranking.top_k (default 3).",
)
@click.option(
    "--resume", is_flag=True, help="Skip recordings already completed in OUTDIR by a run with the same settings."
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an earlier run's outputs in OUTDIR (without it, or --resume, such an OUTDIR is refused).",
)
@click.option(
    "--channel",
    type=click.IntRange(min=0),
    default=None,
    help="Channel to analyse (0-based). Default: the deployment's.",
)
@click.option(
    "--block-s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Seconds of audio read at once (memory bound). Default: the deployment's block_s.",
)
@click.option(
    "--allow-truncated",
    is_flag=True,
    help="Process the part present of WAVs cut short (e.g. power loss), or whose header was never "
    "finalised (sizes 0), instead of failing them.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Run on a Dask cluster: its scheduler's address (tcp://host:8786), or local:N to start N worker "
    "processes here (needs pamedge[dask]). Outputs are identical to a run without it.",
)
@click.option(
    "--chunk-s",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="With --scheduler: seconds of audio per unit of work; longer recordings are split "
    "(rounded to whole level periods). Default: 1800.",
)
@click.option(
    "--plots",
    is_flag=True,
    help="Also draw calibrated spectrograms into OUTDIR/plots: the strongest detections of each label "
    "boxed, and an overview of each recording (needs pamedge[plot]).",
)
@click.option(
    "--plots-per-label",
    type=click.IntRange(min=0),
    default=20,
    show_default=True,
    help="Detection thumbnails per label with --plots, strongest first.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
@domain_errors
def main(
    inputs: tuple[str, ...],
    outdir: str,
    config_path: str,
    hydrophones_path: str | None,
    no_model: bool,
    model_ref: str | None,
    backend: str | None,
    min_score: float | None,
    threads: int | None,
    batch_size: int | None,
    outputs_text: str | None,
    top_k: int | None,
    resume: bool,
    overwrite: bool,
    channel: int | None,
    block_s: float | None,
    allow_truncated: bool,
    scheduler: str | None,
    chunk_s: float | None,
    plots: bool,
    plots_per_label: int,
    quiet: bool,
) -> None:
    """Detect regions of interest in recordings (WAV, FLAC, AIFF, W64, RF64, CAF, AU, MP3, Ogg; files or
    folders, searched recursively).

    ROIs are classified by the deployment's model (model: in its YAML) or --model; with
    --no-model, or a detector-only deployment (model: none, as the shipped clicks), every ROI
    is written as a detection labelled 'roi'.

    Exit status: 0 every recording processed, 1 some failed (see run.json), 2 usage or
    configuration error.
    """
    from edge.calibration import HydrophoneTable
    from edge.config import load_deployment
    from edge.detect import FileOutcome, RunOptions, detect

    config = load_deployment(config_path)
    from edge.detect import DEFAULT_OUTPUTS, OUTPUTS

    if outputs_text is None:
        outputs = (
            DEFAULT_OUTPUTS
            | ({"hmd"} if config.soundscape is not None else set())
            # a detector-only deployment's clicks are its product; beside a classifier, on snapping
            # shrimp, they are thousands of rows a minute nobody asked for
            | ({"clicks"} if config.clicks is not None and config.detector_only else set())
        )
        outputs_text = ",".join(sorted(outputs))
    outputs = frozenset(o.strip() for o in outputs_text.split(",") if o.strip())
    if not outputs or outputs - OUTPUTS:
        fail(f"--outputs {outputs_text!r}: expected a comma-separated list of {', '.join(sorted(OUTPUTS))}")
    if resume and overwrite:
        fail("--resume continues the run in OUTDIR, --overwrite replaces it: give one")
    if chunk_s is not None and scheduler is None:
        fail("--chunk-s splits recordings into units for --scheduler; give --scheduler too")
    overrides = {"threads": threads, "batch_size": batch_size}
    config, classifier = _classifier(config, no_model, model_ref, backend, min_score, overrides)
    if top_k is not None and (config.ranking is None or classifier is None):
        why = "it has no model" if config.ranking is not None else f"deployment {config.name!r} has no ranking: section"
        fail(f"--top-k sets the classes per recording of the ranking, but {why}")
    if plots:
        from edge.plots import INSTALL_HINT, have_matplotlib

        if not have_matplotlib():  # say so now, not after hours of processing
            fail(f"--plots needs matplotlib, which is not installed: {INSTALL_HINT}")
    table_path = hydrophones_path or config.table_path()
    table = HydrophoneTable.load(table_path) if table_path else None

    progress: Any = None

    def on_start(total_s: float) -> None:
        nonlocal progress
        progress = _progress(total_s, quiet)

    repeats: dict[str, int] = {}  # a warning said for many recordings is printed once, then counted

    def on_file(outcome: FileOutcome, audio_s: float) -> None:
        if progress is not None:
            progress.update(audio_s)
        for warning in outcome.details.get("warnings", []):
            text = warning.removeprefix(f"{outcome.file}: ")
            if text in repeats:
                repeats[text] += 1
                continue
            repeats[text] = 0
            _echo_above(progress, f"warning: {warning}")
        if outcome.status != "ok":
            _echo_above(progress, f"failed: {outcome.reason}")

    options = RunOptions(
        table=table,
        classifier=classifier,
        channel=channel,
        block_s=block_s,
        allow_truncated=allow_truncated,
        resume=resume,
        overwrite=overwrite,
        outputs=outputs,
        top_k=top_k,
        command=tuple(sys.argv),
    )
    if scheduler is not None:
        from edge.cluster.client import require_distributed

        require_distributed()  # say so now, before probing every recording
    try:
        if scheduler is None:
            report = detect(inputs, outdir, config, options, on_start=on_start, on_file=on_file)
        else:
            from edge.cluster.client import DEFAULT_CHUNK_S, detect_on_cluster

            report = detect_on_cluster(
                inputs,
                outdir,
                config,
                options,
                scheduler=scheduler,
                chunk_s=chunk_s or DEFAULT_CHUNK_S,
                on_start=on_start,
                on_file=on_file,
            )
    finally:
        if progress is not None:
            progress.close()
        for text, more in repeats.items():
            if more:
                click.echo(one_line(f"warning: ... and for {more} more recording{'s' * (more > 1)}: {text}"), err=True)
    for note in [*report.skipped, *report.notes]:  # the search's and the run's, once the progress bar is gone
        click.echo(f"warning: {one_line(note)}", err=True)
    drawn = _plots(report, config, channel, plots_per_label) if plots else None
    if not quiet:
        _summary(report, drawn, f"{classifier.identity} ({classifier.kind})" if classifier else "none (ROIs only)")
    sys.exit(EXIT_SOME_FAILED if report.failed else EXIT_OK)


def _classifier(
    config: DeploymentConfig,
    no_model: bool,
    model_ref: str | None,
    backend: str | None,
    min_score: float | None = None,
    overrides: dict[str, int | None] | None = None,
) -> tuple[DeploymentConfig, Classifier | None]:
    """The deployment as run (its ``model:`` as overridden, part of the config hash) and the
    classifier, or None for ROI-only runs."""
    from dataclasses import replace

    from edge.config import ModelSettings

    given: dict[str, Any] = {k: val for k, val in (overrides or {}).items() if val is not None}
    if no_model:
        if model_ref or backend or min_score is not None or given:
            fail(
                "--no-model writes ROIs without a classifier: drop --model/--backend/--min-score/--threads/"
                "--batch-size, or --no-model"
            )
        return replace(config, model=None), None
    if model_ref is None and config.detector_only:  # model: none, a detector-only deployment
        if backend or min_score is not None or given:
            fail(
                f"deployment {config.name!r} runs no classifier (model: none): drop --backend/--min-score/"
                "--threads/--batch-size, or give --model"
            )
        return config, None
    settings = config.model or ModelSettings()
    if model_ref is None and settings.bundle is None:
        fail(
            f"no classification model: deployment {config.name!r} names none (model: bundle:) and no --model "
            "was given; use --no-model to write ROIs as detections (or model: none in a detector-only deployment)"
        )
    from edge.bundle import resolve
    from edge.classify import Classifier, load_classifier

    if model_ref is not None:  # from the command line: relative to the current folder
        settings = replace(settings, bundle=str(resolve(model_ref)))
    if backend is not None:
        settings = replace(settings, backend=cast("BackendKind", backend))
    settings = replace(settings, **given)
    config = replace(config, model=settings)
    classifier = load_classifier(config)
    if min_score is not None:  # every label the bundle knows, at one threshold, recorded in the config
        settings = replace(settings, thresholds=dict.fromkeys(sorted(classifier.bundle.labels), float(min_score)))
        config = replace(config, model=settings)
        classifier = Classifier(classifier.bundle, classifier.backend, settings, "--min-score")
    return config, classifier


def _plots(report: RunReport, config: DeploymentConfig, channel: int | None, per_label: int) -> dict[str, Any]:
    """Spectrogram PNGs of the run, drawn from the recordings with their recorded calibration."""
    from edge.plots.render import PlotSettings, files_from_report, write_plots

    return write_plots(
        report.outdir,
        files_from_report(report, config, channel=channel),
        settings=PlotSettings(per_label=per_label),
        on_warning=lambda message: click.echo(f"warning: {one_line(message)}", err=True),
    )


def _progress(total_s: float, quiet: bool) -> Any:
    """A progress bar in seconds of audio, on a terminal only."""
    if quiet or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total_s, unit="s audio", unit_scale=True, dynamic_ncols=True, file=sys.stderr)


def _echo_above(progress: Any, line: str) -> None:
    line = one_line(line)
    if progress is not None:
        progress.write(line, file=sys.stderr)
    else:
        click.echo(line, err=True)


def _summary(report: RunReport, drawn: dict[str, Any] | None = None, model: str = "") -> None:
    rows = [("model", model)] if model else []
    rows += [
        ("files ok", str(len(report.files) - len(report.failed))),
        ("files failed", str(len(report.failed))),
        *([("inputs skipped", str(len(report.skipped)))] if report.skipped else []),
        ("audio hours", f"{report.audio_s / 3600:.2f}"),
    ]
    per_label = report.per_label()
    rows += [(f"detections {label}", str(count)) for label, count in per_label.items()] or [("detections", "0")]
    firsts: dict[str, list[int]] = {}
    for f in report.files:
        if f.ranking:
            first = firsts.setdefault(f.ranking[0].label, [0, 0])
            first[0] += 1
            first[1] += f.ranking[0].score < 0.5  # its `other` outscores it: no species is likely
    for label, (count, weak) in sorted(firsts.items()):
        under = f" ({weak} scoring under 0.5)" if weak else ""
        rows.append((f"ranked first {label}", f"{count} recording{'s' if count > 1 else ''}{under}"))
    rows.append(("real-time factor", f"{report.realtime_factor:.0f}x" if report.processing_s else "n/a (resumed)"))
    if drawn is not None:
        rows.append(("plots", f"{len(drawn['thumbnails'])} detections, {len(drawn['overviews'])} recordings"))
    rows.append(("outputs", str(report.outdir)))
    width = max(len(k) for k, _ in rows)
    click.echo("\n".join(f"{k:<{width}}  {v}" for k, v in rows))


if __name__ == "__main__":
    main()
