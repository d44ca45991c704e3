"""Training: datasets built with edge's frontend, synthetic calls, models and ``edge-train``.

Needs the ``train`` extra (PyTorch); modules that do not use torch (annotations, synth,
datasets, splits) import without it.
"""
