"""Tethys documents from the shore database: the records one deployment's buoy sent, its
effort from the health records (a period between two consecutive health rows during which
the buoy processed audio is on effort), with the site from the deployment YAML and the
species from the model's card."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from edge import __version__
from edge.config import DeploymentConfig
from edge.outputs import write_atomic
from edge.tethys.documents import TethysError, deployment_document, detections_documents, to_text
from edge.tethys.types import EffortPeriod, Recording, Species
from shore.store import ShoreStore


def effort_from_health(store: ShoreStore, deployment: str) -> list[EffortPeriod]:
    """On-effort periods of ``deployment``: between consecutive health rows (by sequence)
    whose processed audio grew, merged where they meet."""
    periods: list[EffortPeriod] = []
    prev = None
    for name, h in store.health():
        if name != deployment:
            continue
        if prev is not None and prev.seq == h.seq - 1 and h.processed_s > prev.processed_s:
            start = dt.datetime.fromtimestamp(prev.time_s, dt.timezone.utc)
            end = dt.datetime.fromtimestamp(h.time_s, dt.timezone.utc)
            if periods and periods[-1].end == start:
                periods[-1] = EffortPeriod(periods[-1].start, end, ())
            else:
                periods.append(EffortPeriod(start, end, ()))
        prev = h
    return periods


def export_tethys(
    store: ShoreStore, folder: str | Path, config: DeploymentConfig, species: dict[str, Species], model: str
) -> list[Path]:
    """``<deployment>_deployment.xml`` and ``<deployment>_detections_<k>.xml`` in ``folder``."""
    name = config.name
    periods = effort_from_health(store, name)
    if not periods:
        raise TethysError(
            f"deployment {name!r}: no two consecutive health records with audio processed between them in the "
            "shore database: its effort is unknown (edge-shore ingest the buoy's health frames first)"
        )
    if config.sample_rate is None:
        raise TethysError(f"deployment {name!r}: no sample_rate: the Deployment document needs the sampling rate")
    recordings = [
        Recording(name, p.start, (p.end - p.start).total_seconds(), config.sample_rate, 0, config.channel, 0.0)
        for p in periods
    ]
    detections = [d for d in store.records() if d.deployment == name]
    folder = Path(folder)
    written = [folder / f"{name}_deployment.xml"]
    write_atomic(written[0], to_text(deployment_document(name, config.site, recordings, audio=False)))
    docs = detections_documents(name, periods, detections, species, model=model, version=__version__)
    for k, doc in enumerate(docs, start=1):
        path = folder / f"{name}_detections_{k}.xml"
        write_atomic(path, to_text(doc))
        written.append(path)
    return written
