"""Tiny trained runs and their bundles, built once per session (the converter's tests; see
tests/convert/conftest.py for why their gate is open)."""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


_RUNS: dict = {}  # per session: head -> run folder
_BUNDLES: dict = {}  # per session: head -> bundle folder
DEPLOYMENT = ROOT / "firmware-config" / "deployments" / "narw-upcall.yaml"


_SYNTH = {"recordings": 6, "duration_s": 40, "sample_rate": 2000, "snr_db": [6, 15]}


CONFIGS = {
    "single": {
        "classes": ["noise", "upcall"],
        "model": {"width": 8, "depth": 2},
        "data": {"synthetic": {**_SYNTH, "calls": {"upcall": 6}}},
    },
    "multi_label": {
        "classes": ["noise", "upcall"],
        "model": {"width": 8, "depth": 2, "head": "multi_label"},
        "data": {"synthetic": {**_SYNTH, "calls": {"upcall": 6}}},
    },
    # single, three networks whose mean logits are the model (model.members)
    "members": {
        "classes": ["noise", "upcall"],
        "model": {"width": 8, "depth": 2, "members": 3},
        "data": {"synthetic": {**_SYNTH, "calls": {"upcall": 6}}},
    },
    # single, the pooled map kept in three frequency bands (17 bins: uneven, overlapping slices)
    "bands": {
        "classes": ["noise", "upcall"],
        "model": {"width": 8, "depth": 2, "freq_bands": 3},
        "data": {"synthetic": {**_SYNTH, "calls": {"upcall": 6}}},
    },
    # single, each band's strongest moment over time instead of its mean (model.time_pool)
    "time_max": {
        "classes": ["noise", "upcall"],
        "model": {"width": 8, "depth": 2, "freq_bands": 3, "time_pool": "max"},
        "data": {"synthetic": {**_SYNTH, "calls": {"upcall": 6}}},
    },
    # single with the scanning crop policy (edge/crops.py) in its recipe
    "scan": {
        "classes": ["noise", "upcall"],
        "model": {"width": 8, "depth": 2},
        "data": {"synthetic": {**_SYNTH, "calls": {"upcall": 6}}},
        "inference": {"crop": "scan", "scan_hop_s": 0.5},
    },
    # beluga-like: two named heads at 32 kHz (the deployment below)
    "multi_output": {
        "classes": ["noise", "whistle", "hf_pulsed"],
        "deployment": "beluga.yaml",
        "window_s": 1.0,
        "model": {
            "width": 8,
            "depth": 2,
            "head": "multi_output",
            "outputs": {"whistle": ["none", "whistle"], "hf_call": ["none", "hf_pulsed"]},
        },
        "data": {
            "synthetic": {
                "recordings": 5,
                "duration_s": 15,
                "sample_rate": 32000,
                "calls": {"whistle": 3, "hf_pulsed": 3},
                "snr_db": [8, 15],
            },
            "negatives_per_recording": 6,
            "hard_negatives": False,
        },
    },
}


BELUGA = """
name: beluga-test
sample_rate: 32000
block_s: 5
frontend: {nfft: 512, hop: 512, fmin: 1000, fmax: 12500}
roi: {fmin: 1500, fmax: 12000, min_duration_s: 0.1, noise_window_s: 10, noise_segment_s: 0.5}
"""


def _needs_convert() -> None:
    pytest.importorskip("torch", reason="needs the train/convert extras")
    pytest.importorskip("litert_torch", reason="needs the convert extra")
    pytest.importorskip("ai_edge_litert", reason="needs the tflite extra")


# the gate computed and written to the card, but unable to refuse a bundle
GATE_OPEN = {"min_agreement": 0.0, "max_event_delta": 1.0, "golden_margin": 1.0, "golden_tolerance": 0.999}


def train_tiny(folder: Path, head: str = "single") -> Path:
    """Train the tiny ``head`` run into ``folder``/run (``folder`` also gets its YAML files)."""
    import torch

    from training.config import load_config
    from training.loop import train

    torch.set_num_threads(1)
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "out": "run",
        "deployment": str(DEPLOYMENT),
        "window_s": 2.0,
        "seed": 7,
        "split": {"val": 0.2, "test": 0.2},
        "train": {"epochs": 5, "batch_size": 32, "patience": 5, "threads": 1, "steps_per_epoch": 8, "progress": False},
        **CONFIGS[head],
    }
    (folder / "beluga.yaml").write_text(BELUGA)
    (folder / "train.yaml").write_text(yaml.safe_dump(config))
    train(load_config(folder / "train.yaml"))
    return folder / "run"


def tiny_run(tmp_path_factory, head: str = "single") -> Path:
    """A finished edge-train run folder of a tiny model with ``head`` (trained once per session)."""
    _needs_convert()
    if head not in _RUNS:
        _RUNS[head] = train_tiny(tmp_path_factory.mktemp(f"run-{head}"), head)
    return _RUNS[head]


# The heads whose conversion also runs the emulated AVX2 kernel path (qemu, about 7 s a bundle
# on a VNNI host): one is enough to test that the card records it (test_bundle.py), the path
# itself is tested in test_kernels.py and on the shipped models; the other heads' tests are about
# what the converter writes for their graphs, and the card says why their path was not checked.
EMULATED_HEADS = {"single"}


@contextmanager
def without_emulated_path():
    """Conversions in this block skip the gate's emulated AVX2 path (qemu, seconds each); the
    card says why it was not checked."""
    from convert import kernels

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernels, "emulated_avx2_reason", lambda: "not emulated in this test")
        yield


def tiny_bundle(tmp_path_factory, head: str = "single") -> Path:
    """A bundle folder (docs/reference/bundles.md) converted from :func:`tiny_run` (once per session)."""
    if head not in _BUNDLES:
        from convert.bundle import convert_run
        from convert.types import ConvertOptions

        run = tiny_run(tmp_path_factory, head)
        out = tmp_path_factory.mktemp(f"models-{head}") / f"tiny-{head.replace('_', '-')}"
        options = ConvertOptions(calibration_windows=128, golden_windows=4, latency_repeats=10, **GATE_OPEN)
        with nullcontext() if head in EMULATED_HEADS else without_emulated_path():
            _BUNDLES[head] = convert_run(run, out, options)[0]
    return _BUNDLES[head]
