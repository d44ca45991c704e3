"""FP32 ONNX export: the same logits as torch on standardised windows, metadata stored; the
float-op checker finds the float ops an FP32 file has (so an empty list means something)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from tests.support.tiny_models import tiny_run

pytestmark = pytest.mark.slow  # trains a tiny model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import torch

    from convert.bundle import _metadata
    from convert.card import window
    from convert.export import export_fp32
    from convert.run import load_run

    run = load_run(tiny_run(tmp_path_factory, "single"))
    _, x = run.held_out()
    fp32 = export_fp32(run.graph, x, _metadata(run, window(run)))
    with torch.no_grad():  # the training model, standardising inside, on the raw windows
        idx = np.flatnonzero([r.group in set(run.split["test"]) for r in run.dataset.refs])
        reference = run.model(torch.from_numpy(run.dataset.x[idx])).numpy()
    return run, fp32, x, reference


def test_fp32_onnx_equals_torch_on_standardised_windows(exported):
    from convert.infer import OnnxModel, batched

    run, fp32, x, reference = exported
    assert len(x) >= 10
    got = batched(OnnxModel(fp32, ["logits"]), x)["logits"]
    np.testing.assert_allclose(got, reference, atol=1e-4)
    # dynamic batch: one window at a time gives the same
    np.testing.assert_allclose(OnnxModel(fp32, ["logits"])(x[:1])["logits"], reference[:1], atol=1e-4)


def test_fp32_onnx_carries_the_model_contract_as_metadata(exported):
    run, fp32, _, _ = exported
    meta = {p.key: json.loads(p.value) for p in onnx.load_from_string(fp32).metadata_props}
    frontend = json.loads((run.path / "frontend.json").read_text())
    assert meta["frontend_hash"] == frontend["hash"] and meta["frontend_spec"] == frontend["spec"]
    assert meta["sample_rate"] == 2000 and meta["window_s"] == 2.0
    assert meta["hop_s"] == pytest.approx(frontend["spec"]["hop"] / 2000)
    assert meta["outputs"] == {"logits": {"classes": ["noise", "upcall"], "activation": "softmax", "negative": "noise"}}


def test_float_op_check_reports_float_compute_ops(exported, tmp_path):
    import torch

    from convert.float_ops import onnx_float_ops, tflite_float_ops

    _, fp32, _, _ = exported
    ops = onnx_float_ops(fp32)
    assert any(op.startswith("Conv ") for op in ops) and any(op.startswith("Gemm ") for op in ops)
    import litert_torch

    litert_torch._config.config.show_progress = False
    float_tflite = litert_torch.convert(torch.nn.Sequential(torch.nn.Linear(4, 3)).eval(), (torch.zeros(1, 4),))
    float_tflite.export(str(tmp_path / "f.tflite"))
    assert any(op.startswith("FULLY_CONNECTED") for op in tflite_float_ops((tmp_path / "f.tflite").read_bytes()))
