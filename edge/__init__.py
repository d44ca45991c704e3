"""pamedge runtime: calibrated spectrograms, ROI detection and detection records on the buoy.

Importing this package loads nothing heavy: NumPy and friends are imported by the modules
that need them, and inference backends only when a model is used.
"""

__version__ = "0.1.0"
