"""Inference backends for a bundle's INT8 files, one interface (:class:`edge.types.Backend`).

``onnx`` runs ``model.int8.onnx`` with onnxruntime (a base dependency); ``tflite`` runs
``model.int8.tflite`` with ai-edge-litert, or tflite-runtime where only that exists (32-bit
ARM).  Each library is imported when a backend is opened, never before, so ``import edge``
and ROI-only runs stay free of them; a missing one raises :class:`MissingExtraError` with the
``pip install`` line.
"""

from __future__ import annotations

import importlib.util

from edge.bundle import Bundle
from edge.errors import ConfigError
from edge.types import Backend

KINDS = ("auto", "onnx", "tflite")


def has_onnxruntime() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def resolve_kind(kind: str, bundle: Bundle | None = None) -> str:
    """``auto`` -> ``onnx`` when onnxruntime is importable (and the bundle has an ONNX file),
    else ``tflite``."""
    if kind not in KINDS:
        raise ConfigError(f"backend={kind!r} is not one of {', '.join(KINDS)}")
    if kind != "auto":
        return kind
    has_onnx_file = bundle is None or "model.int8.onnx" in bundle.files
    return "onnx" if has_onnxruntime() and has_onnx_file else "tflite"


def open_backend(bundle: Bundle, kind: str = "auto", *, threads: int = 1) -> Backend:
    """A backend running ``bundle``'s file for ``kind`` with ``threads`` intra-op threads."""
    kind = resolve_kind(kind, bundle)
    if kind == "onnx":
        from edge.backends.onnx import OnnxBackend

        return OnnxBackend(bundle, threads=threads)
    from edge.backends.tflite import TfliteBackend

    return TfliteBackend(bundle, threads=threads)
