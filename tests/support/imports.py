"""Which modules a fresh interpreter has loaded after a given import: the runtime must never
load the heavy training and conversion stacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import edge

PACKAGE_DIR = Path(edge.__file__).resolve().parent
HEAVY = (
    "numpy",
    "scipy",
    "torch",
    "onnx",
    "onnxruntime",
    "tensorflow",
    "litert_torch",
    "ai_edge_litert",
    "tflite_runtime",
    "matplotlib",
)


NEVER_IN_THE_CLI = (
    "torch",
    "onnx",
    "onnxruntime",
    "tensorflow",
    "litert_torch",
    "ai_edge_litert",
    "tflite_runtime",
    "matplotlib",
    "scipy.signal",
    "dask",
    "distributed",
)


REPORT = "import json, sys; print(json.dumps(sorted(sys.modules)))"


def modules_after(code: str) -> set[str]:
    """Names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{REPORT}"], capture_output=True, text=True, cwd=PACKAGE_DIR.parent, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules for name in names if m == name or m.startswith(name + "."))
