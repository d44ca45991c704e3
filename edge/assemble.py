"""The run's outputs, assembled from its committed parts once every recording is done:
the tables (detections, levels, Raven, ranking, scores, clicks) and the detection log, the
soundscape products, the Tethys documents and ``run.json``, each staged and committed together
by :func:`edge.detect.finish`.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import os
import platform
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge import __version__, resample
from edge.classify import Classifier
from edge.config import DeploymentConfig
from edge.log import build_log
from edge.outputs import (
    CLICK_COLUMNS,
    DETECTION_COLUMNS,
    LEVEL_COLUMNS,
    RANKING_COLUMNS,
    RAVEN_RUN_COLUMNS,
    RAVEN_RUN_TABLE,
    SCORE_COLUMNS,
    ScoresParquet,
    StagedFiles,
    click_row,
    detection_row,
    level_row,
    ranking_rows,
    raven_rows,
    score_row,
)
from edge.soundscape.settings import SoundscapeSettings
from edge.soundscape.types import Minute
from edge.soundscape.write import netcdf_attrs, write_days
from edge.tethys.documents import (
    TethysError,
    deployment_document,
    detections_documents,
    effort_periods,
    to_text,
)
from edge.tethys.types import Recording as TethysRecording
from edge.tethys.types import Species
from edge.timestamps import parse_utc, stretches
from edge.types import Detection

if TYPE_CHECKING:  # the run's own types; edge.detect imports this module
    from edge.detect import RunContext, RunReport


def score_classes(classifier: Classifier | None) -> list[str]:
    """The class columns of ``scores.csv``: every output's classes, in order, once."""
    if classifier is None:
        return []
    return list(dict.fromkeys(c for o in classifier.bundle.outputs for c in o.classes))


def write_tables(
    report: RunReport,
    level_header: list[str],
    staged: StagedFiles,
    outputs: frozenset[str],
    top_k: int = 0,
    classes: Sequence[str] = (),
) -> None:
    """The run's tables (``detections.csv``, ``levels.csv``, ``raven/all.selections.txt``,
    ``ranking.csv`` with ``top_k`` classes per recording) and
    detection log, those of ``outputs``, streamed one recording's part at a time into ``staged``
    (memory holds one recording's records, however many)."""
    files: list[Any] = []
    writers: dict[str, Any] = {}

    def table(kind: str, name: str, header: Sequence[str], delimiter: str = ",") -> None:
        if kind in outputs:
            fh = open(staged.path(name), "w", encoding="utf-8", newline="")
            files.append(fh)
            writers[kind] = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
            writers[kind].writerow(header)

    try:
        if "raven" in outputs:
            (report.outdir / "raven").mkdir(exist_ok=True)
        table("csv", "detections.csv", DETECTION_COLUMNS)
        table("levels", "levels.csv", level_header)
        table("raven", f"raven/{RAVEN_RUN_TABLE}", RAVEN_RUN_COLUMNS, "\t")
        table("ranking", "ranking.csv", RANKING_COLUMNS)
        table("scores", "scores.csv", [*SCORE_COLUMNS, *classes])
        table("clicks", "clicks.csv", CLICK_COLUMNS)
        parquet = ScoresParquet(staged.path("scores.parquet"), classes) if "parquet" in outputs else None

        def batches() -> Iterator[list[Detection]]:
            offset_s, selections = 0.0, 0
            for light in report.files:
                f = report.full(light)
                if "csv" in writers:
                    writers["csv"].writerows(detection_row(d) for d in f.detections)
                if "scores" in writers:
                    writers["scores"].writerows(score_row(s, classes) for s in f.scores)
                if "clicks" in writers:
                    writers["clicks"].writerows(click_row(c) for c in f.clicks)
                if parquet is not None:
                    parquet.write(f.scores)
                if "ranking" in writers and f.ranking:
                    writers["ranking"].writerows(ranking_rows(f.file, f.details.get("channel", 0), f.ranking, top_k))
                if "raven" in writers and f.status == "ok":  # recordings end to end, as Raven opens a file list
                    path = os.path.abspath(f.file)
                    writers["raven"].writerows(
                        raven_rows(f.detections, first=selections + 1, offset_s=offset_s, path=path)
                    )
                    selections += len(f.detections)
                    offset_s += f.details.get("duration_s", f.audio_s)
                if "levels" in writers:
                    index = {name: i for i, name in enumerate(f.level_bands)}
                    for row in f.levels:
                        cells = level_row(row)
                        base, bands = cells[: len(LEVEL_COLUMNS)], cells[len(LEVEL_COLUMNS) :]
                        writers["levels"].writerow(
                            base + [bands[index[c]] if c in index else "" for c in level_header[len(LEVEL_COLUMNS) :]]
                        )
                yield f.detections

        if "sqlite" in outputs:
            log = report.outdir / "detections.sqlite"
            build_log(staged.path(log.name), batches(), log)
        else:
            for _ in batches():
                pass
        if parquet is not None:
            parquet.close()
        for fh in files:
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        for fh in files:
            fh.close()


def write_soundscape(report: RunReport, ctx: RunContext, staged: StagedFiles) -> dict[str, Any]:
    """``soundscape/``: the daily HMD, decidecade and percentile tables (and NetCDF with the
    soundscape extra) from the committed minutes, one day in memory at a time."""
    by_day: dict[dt.date, list[Callable[[], tuple[int, list[Minute]]]]] = {}
    for f in report.files:
        if f.status == "ok":
            path = Path(f.file)
            for held in ctx.parts.hmd_days(path):
                by_day.setdefault(held, []).append(functools.partial(ctx.parts.load_hmd, path))
    if by_day:
        (report.outdir / "soundscape").mkdir(exist_ok=True)
    ok = [f for f in report.files if f.status == "ok"]
    calibration = ", ".join(sorted({f.details.get("calibration", {}).get("hash", "") for f in ok} - {""}))
    return write_days(
        by_day,
        ctx.config.soundscape or SoundscapeSettings(),
        lambda name, text: staged.text(f"soundscape/{name}", text),
        lambda name: staged.path(f"soundscape/{name}"),
        lambda day: netcdf_attrs(
            day, deployment=ctx.config.name, site=ctx.config.site, calibration=calibration, version=__version__
        ),
    )


def tethys_species(config: DeploymentConfig, classifier: Classifier | None) -> dict[str, Species]:
    """The species a run's Tethys documents name; raises :class:`PamedgeError` when the run
    cannot write them (no site: section nor XWAV header naming one, no model, a card without
    species:)."""
    if config.site is None:
        raise TethysError(
            f"--outputs tethys: deployment {config.name!r} has no site: section (latitude, longitude, depth_m, "
            "instrument, recorder_serial) and no XWAV header names one: Tethys documents need where the "
            "recordings were made"
        )
    if classifier is None:
        raise TethysError("--outputs tethys: no model runs, and Tethys detections name species (ITIS numbers)")
    species = classifier.bundle.species
    if not species:
        raise TethysError(
            f"--outputs tethys: model {classifier.identity} has no species: mapping (label -> ITIS number) in "
            f"{classifier.bundle.path / 'card.yaml'}"
        )
    return species


_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


def write_tethys(report: RunReport, ctx: RunContext, staged: StagedFiles) -> None:
    """``tethys/``: the Deployment document and a Detections document per stretch of
    continuous recording (effort), as Tethys takes them."""
    classifier = ctx.options.classifier
    assert classifier is not None  # tethys_species refused the run otherwise
    species = tethys_species(ctx.config, classifier)
    recordings, detections = [], []
    for f in report.files:
        d = f.details
        start = parse_utc(d.get("start_utc")) if f.status == "ok" else None
        if start is None:
            continue
        # a duty-cycled recording is effort only over its periods, each from its own start
        periods = tuple((float(b), parse_utc(t) or start) for b, t in d.get("periods") or ())
        for _, at, end in stretches(start, float(d["duration_s"]), periods):
            recordings.append(
                TethysRecording(
                    f.file,
                    at,
                    (end - at).total_seconds(),
                    int(d["sample_rate"]),
                    _BITS.get(d.get("subtype", ""), 0),
                    int(d.get("channel", 0)),
                    float((d.get("calibration") or {}).get("gain_db", 0.0)),
                )
            )
        if f.detection_count:
            detections += report.full(f).detections
    (report.outdir / "tethys").mkdir(exist_ok=True)
    name = ctx.config.name
    staged.text(f"tethys/{name}_deployment.xml", to_text(deployment_document(name, ctx.config.site, recordings)))
    docs = detections_documents(
        name,
        effort_periods(recordings),
        detections,
        species,
        model=classifier.identity,
        version=__version__,
        thresholds=classifier.thresholds,
    )
    for k, doc in enumerate(docs, start=1):
        staged.text(f"tethys/{name}_detections_{k}.xml", to_text(doc))


def _versions() -> dict[str, str]:
    import scipy
    import soundfile

    return {
        "pamedge": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "soundfile": soundfile.__version__,
        "libsndfile": soundfile.__libsndfile_version__,
        "resampler": resample.describe(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def run_json(report: RunReport, ctx: RunContext, soundscape: dict[str, Any] | None = None) -> str:
    config, table, classifier = ctx.config, ctx.options.table, ctx.options.classifier
    top_k = ctx.options.ranked(config)
    names = {str(p): ctx.raven_names[p] for p in ctx.paths}
    files = []
    for f in report.files:
        entry = {
            "file": f.file,
            "status": f.status,
            "reason": f.reason,
            "audio_s": round(f.audio_s, 3),
            "roi_count": f.roi_count,
            "detections": f.detection_count,
            **f.details,
        }
        if f.status == "ok" and "raven" in ctx.options.outputs:
            entry["raven"] = f"raven/{names[f.file]}"
        if top_k and f.ranking:
            entry["ranking"] = [asdict(r) for r in f.ranking[:top_k]]
        files.append(entry)
    doc = {
        "tool": "edge-detect",
        "command": list(ctx.options.command or sys.argv),
        "versions": _versions(),
        "started_utc": ctx.started_utc,
        "finished_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "config": {"source": config.source, "hash": config.hash, "settings": config.as_dict()},
        "calibration_table": {"path": table.path if table else "", "sha256": ctx.table_hash},
        "model": classifier.describe() if classifier is not None else None,
        "files": files,
        "outputs": sorted(ctx.options.written(config)),
        "top_k": top_k or None,
        **({"soundscape": soundscape} if soundscape is not None else {}),
        "skipped": report.skipped,
        "notes": report.notes,
        "totals": {
            "files": len(report.files),
            "ok": len(report.files) - len(report.failed),
            "failed": len(report.failed),
            "audio_s": round(report.audio_s, 3),
            "detections": sum(f.detection_count for f in report.files),
            "detections_per_label": report.per_label(),
            "wall_s": round(report.wall_s, 3),
            "processing_s": round(report.processing_s, 3),
            "realtime_factor": round(report.realtime_factor, 1) if report.processing_s else None,
        },
    }
    return json.dumps(doc, indent=2, default=str) + "\n"
