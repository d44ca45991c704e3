"""The runtime tests' bundles: tiny bundles committed in tests/fixtures/bundles, written by
``edge-convert``'s own code (tests/fixtures/make_bundles.py rebuilds them), so the runtime is
tested on the files the converter really writes (docs/reference/bundles.md) and on no model trained
for the occasion.

``single``: noise/upcall on the narw-upcall frontend (2 kHz).  ``multi``: two named heads
(``whistle``: none/whistle, ``hf_call``: none/hf_pulsed) on a 32 kHz beluga-like deployment,
returned with that deployment's YAML.  ``scanning``: ``single`` with ``crop: scan`` in its
card (edge/crops.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bundles"


def has_tflite_tools() -> bool:
    return importlib.util.find_spec("ai_edge_litert") is not None


def single(tmp_path_factory=None) -> Path:
    return FIXTURES / "tiny-single"


def multi(tmp_path_factory=None) -> tuple[Path, Path]:
    """The multi-output bundle and the deployment YAML its run was trained with."""
    return FIXTURES / "tiny-multi-output", FIXTURES / "beluga-test.yaml"


def scanning(tmp_path_factory, scan_hop_s: float = 0.5) -> Path:
    """``single``'s files with a card asking for ``crop: scan`` (the card is not among the
    hashed files, so the copy verifies as the original does)."""
    path = tmp_path_factory.getbasetemp() / f"scanning-{scan_hop_s:g}"
    if not (path / "card.yaml").is_file():
        shutil.copytree(single(tmp_path_factory), path, dirs_exist_ok=True)
        card = yaml.safe_load((path / "card.yaml").read_text())
        card["window"] = {**card["window"], "crop": "scan", "scan_hop_s": scan_hop_s}
        (path / "card.yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    return path


def move_golden_reference(bundle: Path, key: str = "onnx_int8/logits", by: tuple[float, ...] = (2.0, -2.0)) -> None:
    """Move one golden reference of a bundle (a copy) and re-sign the card: what a CPU whose
    kernels compute other answers would see in ``edge-selftest``."""
    golden = dict(np.load(bundle / "golden.npz"))
    golden[key] = golden[key] + np.array(by, np.float32)
    np.savez(bundle / "golden.npz", **golden)
    card = yaml.safe_load((bundle / "card.yaml").read_text())
    data = (bundle / "golden.npz").read_bytes()
    card["files"]["golden.npz"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (bundle / "card.yaml").write_text(yaml.safe_dump(card))
