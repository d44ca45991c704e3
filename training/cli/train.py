"""``edge-train CONFIG.yaml`` and ``edge-train evaluate RUN --annotations CSV``.

Domain errors become one line on stderr and exit status 2; a missing torch prints the
``pip install`` line.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from edge.errors import PamedgeError

_HINT = 'edge-train needs PyTorch: pip install torch==2.13.0 "pamedge[train]"'


def _fail(message: str) -> None:
    click.echo(f"edge-train: error: {message}", err=True)
    sys.exit(2)


@click.command("edge-train", help="Train a model from CONFIG.yaml into its run folder (resumes an interrupted run).")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--restart", is_flag=True, help="ignore the run folder's last checkpoint")
def train_cmd(config: str, restart: bool) -> None:
    try:
        from training.config import load_config
        from training.loop import train
    except ImportError as exc:
        _fail(f"{exc}; {_HINT}")
    try:
        metrics = train(load_config(config), resume=not restart)
    except PamedgeError as exc:
        _fail(str(exc))
    w = metrics["windows"]
    click.echo(f"{metrics['split']} windows: {w['n']}, accuracy {w['accuracy']:.3f}, "
               f"balanced accuracy {w['balanced_accuracy']:.3f}")


@click.command("edge-train evaluate", help="Run ROI detector + RUN's classifier over annotated recordings; "
               "event-level metrics matched by time overlap.")
@click.argument("run", type=click.Path(file_okay=False, exists=True))
@click.option("--annotations", required=True, type=click.Path(dir_okay=False), help="CSV: filename,start,end,freq_min,freq_max,label")
@click.option("--audio-dir", type=click.Path(file_okay=False), help="folder of the CSV's recordings (default: the CSV's folder)")
@click.option("--background", multiple=True, type=click.Path(), help="recordings or folders with no calls")
@click.option("--label", "labels", multiple=True, help="RAW=CLASS label mapping, e.g. 1=upcall")
@click.option("--config", "deployment", type=click.Path(dir_okay=False), help="deployment YAML (default: the run's)")
@click.option("--only", multiple=True, help="evaluate only the recordings with this file name (repeatable), e.g. a run's test split")
@click.option("--threshold", type=float, default=0.5, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="where to write the JSON (default RUN/evaluation.json)")
def evaluate_cmd(run, annotations, audio_dir, background, labels, deployment, only, threshold, output) -> None:
    try:
        import yaml

        from edge.calibration import HydrophoneTable
        from edge.config import load_deployment
        from training.config import from_mapping
        from training.evaluate import evaluate, write
        from training.sources import annotated_recordings
    except ImportError as exc:
        _fail(f"{exc}; {_HINT}")
    run = Path(run)
    try:
        if deployment is None:
            cfg = from_mapping(yaml.safe_load((run / "config.yaml").read_text()), str(run / "config.yaml"))
            deployment = cfg.deployment
        dep = load_deployment(deployment)
        table = HydrophoneTable.load(dep.table_path()) if dep.table_path() else None
        mapping = dict(item.split("=", 1) for item in labels) if labels else None
        csv_path = Path(annotations)
        recordings = annotated_recordings(csv_path, Path(audio_dir) if audio_dir else csv_path.parent, mapping,
                                          [Path(b) for b in background])
        if only:
            recordings = {p: a for p, a in recordings.items() if Path(p).name in only}
            missing = sorted(set(only) - {Path(p).name for p in recordings})
            if missing:
                _fail(f"--only: no recording named {', '.join(missing)}")
        result = evaluate(run, recordings, dep, table, threshold=threshold)
    except PamedgeError as exc:
        _fail(str(exc))
    path = write(result, Path(output) if output else run / "evaluation.json")
    o = result["events"]["overall"]
    click.echo(f"events: precision {o['precision']:.3f} recall {o['recall']:.3f} F1 {o['f1']:.3f} "
               f"FP/h {o['fp_per_hour']:.2f} over {result['events']['hours']:.2f} h; "
               f"windows: balanced accuracy {result['windows']['balanced_accuracy']:.3f}; written {path}")


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "evaluate":
        evaluate_cmd.main(args[1:], prog_name="edge-train evaluate")
    else:
        train_cmd.main(args, prog_name="edge-train")


if __name__ == "__main__":  # python -m training.cli.train (before the console script is installed)
    main()
