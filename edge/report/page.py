"""The report as one HTML page, written with the standard library.

Everything the page shows is inside it (charts and thumbnails as ``data:`` PNGs, CSS
inline, no script), so it can be mailed or archived alone; links to the Raven tables and
full-size overviews are relative to where the page is written and work while it sits
beside the outputs.  Every value from the files is escaped.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
import os
from collections import Counter
from collections.abc import Set
from pathlib import Path
from urllib.parse import quote

from edge import __version__
from edge.clicks import train_text
from edge.outputs import RAVEN_RUN_TABLE
from edge.report.data import DetectionRow, ReportSettings, RunData
from edge.report.series import DetectionBins, Effort

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;margin:0;background:#f4f6f8}
main{max-width:1180px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid #dde3ea;padding-bottom:4px}
h3{font-size:16px;margin:20px 0 6px}.sub{color:#5a6573;margin:0 0 16px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px;max-width:100%}.f{overflow-wrap:anywhere}th,td{padding:4px 10px;border-bottom:1px solid #e3e8ee;
text-align:left;vertical-align:middle}th{background:#eef2f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}.card{background:#eef2f6;border-radius:6px;padding:8px 14px;
min-width:120px}.card b{display:block;font-size:20px}.card span{color:#5a6573;font-size:12px}
.warn{background:#fff4e0;border-left:4px solid #f0a020;padding:6px 12px;margin:8px 0}
.bad{color:#b3261e}.ok{color:#1b7f3a}img.chart{max-width:100%;height:auto;display:block}
img.thumb{width:360px;height:auto;display:block}img.overview{max-width:100%;height:auto;margin:6px 0 14px}
.muted{color:#6b7684}code{font-size:12px;background:#f1f3f5;padding:1px 4px;border-radius:3px}
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def path_html(value: object) -> str:
    """A path or command, allowed to break anywhere (a long name must not widen a table)."""
    return f'<span class="f">{esc(value)}</span>'


def _num(value: float | None, fmt: str, empty: str = "") -> str:
    return empty if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def _img(png: bytes, alt: str, cls: str) -> str:
    return f'<img class="{cls}" alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _link(target: Path, report_dir: Path, text: str) -> str:
    href = quote(Path(os.path.relpath(target, report_dir)).as_posix())
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def _table(headers: list[str] | None, rows: list[list[str]], numeric: Set[int] = frozenset()) -> str:
    """``rows`` hold cell HTML, already escaped; no header row when ``headers`` is None."""
    head = "<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr></thead>" if headers else ""
    body = "".join(
        "<tr>"
        + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table>{head}<tbody>{body}</tbody></table>"


def _utc(t: dt.datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else ""


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def render(
    data: RunData,
    *,
    bins: DetectionBins | None,
    effort: Effort,
    charts: dict[str, bytes | None],
    report_dir: Path,
    settings: ReportSettings = ReportSettings(),
) -> str:
    """The whole page."""
    config = data.run.get("config") or {}
    name = (config.get("settings") or {}).get("name", "")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(f'pamedge run report: {name}')}</title><style>{CSS}</style></head><body><main>",
        f"<h1>Run report: {esc(name or 'deployment')}</h1>",
        f'<p class="sub">{esc(data.outdir)} &middot; finished {esc(data.run.get("finished_utc", "?"))}</p>',
        _summary(data, effort, report_dir),
        _failures(data),
        _ranking(data),
        _detections(data, bins, charts.get("detections")),
        _scores(data, charts.get("scores")),
        _levels(data, charts.get("levels")),
        _soundscape(data, charts.get("ltsa"), charts.get("spd")),
        _effort(effort, charts.get("effort")),
        _top(data, report_dir, settings),
        _recordings(data, report_dir, settings),
        f'<p class="muted">Written by edge-report (pamedge {esc(__version__)}) from run.json, detections.csv, '
        f"levels.csv, raven/ and plots/ in {esc(data.outdir)}.</p>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


def _summary(data: RunData, effort: Effort, report_dir: Path) -> str:
    run, totals = data.run, data.run.get("totals") or {}
    config = run.get("config") or {}
    audio_s = sum(f.audio_s for f in data.ok)
    rtf = totals.get("realtime_factor")
    cards = [
        ("files processed", len(data.ok)),
        ("files failed", len(data.failed)),
        ("audio hours", f"{audio_s / 3600:.2f}"),
        ("detections", sum(data.label_counts.values())),
        ("real-time factor", f"{rtf:.0f}x" if isinstance(rtf, (int, float)) else "n/a"),
    ]
    out = ['<h2 id="summary">Summary</h2><div class="cards">']
    out += [
        f'<div class="card"><b class="{"bad" if k == "files failed" and v else ""}">{esc(v)}</b>'
        f"<span>{esc(k)}</span></div>"
        for k, v in cards
    ]
    out.append("</div>")
    if run.get("note"):
        out.append(f'<p class="warn">{esc(run["note"])}</p>')
    settings = config.get("settings") or {}
    span = effort.span
    cal = Counter((f.hydrophone, f.full_scale_spl_db) for f in data.ok)
    deployment = (
        " ".join(
            filter(None, [settings.get("name"), f"({settings['description']})" if settings.get("description") else ""])
        )
        or "not recorded"
    )
    rows = [
        ("deployment", deployment),
        ("config", f"{config.get('source') or 'built-in'}, hash {config.get('hash')}" if config else "not recorded"),
        ("recordings span", f"{_utc(span[0])} to {_utc(span[1])}" if span else "start times unknown"),
        (
            "calibration",
            ", ".join(
                f"{h or '?'}: {_num(db, '.1f', '?')} dB re 1 µPa full scale ({n} files)"
                for (h, db), n in sorted(cal.items(), key=str)
            )
            or "none",
        ),
        ("calibration table", (run.get("calibration_table") or {}).get("path") or "none"),
        ("model", _model(run["model"]) if "model" in run else "not recorded"),
        (
            "run",
            f"started {run.get('started_utc', '?')}, wall {totals.get('wall_s', '?')} s, "
            f"pamedge {(run.get('versions') or {}).get('pamedge', '?')}",
        ),
        ("command", " ".join(map(str, run.get("command") or []))),
    ]
    cells = [[f"<b>{esc(k)}</b>", path_html(v)] for k, v in rows]
    run_table = data.outdir / "raven" / RAVEN_RUN_TABLE
    if run_table.is_file():  # every selection of the run, opening the sound files in Raven
        cells.append(["<b>Raven, whole run</b>", _link(run_table, report_dir, f"raven/{RAVEN_RUN_TABLE}")])
    out.append(_table(None, cells))
    per_label = [
        [
            esc(label),
            str(n),
            _num(n / (audio_s / 3600), ".1f") if audio_s else "",
            str(sum(1 for c in data.file_label_counts.values() if c.get(label))),
        ]
        for label, n in sorted(data.label_counts.items())
    ]
    out.append("<h3>Detections per label</h3>")
    out.append(
        _table(["label", "detections", "per recorded hour", "recordings with it"], per_label, {1, 2, 3})
        if per_label
        else "<p>No detections.</p>"
    )
    warnings = Counter(w.split(": ", 1)[-1] for f in data.files for w in f.warnings)
    if warnings:
        out.append("<h3>Warnings</h3>")
        out += [
            f'<div class="warn">{esc(w)} <span class="muted">({n} recording{"s" * (n != 1)})</span></div>'
            for w, n in warnings.most_common()
        ]
    return "\n".join(out)


def _model(model: object) -> str:
    if not model:
        return "none: every ROI is a detection labelled roi"
    if isinstance(model, dict):
        if model.get("identity"):  # name@sha256 prefix, as the records carry it
            return f"{model['identity']}" + (f" ({model['backend']})" if model.get("backend") else "")
        return ", ".join(f"{k} {model[k]}" for k in ("name", "sha256", "hash") if model.get(k)) or "yes"
    return str(model)


def _failures(data: RunData) -> str:
    if not data.failed:
        return '<h2 id="failed">Failed recordings</h2><p class="ok">No recording failed.</p>'
    rows = [[path_html(f.file), path_html(f.reason)] for f in data.failed]
    return (
        f'<h2 id="failed">Failed recordings ({len(data.failed)})</h2>'
        "<p>These recordings were not processed; their time is missing from the effort below.</p>"
        + _table(["recording", "reason"], rows)
    )


def _ranking(data: RunData) -> str:
    """Each recording's ranked answer (ranking.csv), when the run ranked."""
    ranked = [f for f in data.ok if f.ranking]
    if not ranked:
        return ""
    k = max(len(f.ranking) for f in ranked)
    rows = [
        [path_html(f.file)]
        + [
            f"{esc(label)} {score:.2f} <span class='muted'>({windows} win.)</span>"
            for label, score, windows in f.ranking
        ]
        + [""] * (k - len(f.ranking))
        for f in ranked
    ]
    return (
        f'<h2 id="ranking">Ranked answer per recording ({len(ranked)})</h2>'
        "<p>The species the model claims, most probable first: a species' score is the mean of its best windows' "
        "scores (every window of the recording scored). <i>other</i>, after them, is the evidence that none of them "
        "is there (1 minus the first one's score): a first species under 0.5 is no more likely than not. Also in "
        "ranking.csv.</p>" + _table(["recording", *[f"#{i + 1}" for i in range(k)]], rows)
    )


def _detections(data: RunData, bins: DetectionBins | None, chart: bytes | None) -> str:
    out = [f'<h2 id="detections">Detections per {esc(bins.unit if bins else "hour")} and label</h2>']
    if bins is None or chart is None:
        return out[0] + "<p>No recording was processed.</p>"
    if bins.mode == "file":
        out.append("<p>Start times are not known for every recording, so detections are counted per recording.</p>")
    elif bins.mode == "sparse":
        out.append(
            f"<p>The recordings cover few of the {bins.unit} bins between the first and the last; only the "
            "bins holding recordings are shown, as categories.</p>"
        )
    else:
        out.append(f"<p>UTC {bins.unit} bins; grey: no recording (zero there means not listening, not silence).</p>")
    out.append(_img(chart, "detections per bin and label", "chart"))
    return "\n".join(out)


def _scores(data: RunData, chart: bytes | None) -> str:
    if chart is None:
        return ""
    return (
        f'<h2 id="scores">Scores per class ({data.score_windows} windows)</h2>'
        "<p>Every window the model scored for an ROI, kept or rejected (scores.csv): pick another threshold "
        "from the run's scores without running it again.</p>" + _img(chart, "windows per score and class", "chart")
    )


def _levels(data: RunData, chart: bytes | None) -> str:
    head = '<h2 id="levels">Noise levels</h2>'
    if data.levels is None or chart is None:
        return head + "<p>levels.csv holds no rows: no noise levels to show.</p>"
    bands = ", ".join(f"{n[5:-2]} Hz" for n in data.levels.bands) or "none"
    return (
        head + f"<p>SPL per period (dB re 1 µPa): broadband and decidecade bands {esc(bands)} "
        f"({data.levels.rows} periods; levels.csv holds every band).</p>" + _img(chart, "noise levels", "chart")
    )


def _soundscape(data: RunData, ltsa: bytes | None, spd: bytes | None) -> str:
    s = data.soundscape
    if s is None or ltsa is None or spd is None:
        return ""
    days = sorted({t.date() for t in s.times})
    span = f"{days[0]} to {days[-1]}" if len(days) > 1 else str(days[0])
    return (
        '<h2 id="soundscape">Soundscape</h2>'
        f"<p>Hybrid millidecade levels per UTC minute ({len(s.times)} minutes, {esc(span)}; soundscape/ holds every "
        "band, the decidecades and the percentiles per day). Long-term spectral average:</p>"
        + _img(ltsa, "long-term spectral average", "chart")
        + "<p>Spectral probability density of the minutes' levels per band, with the 1st, 5th, 50th, 95th and 99th "
        "percentiles and the power mean:</p>" + _img(spd, "spectral probability density", "chart")
    )


def _effort(effort: Effort, chart: bytes | None) -> str:
    out = ['<h2 id="effort">Effort</h2>']
    span = effort.span
    if span:
        span_s = (span[1] - span[0]).total_seconds()
        timed_s = sum((e - s).total_seconds() for s, e, _ in effort.intervals)
        share = 100 * timed_s / span_s if span_s else 100.0
        share_text = f"{share:.1f}%" if share >= 1 else f"{share:.2g}%"  # a few clips over years: not "0.0%"
        out.append(
            f"<p>{_duration(timed_s)} recorded over a span of {_duration(span_s)} ({share_text}); "
            f"{len(effort.gaps)} gap{'s' * (len(effort.gaps) != 1)} longer than 1 s.</p>"
        )
    if chart is not None:
        out.append(_img(chart, "effort timeline", "chart"))
    if effort.gaps:
        longest = sorted(effort.gaps, key=lambda g: g[0] - g[1])[:20]
        out.append(f"<h3>Longest gaps{' (20 of ' + str(len(effort.gaps)) + ')' if len(effort.gaps) > 20 else ''}</h3>")
        out.append(
            _table(
                ["from", "to", "length"],
                [[esc(_utc(a)), esc(_utc(b)), esc(_duration((b - a).total_seconds()))] for a, b in longest],
            )
        )
    if effort.untimed:
        out.append(
            f"<p>{len(effort.untimed)} recording{'s' * (len(effort.untimed) != 1)} without a start time, "
            "not on the timeline: "
            + esc(", ".join(Path(f).name for f in effort.untimed[:10]))
            + (" ..." if len(effort.untimed) > 10 else "")
            + "</p>"
        )
    if not span and not effort.untimed:
        out.append("<p>No recording was processed.</p>")
    return "\n".join(out)


def _top(data: RunData, report_dir: Path, settings: ReportSettings) -> str:
    out = ['<h2 id="top">Top detections</h2>']
    if not data.top:
        return out[0] + "<p>No detections.</p>"
    raven = {f.file: f.raven for f in data.files if f.raven}
    out.append(
        f"<p>The {settings.top_per_label} strongest of each label (score when classified, else SNR). "
        "Spectrograms are calibrated PSD with the detection boxed.</p>"
    )
    headers = [
        "#",
        "spectrogram",
        "score",
        "SNR (dB)",
        "RL (dB re 1 µPa)",
        "start",
        "duration (s)",
        "band (Hz)",
        "recording",
        "Raven",
    ]
    for label, rows in data.top.items():
        n = data.label_counts[label]
        out.append(f'<h3 id="label-{esc(label)}">{esc(label)} ({n} detection{"s" * (n != 1)})</h3>')
        cells = [_top_row(i, d, data, raven, report_dir) for i, d in enumerate(rows, 1)]
        if all(math.isnan(d.score) for d in rows):  # ROIs carry no score: no empty column
            out.append(_table(headers[:2] + headers[3:], [c[:2] + c[3:] for c in cells], {0, 2, 3, 5}))
        else:
            out.append(_table(headers, cells, {0, 2, 3, 4, 6}))
    return "\n".join(out)


def _top_row(i: int, d: DetectionRow, data: RunData, raven: dict[str, str], report_dir: Path) -> list[str]:
    thumb = data.thumbnails.get(d.key)
    image = (
        _img(thumb.read_bytes(), f"{d.label} at {d.start_s} s", "thumb") if thumb else '<span class="muted">-</span>'
    )
    table = data.outdir / raven[d.file] if d.file in raven else None
    link = _link(table, report_dir, "selections") if table is not None and table.exists() else ""
    duration = float(d.end_s) - float(d.start_s)
    start = d.start_utc.replace("T", " ").replace("Z", " UTC") if d.start_utc else f"{d.start_s} s"
    return [
        str(i),
        image,
        _num(d.score, ".3f"),
        _num(d.snr_db, ".1f"),
        _num(d.received_level_db, ".1f"),
        esc(start) + f'<br><span class="muted">{esc(d.start_s)} s in file</span>',
        f"{duration:.2f}"
        + (f'<br><span class="muted">{esc(train_text(d.clicks, d.ici_s))}</span>' if d.clicks else ""),
        f"{_num(d.low_hz, '.0f')}-{_num(d.high_hz, '.0f')}",
        path_html(Path(d.file).name),
        link,
    ]


def _recordings(data: RunData, report_dir: Path, settings: ReportSettings) -> str:
    out = [f'<h2 id="recordings">Recordings ({len(data.files)})</h2>']
    rows = []
    for f in data.files:
        status = '<span class="ok">ok</span>' if f.status == "ok" else f'<span class="bad">{esc(f.status)}</span>'
        table = data.outdir / f.raven if f.raven else None
        overview = data.overviews.get(f.file)
        rows.append(
            [
                path_html(f.file),
                status,
                esc(_utc(f.start) if f.status == "ok" else ""),
                _num(f.audio_s / 60, ".1f") if f.status == "ok" else "",
                str(f.detections),
                esc(f"{f.hydrophone} ({_num(f.full_scale_spl_db, '.1f', '?')} dB)") if f.hydrophone else "",
                _link(table, report_dir, "selections") if table is not None and table.exists() else "",
                _link(overview, report_dir, "spectrogram") if overview else "",
            ]
        )
    out.append(
        _table(
            [
                "recording",
                "status",
                "start",
                "minutes",
                "detections",
                "hydrophone (full-scale SPL)",
                "Raven",
                "overview",
            ],
            rows,
            {3, 4},
        )
    )
    shown = [f for f in data.ok if f.file in data.overviews][: settings.max_overviews]
    if shown:
        more = len([f for f in data.ok if f.file in data.overviews]) - len(shown)
        out.append(
            "<h3>Overviews</h3>" + (f'<p class="muted">{more} more linked in the table above.</p>' if more else "")
        )
        out += [f"<div>{_img(data.overviews[f.file].read_bytes(), Path(f.file).name, 'overview')}</div>" for f in shown]
    return "\n".join(out)
