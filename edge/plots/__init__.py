"""Pictures of a run for people to look at: calibrated spectrograms with the detections boxed.

Analysts validate detections by eye, so every plot here shows the same calibrated PSD
(dB re 1 uPa^2/Hz) the detector saw, computed by the one frontend with the calibration
recorded for the file.  Plotting is an extra (``pip install "pamedge[plot]"``): nothing in
the runtime path imports this package, and matplotlib is imported only inside the functions
that draw, after :func:`require_matplotlib` has said clearly what is missing.

Modules: ``spectrogram`` (display spectrograms with bounded memory, no matplotlib),
``figures`` (thumbnails and per-file overviews as Figure objects), ``charts`` (run-level
charts for the report), ``render`` (PNG files and ``plots/index.json``).
"""

from __future__ import annotations

from edge._extras import installed
from edge.errors import MissingExtraError

INSTALL_HINT = 'pip install "pamedge[plot]"'


def have_matplotlib() -> bool:
    """True when matplotlib can be imported; does not import it (cheap, for early checks)."""
    return installed("matplotlib")


def require_matplotlib(what: str = "plots") -> None:
    """Raise :class:`MissingExtraError` with the install hint unless matplotlib imports."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingExtraError(f"{what} need matplotlib, which is not installed: {INSTALL_HINT}") from None
