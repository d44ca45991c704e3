"""An evaluation's outcomes as a Raven table to review: every detection the model made on the
annotated recordings (``tp``: it matched an annotation; ``fp``: it matched none) and every
annotation no detection matched (``fn``), with an empty ``Verdict`` column for the analyst.

The table is laid out as edge-detect's ``raven/all.selections.txt``: the recordings on one time
line in the order evaluated, each row naming its file (``Begin Path``, ``Begin File``) and the
time in it (``File Offset (s)``), so Raven Pro opens the recordings with it (File > Open
Selection Table) and edge-train reads it back as a reviewed table
(:func:`training.annotations.read_raven_multi`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from edge.audio import probe
from edge.outputs import RAVEN_COLUMNS, RAVEN_RUN_EXTRA, csv_text, write_atomic
from training.annotations import VERDICT_COLUMN
from training.types import Annotation

# edge-detect's run table's columns of a selection, an Outcome where it has its measurements, and
# the review's Verdict (training.annotations reads it back)
REVIEW_COLUMNS = (*RAVEN_COLUMNS[: RAVEN_COLUMNS.index("Label") + 1], "Outcome", *RAVEN_RUN_EXTRA, VERDICT_COLUMN)


def review_rows(outcomes: Sequence[tuple[Annotation, str]], recordings: Sequence[tuple[Path, str]]) -> list[list[str]]:
    """Rows of the review table; ``recordings`` are ``(path, name as in the annotations)`` in the
    order of the time line.  An annotation without frequency bounds is drawn over the
    recording's band (0 Hz to its Nyquist frequency)."""
    where: dict[str, tuple[Path, float, float]] = {}
    offset = 0.0
    for path, name in recordings:
        info = probe(path, allow_truncated=True)
        where[name] = (path, offset, info.sample_rate / 2)
        offset += info.duration_s
    rows = []
    for ann, outcome in sorted(outcomes, key=lambda o: (where[o[0].file][1], o[0].start_s)):
        path, start, nyquist = where[ann.file]
        rows.append(
            [
                str(len(rows) + 1),
                "Spectrogram 1",
                "1",
                f"{start + ann.start_s:.3f}",
                f"{start + ann.end_s:.3f}",
                f"{ann.low_hz:.1f}",
                f"{min(ann.high_hz, nyquist):.1f}",
                ann.label,
                outcome,
                str(Path(path).resolve()),
                f"{ann.start_s:.3f}",
                Path(path).name,
                "",
            ]
        )
    return rows


def write_review_table(
    path: Path, outcomes: Sequence[tuple[Annotation, str]], recordings: Sequence[tuple[Path, str]]
) -> Path:
    """The review table at ``path``, written whole or not at all."""
    write_atomic(path, csv_text(REVIEW_COLUMNS, review_rows(outcomes, recordings), delimiter="\t"))
    return path
