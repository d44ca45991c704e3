"""The one root exception of the runtime and its kinds.

Each also subclasses the built-in a caller would naturally catch, so ``except ValueError``
around a config load still works.  Messages name the file, key or value that is wrong.
"""

from __future__ import annotations


class PamedgeError(Exception):
    """Root of every error pamedge raises on purpose."""


class ConfigError(PamedgeError, ValueError):
    """A YAML file or option holds an unknown key or a bad value."""


class AudioError(PamedgeError, OSError):
    """An audio file cannot be read, or not as the deployment needs it."""


class CalibrationError(PamedgeError, ValueError):
    """A hydrophone calibration table or value is invalid."""


class MissingExtraError(PamedgeError, ImportError):
    """An optional feature needs a package that is not installed; the message gives the
    ``pip install`` line (the runtime on a buoy deliberately lacks, e.g., matplotlib)."""


class BundleError(PamedgeError, ValueError):
    """A model bundle is malformed, its files differ from its card, or it does not fit the
    deployment (frontend hash, sample rate)."""
