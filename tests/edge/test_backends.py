"""Backends: one interface, the same scores, imported only when used."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edge.backends import open_backend, resolve_kind
from edge.bundle import load_bundle
from edge.classify import activate
from tests.support.bundles import has_tflite_tools, multi, single

needs_tflite = pytest.mark.skipif(
    not has_tflite_tools(), reason='ai-edge-litert is not installed (pip install "pamedge[tflite]")'
)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return load_bundle(single(tmp_path_factory))


@pytest.fixture(scope="module")
def windows(bundle):
    rng = np.random.default_rng(5)
    return rng.normal(0.0, 1.0, (37, bundle.n_frames, bundle.n_features)).astype(np.float32)


def test_auto_is_onnx_when_onnxruntime_is_installed(bundle):
    assert resolve_kind("auto", bundle) == "onnx"


def test_batched_equals_one_window_at_a_time(bundle, windows):
    backend = open_backend(bundle, "onnx", threads=2)
    whole = backend.run(windows)["logits"]
    single = np.concatenate([backend.run(windows[i : i + 1])["logits"] for i in range(len(windows))])
    assert whole.shape == (37, 2)
    np.testing.assert_allclose(whole, single, atol=1e-6)


@needs_tflite
def test_onnx_and_tflite_agree_within_005(bundle, windows):
    onnx = activate(open_backend(bundle, "onnx").run(windows)["logits"], "softmax")
    tflite_backend = open_backend(bundle, "tflite")
    tflite = activate(tflite_backend.run(windows)["logits"], "softmax")
    assert tflite.shape == onnx.shape == (37, 2)
    assert np.abs(onnx - tflite).max() <= 0.05
    assert tflite_backend.file == "model.int8.tflite"


@needs_tflite
def test_multi_output_heads_come_back_by_name(tmp_path_factory):
    bundle = load_bundle(multi(tmp_path_factory)[0])
    x = np.random.default_rng(2).normal(size=(3, bundle.n_frames, bundle.n_features)).astype(np.float32)
    golden = np.load(bundle.path / "golden.npz")
    for kind in ("onnx", "tflite"):
        backend = open_backend(bundle, kind)
        out = backend.run(golden["input"])
        assert set(out) == {"whistle", "hf_call"}
        assert out["whistle"].shape == (len(golden["input"]), 2) and out["hf_call"].shape[1] == 2
        for name in out:  # each head's logits where the converter saw them: no heads swapped
            np.testing.assert_allclose(out[name], golden[f"{kind}_int8/{name}"], atol=1e-5)
        assert backend.run(x)["hf_call"].shape == (3, 2)


@pytest.mark.parametrize(
    "kind, module, hint", [("onnx", "onnxruntime", "onnxruntime"), ("tflite", "ai_edge_litert", "pamedge[tflite]")]
)
def test_missing_backend_names_the_pip_line(bundle, kind, module, hint):
    code = (
        f"import sys\nsys.modules[{module!r}] = None\nsys.modules['tflite_runtime'] = None\n"
        "from edge.bundle import load_bundle\nfrom edge.backends import open_backend\n"
        "from edge.errors import MissingExtraError\n"
        f"try:\n    open_backend(load_bundle({str(bundle.path)!r}), {kind!r})\n"
        "except MissingExtraError as exc:\n    print(exc)\nelse:\n    print('no error')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "pip install" in result.stdout and hint in result.stdout, result.stdout + result.stderr
