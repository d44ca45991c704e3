"""Fixtures shared by the plot and report tests: one real right-whale run, drawn once."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.support.data import DEPLOYMENTS, shared_path
from tests.support.plots import FAILED_NAME, NARW_FILES, PER_LABEL


@pytest.fixture(scope="session")
def narw_plotted(tmp_path_factory):
    """Two contiguous 15-min DCLDE 2013 recordings (2 kHz, with upcalls) and a zero-byte
    recording, run with narw-upcall.yaml and drawn with ``PER_LABEL`` thumbnails per label.

    Namespace: ``outdir``, ``report`` (RunReport), ``config``, ``index`` (plots/index.json),
    ``failed`` (path of the zero-byte file).
    """
    from edge.config import load_deployment
    from edge.detect import detect
    from edge.plots.render import PlotSettings, files_from_report, write_plots

    root = shared_path("meridian-osmose-narw", "task-2a", "data", "train", "narw")
    tmp = tmp_path_factory.mktemp("narw-plots")
    failed = tmp / "card" / FAILED_NAME
    failed.parent.mkdir()
    failed.write_bytes(b"")
    config = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    outdir = tmp / "out"
    report = detect([*(root / name for name in NARW_FILES), failed], outdir, config)
    index = write_plots(outdir, files_from_report(report, config), settings=PlotSettings(per_label=PER_LABEL))
    return SimpleNamespace(outdir=outdir, report=report, config=config, index=index, failed=failed)
