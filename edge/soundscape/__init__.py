"""Soundscape products: hybrid millidecade (HMD) spectra per UTC minute, decidecades derived
from them, daily percentiles and spectral probability density, as soundscape archives
(NCEI, MANTA, MBARI's pbp) exchange them.

A levels stage of its own, independent of the detector's frontend: it reads each
recording at its own rate (1 Hz bins up to the recording's Nyquist frequency, whatever rate
the detector analyses at), so a deployment's detector settings never change its levels.
"""

from edge.soundscape.bands import decidecade_bands, hmd_bands
from edge.soundscape.settings import SoundscapeSettings
from edge.soundscape.types import Bands, Day, Minute
from edge.soundscape.welch import MinuteSpectra, recording_minutes

__all__ = [
    "Bands",
    "Day",
    "Minute",
    "MinuteSpectra",
    "SoundscapeSettings",
    "decidecade_bands",
    "hmd_bands",
    "recording_minutes",
]
