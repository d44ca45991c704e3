"""The runtime tests' bundles: the converter's tiny bundles (``tests/convert/conftest.py``),
trained for seconds on synthetic calls and converted by ``edge-convert``'s own code, so the
runtime is tested on the files the converter really writes (docs/bundles.md).

``single``: noise/upcall on the narw-upcall frontend (2 kHz).  ``multi``: two named heads
(``whistle``: none/whistle, ``hf_call``: none/hf_pulsed) on a 32 kHz beluga-like deployment,
returned with that deployment's YAML.  Both are built once per session; tests skip with the
reason when the train/convert extras are missing.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.convert.conftest import tiny_bundle, tiny_run


def has_tflite_tools() -> bool:
    return importlib.util.find_spec("ai_edge_litert") is not None


def single(tmp_path_factory) -> Path:
    return tiny_bundle(tmp_path_factory, "single")


def multi(tmp_path_factory) -> tuple[Path, Path]:
    """The multi-output bundle and the deployment YAML its run was trained with."""
    bundle = tiny_bundle(tmp_path_factory, "multi_output")
    return bundle, tiny_run(tmp_path_factory, "multi_output").parent / "beluga.yaml"
