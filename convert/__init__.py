"""INT8 conversion of ``edge-train`` runs into self-describing bundles (``edge-convert``).

Workstation only (extra ``convert``): imports torch, onnx and litert-torch, which ``edge/``
never does.  The bundle contract is docs/reference/bundles.md.
"""
