"""The on-device proof of a bundle: its golden vectors through this CPU and backend.

The converter stored the standardised input windows and the logits each INT8 file gave on
the converting machine (``golden.npz``, docs/reference/bundles.md).  Here the same windows run through
the chosen backend; the largest absolute difference of the activated scores, per output,
must stay within the card's ``golden.tolerance``.  A port that computes wrong answers on one
CPU and not another fails here, before a deployment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge.bundle import GOLDEN, Bundle
from edge.classify import activate
from edge.errors import BundleError
from edge.types import Backend


@dataclass
class SelftestResult:
    bundle: str
    backend: str
    identity: str
    tolerance: float
    deviation: dict[str, float] = field(default_factory=dict)  # output -> max abs score deviation
    deviation_fp32: dict[str, float] = field(default_factory=dict)  # the same against FP32 torch
    windows: int = 0

    @property
    def passed(self) -> bool:
        return all(d <= self.tolerance for d in self.deviation.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle,
            "backend": self.backend,
            "identity": self.identity,
            "windows": self.windows,
            "tolerance": self.tolerance,
            "max_abs_deviation": self.deviation,
            "max_abs_deviation_fp32": self.deviation_fp32,
            "passed": self.passed,
        }


def selftest(bundle: Bundle, kind: str, *, threads: int = 1) -> SelftestResult:
    """Run ``bundle``'s golden windows through backend ``kind`` (onnx or tflite)."""
    from edge.backends import open_backend

    return golden_test(bundle, open_backend(bundle, kind, threads=threads))


def golden_test(bundle: Bundle, backend: Backend) -> SelftestResult:
    """Run ``bundle``'s golden windows through ``backend``, one already opened on its file."""
    path = bundle.path / GOLDEN
    try:
        with np.load(path) as data:
            golden = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: cannot read the golden vectors: {exc}") from None
    if "input" not in golden:
        raise BundleError(f"{path}: no 'input' array")
    x = golden["input"].astype(np.float32)
    got = backend.run(x)
    result = SelftestResult(bundle.name, backend.kind, bundle.identity(backend.kind), bundle.tolerance, windows=len(x))
    for o in bundle.outputs:
        ref = golden.get(f"{backend.kind}_int8/{o.name}")
        if ref is None:
            raise BundleError(f"{path}: no reference '{backend.kind}_int8/{o.name}' for output {o.name}")
        scores = activate(got[o.name], o.activation)
        result.deviation[o.name] = float(np.max(np.abs(scores - activate(ref, o.activation)), initial=0.0))
        fp32 = golden.get(f"fp32/{o.name}")
        if fp32 is not None:
            result.deviation_fp32[o.name] = float(np.max(np.abs(scores - activate(fp32, o.activation)), initial=0.0))
    return result
