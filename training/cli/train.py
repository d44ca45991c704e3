"""``edge-train CONFIG.yaml`` and ``edge-train evaluate RUN --annotations CSV``.

Domain errors become one line on stderr and exit status 2; a missing torch prints the
``pip install`` line.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import TextIO

import click

from edge.errors import PamedgeError
from training.metrics import overlap_text
from training.types import AnnotationNote

_HINT = 'edge-train needs PyTorch: pip install torch==2.13.0 "pamedge[train]"'


def _unheld(asked: bool) -> str:
    """What a figure on the training windows is not, and why no recording was held out."""
    why = "too few recordings for the split asked" if asked else "split: val and test 0"
    return f" (the training windows: no recording held out, {why}; a figure of what the model learnt, not of how it generalises)"


def _fail(message: str) -> None:
    click.echo(f"edge-train: error: {message}", err=True)
    sys.exit(2)


def _config_path(config: str) -> Path:
    """CONFIG as given, else the shipped recipe of that name (training/recipes/NAME.yaml)."""
    path = Path(config)
    if path.exists() or path.suffix:
        return path
    from importlib.resources import files

    shipped = Path(str(files("training") / "recipes" / f"{config}.yaml"))
    if not shipped.is_file():
        names = sorted(p.stem for p in shipped.parent.glob("*.yaml"))
        _fail(f"{config}: no such file and no shipped recipe of that name (recipes: {', '.join(names)})")
    return shipped


@click.command(
    "edge-train",
    help="Train a model from CONFIG.yaml (or a shipped recipe's name) into its run "
    "folder, resuming an interrupted run; with an evaluation: section, also write RUN/evaluation.json.",
)
@click.argument("config")
@click.option("--restart", is_flag=True, help="ignore the run folder's last checkpoint")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="run folder (default: the config's out:)")
def train_cmd(config: str, restart: bool, out: str | None) -> None:
    try:
        from dataclasses import replace

        from training.config import load_config
        from training.recipe import run_recipe
    except ImportError as exc:
        _fail(f"{exc}; {_HINT}")
    try:
        cfg = load_config(_config_path(config))
        if out is not None:
            cfg = replace(cfg, out=str(Path(out).resolve()))
        result = run_recipe(cfg, resume=not restart)
    except PamedgeError as exc:
        _fail(str(exc))
    if "kind" not in result:
        w = result["windows"]
        part = result["split"]
        click.echo(
            f"{part} windows: {w['n']}, accuracy {w['accuracy']:.3f}, balanced accuracy {w['balanced_accuracy']:.3f}"
            + (_unheld(cfg.split.val + cfg.split.test > 0) if part == "train" else "")
        )
        return
    run = cfg.path(cfg.out)
    w = result.get("windows")
    if w is not None:
        ranks = "".join(
            f", {k.replace('_accuracy', '')} {w[k]:.3f}" for k in ("top1_accuracy", "top3_accuracy") if k in w
        )
        click.echo(f"test windows: {w['n']}, balanced accuracy {w['balanced_accuracy']:.3f}{ranks}")
    if "events" in result:
        e = result["events"].get("overall", result["events"])
        click.echo(
            f"{'LORO pooled ' if result['kind'] == 'loro' else ''}events at threshold {result['threshold']:g}: "
            f"precision {e['precision']:.3f} recall {e['recall']:.3f} F1 {e['f1']:.3f} "
            f"FP/h {e['fp_per_hour']:.2f}{overlap_text(e)}"
        )
    click.echo(f"written {run / 'evaluation.json'}")


@click.command(
    "edge-train evaluate",
    help="Run ROI detector + RUN's classifier over annotated recordings; "
    "event-level metrics matched by time overlap.  RUN is an edge-train run folder, or a model "
    "bundle (models/NAME, with --config) evaluated through edge's INT8 runtime as edge-detect runs it.",
)
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--annotations",
    required=True,
    type=click.Path(exists=True),
    help="CSV (filename,start,end,freq_min,freq_max,label, or start_utc,end_utc,label), a Triton log (.xlsx, "
    "or its CSV: labels CODE:CALL), a Tethys Detections .xml (labels SPECIES:CALL), a Raven .selections.txt (of one recording, "
    "or of several naming each row's in Begin File), an Audacity label track REC.txt, or a folder of them",
)
@click.option(
    "--label-column", help="Raven: the column holding labels (default: Label, Annotation, Species, Call Type)"
)
@click.option(
    "--default-label",
    help="Raven: the label of every selection of a table with no label column (e.g. upcall); Audacity: of a "
    "label with no text",
)
@click.option(
    "--audio-dir",
    type=click.Path(file_okay=False),
    help="folder of the annotated recordings, searched recursively (default: the annotations' folder)",
)
@click.option("--background", multiple=True, type=click.Path(), help="recordings or folders with no calls")
@click.option("--label", "labels", multiple=True, help="RAW=CLASS label mapping, e.g. 1=upcall")
@click.option("--config", "deployment", type=click.Path(dir_okay=False), help="deployment YAML (default: the run's)")
@click.option(
    "--only",
    multiple=True,
    help="evaluate only the recordings with this file name, or path as annotated (repeatable), e.g. a run's test split",
)
@click.option("--threshold", type=float, default=0.5, show_default=True)
@click.option(
    "--backend",
    type=click.Choice(["auto", "onnx", "tflite"]),
    default="auto",
    show_default=True,
    help="a bundle's INT8 file: onnx (model.int8.onnx) or tflite (model.int8.tflite)",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="where to write the JSON (default RUN/evaluate.json; RUN/evaluation.json is the recipe's "
    "held-out figures; for a bundle: not written unless given)",
)
@click.option(
    "--review",
    type=click.Path(dir_okay=False),
    help="also write a Raven table of every detection (Outcome tp or fp) and every annotation missed "
    "(fn), with a Verdict column to fill: Raven Pro opens the recordings with it",
)
def evaluate_cmd(
    run,
    annotations,
    label_column,
    default_label,
    audio_dir,
    background,
    labels,
    deployment,
    only,
    threshold,
    backend,
    output,
    review,
) -> None:
    try:
        import yaml

        from edge.calibration import HydrophoneTable
        from edge.config import load_deployment
        from training.config import from_mapping
        from training.evaluate import detectable, evaluate, evaluate_bundle, write
        from training.sources import annotated_recordings
    except ImportError as exc:
        _fail(f"{exc}; {_HINT}")
    run = Path(run)
    bundle = (run / "card.yaml").is_file()
    if bundle and deployment is None:
        _fail(f"{run}: a model bundle names no deployment: give --config DEPLOYMENT.yaml")
    try:
        if deployment is None:
            cfg = from_mapping(yaml.safe_load((run / "config.yaml").read_text()), str(run / "config.yaml"))
            deployment = cfg.path(cfg.deployment)
        dep = load_deployment(deployment)
        table = HydrophoneTable.load(dep.table_path()) if dep.table_path() else None
        mapping = dict(item.split("=", 1) for item in labels) if labels else None
        csv_path = Path(annotations)
        default_dir = csv_path if csv_path.is_dir() else csv_path.parent
        recordings = annotated_recordings(
            csv_path,
            Path(audio_dir) if audio_dir else default_dir,
            mapping,
            [Path(b) for b in background],
            label_column=label_column,
            default_label=default_label,
            channel=dep.channel,
        )
        if only:
            # a recording by its file name or, where recorders share names, its path as annotated

            def names(path: str, anns: list) -> set[str]:
                return {Path(path).name, *(a.file for a in anns[:1])}

            recordings = {p: a for p, a in recordings.items() if names(p, a) & set(only)}
            missing = sorted(set(only) - {n for p, a in recordings.items() for n in names(p, a)})
            if missing:
                _fail(f"--only: no recording named {', '.join(missing)}")
        _check_labels(annotations, recordings, detectable(run))
        review_path = Path(review) if review else None
        if bundle:
            result = evaluate_bundle(
                run, recordings, dep, table, backend=backend, threshold=threshold, review=review_path
            )
        else:
            result = evaluate(run, recordings, dep, table, threshold=threshold, review=review_path)
    except PamedgeError as exc:
        _fail(str(exc))
    except OSError as exc:  # the review table's folder
        _fail(f"{exc.filename}: cannot write: {exc.strerror}")
    if bundle:
        o = result["events"]["overall"]
        written = f"; written {write(result, Path(output))}" if output else ""
        click.echo(
            f"{result['model']}: events: precision {o['precision']:.4f} recall {o['recall']:.4f} "
            f"F1 {o['f1']:.4f} FP/h {o['fp_per_hour']:.2f} over {result['events']['hours']:.2f} h "
            f"(tp {o['tp']}, fp {o['fp']}, fn {o['fn']}){overlap_text(o)}{written}"
        )
        _said_review(review_path, o)
        return
    path = write(result, Path(output) if output else run / "evaluate.json")
    o = result["events"]["overall"]
    heads = "".join(
        f"; {h}: precision {m['precision']:.3f} recall {m['recall']:.3f} FP/h {m['fp_per_hour']:.2f}"
        for h, m in result["events"].get("heads", {}).items()
    )
    click.echo(
        f"events: precision {o['precision']:.3f} recall {o['recall']:.3f} F1 {o['f1']:.3f} "
        f"FP/h {o['fp_per_hour']:.2f} over {result['events']['hours']:.2f} h{overlap_text(o)}{heads}; "
        f"windows: balanced accuracy {result['windows']['balanced_accuracy']:.3f}; written {path}"
    )
    _said_review(review_path, o)


def _said_review(path: Path | None, overall: dict) -> None:
    if path is not None:
        click.echo(
            f"review table: {path} ({overall['fp']} false positives, {overall['fn']} calls missed, "
            f"{overall['tp']} found; fill its Verdict column in Raven)"
        )


def _check_labels(source: str, recordings: dict, labels: set[str]) -> None:
    """Annotations whose label the model cannot detect are not scored: say so, and refuse a
    set where none is (its figures would be of nothing but false positives)."""
    from collections import Counter

    unknown = Counter(a.label for anns in recordings.values() for a in anns if a.label not in labels)
    total = sum(len(anns) for anns in recordings.values())
    if not unknown:
        return
    told = ", ".join(f"{n} {label!r}" for label, n in unknown.most_common())
    hint = f"the model detects {', '.join(sorted(labels))}; map labels with --label RAW=CLASS"
    if sum(unknown.values()) == total:
        _fail(f"{source}: no annotation has a label the model detects ({told}): {hint}")
    click.echo(
        f"warning: {source}: annotations not scored, their labels unknown to the model: {told} ({hint})", err=True
    )


def _show_note(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """An annotation file's note (training.types.AnnotationNote) as one warning line; other
    warnings as Python shows them."""
    if issubclass(category, AnnotationNote):
        click.echo(f"warning: {message}", err=True)
    else:
        _python_show(message, category, filename, lineno, file, line)


_python_show = warnings.showwarning


def main(argv: list[str] | None = None) -> None:
    warnings.showwarning = _show_note
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "evaluate":
        evaluate_cmd.main(args[1:], prog_name="edge-train evaluate")
    else:
        train_cmd.main(args, prog_name="edge-train")


if __name__ == "__main__":  # python -m training.cli.train (before the console script is installed)
    main()
