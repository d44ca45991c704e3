"""``write_report``: an output folder -> ``report.html`` beside it (or where asked)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge.outputs import write_atomic
from edge.plots import require_matplotlib
from edge.report.data import ReportSettings, load
from edge.report.series import detection_bins, effort


def write_report(
    outdir: str | Path, *, output: str | Path | None = None, settings: ReportSettings = ReportSettings()
) -> Path:
    """Write the report of ``outdir`` to ``output`` (default ``outdir/report.html``) and
    return its path.  Raises :class:`~edge.errors.PamedgeError` when ``outdir`` holds no
    ``run.json``, :class:`~edge.errors.MissingExtraError` without matplotlib."""
    outdir = Path(outdir)
    data = load(outdir, settings=settings)
    require_matplotlib("the report's charts")
    from edge.plots.render import png_bytes
    from edge.report import charts, page

    bins = detection_bins(data)
    eff = effort(data)
    effort_fig = charts.effort_chart(eff)
    images = {
        "detections": png_bytes(charts.detections_chart(bins)) if bins is not None else None,
        "levels": png_bytes(charts.levels_chart(data.levels)) if data.levels is not None else None,
        "effort": png_bytes(effort_fig) if effort_fig is not None else None,
        "ltsa": png_bytes(charts.ltsa_chart(data.soundscape)) if data.soundscape is not None else None,
        "spd": png_bytes(charts.spd_chart(data.soundscape)) if data.soundscape is not None else None,
        "scores": png_bytes(charts.scores_chart(data.score_counts, _thresholds(data.run)))
        if data.score_counts
        else None,
    }
    output = Path(output) if output is not None else outdir / "report.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    text = page.render(
        data, bins=bins, effort=eff, charts=images, report_dir=output.parent.resolve(), settings=settings
    )
    write_atomic(output, text)
    return output


def _thresholds(run: dict[str, Any]) -> dict[str, float]:
    model = run.get("model") or {}
    return {str(k): float(v) for k, v in (model.get("thresholds") or {}).items()}
