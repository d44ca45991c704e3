"""edge-convert end to end on tiny models: fully INT8 files, card, golden vectors, heads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.support.tiny_models import tiny_bundle, tiny_run

pytestmark = pytest.mark.slow  # trains and converts tiny models


def card_of(bundle):
    return yaml.safe_load((bundle / "card.yaml").read_text())


def test_bundle_holds_the_contract_files(bundle):
    assert sorted(p.name for p in bundle.iterdir()) == [
        "card.yaml",
        "golden.npz",
        "model.int8.onnx",
        "model.int8.tflite",
    ]
    assert not [p for p in bundle.parent.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_int8_files_have_no_float_compute_ops(bundle):
    from convert.float_ops import onnx_float_ops, tflite_float_ops

    onnx_bytes = (bundle / "model.int8.onnx").read_bytes()
    tflite_bytes = (bundle / "model.int8.tflite").read_bytes()
    assert onnx_float_ops(onnx_bytes) == [] and tflite_float_ops(tflite_bytes) == []
    assert card_of(bundle)["quantisation"]["float_ops"] == {"onnx": [], "tflite": []}
    import onnx

    ops = {n.op_type for n in onnx.load_from_string(onnx_bytes).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops
    meta = {p.key: json.loads(p.value) for p in onnx.load_from_string(onnx_bytes).metadata_props}
    assert meta["frontend_hash"] == card_of(bundle)["frontend"]["hash"] and meta["task"] == "single"


def test_card_fields_and_hashes_match_the_files(bundle, single_run):
    card = card_of(bundle)
    for name, entry in card["files"].items():
        data = (bundle / name).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    frontend = json.loads((single_run / "frontend.json").read_text())
    assert card["format"] == "pamedge-bundle/1" and card["name"] == bundle.name
    assert card["frontend"] == {"spec": frontend["spec"], "hash": frontend["hash"]}
    assert card["sample_rate"] == 2000 and card["task"] == "single" and card["negative"] == "noise"
    assert card["outputs"] == {"logits": {"classes": ["noise", "upcall"], "activation": "softmax", "negative": "noise"}}
    golden = np.load(bundle / "golden.npz")
    assert card["window"]["n_frames"] == golden["input"].shape[1] == round(2.0 / card["window"]["hop_s"])
    assert card["window"]["n_features"] == golden["input"].shape[2]
    assert card["window"]["crop"] == "centre"  # the run's recipe has no inference: section
    assert card["input"]["standardise"] == {"scale_db": 20.0}
    metrics = card["metrics"]
    assert metrics["gate"]["passed"]  # with the tests' open limits (conftest.GATE_OPEN)
    paths = metrics["kernel_paths"]
    assert set(paths["agreement"]["onnx_int8"]) >= {"reference"} and paths["cpu"]
    assert metrics["argmax_agreement"]["onnx_int8"] == min(paths["agreement"]["onnx_int8"].values())
    assert card["quantisation"]["onnx"]["scheme"] == "u8s7"
    assert set(metrics["events"]) == {"fp32", "onnx_int8", "tflite_int8"}
    assert card["fp32"]["onnx_bytes"] > card["files"]["model.int8.onnx"]["bytes"]
    assert card["latency_ms"]["onnx_int8"] > 0 and card["latency_ms"]["tflite_int8"] > 0
    assert card["thresholds"] == {"upcall": 0.5}
    assert (Path.cwd() / card["training"]["run"]).resolve() == single_run.resolve()  # relative: no machine path ships


def test_tflite_input_and_output_are_int8_with_the_cards_quantisation(bundle):
    from ai_edge_litert.interpreter import Interpreter

    card = card_of(bundle)
    it = Interpreter(model_path=str(bundle / "model.int8.tflite"))
    (inp,) = it.get_input_details()
    assert inp["dtype"] == np.int8 and tuple(inp["shape"])[0] == 1
    assert inp["quantization"] == pytest.approx(
        (card["input"]["tflite"]["scale"], card["input"]["tflite"]["zero_point"])
    )
    outs = {o["name"]: o for o in it.get_output_details()}
    for q in card["tflite_outputs"].values():
        assert outs[q["name"]]["dtype"] == np.int8
        assert outs[q["name"]]["quantization"] == pytest.approx((q["scale"], q["zero_point"]))


def _activate(logits, activation):
    if activation == "sigmoid":
        return 1 / (1 + np.exp(-logits))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _run_files(bundle, x):
    """Logits per output of both files, computed here from the card alone (as edge-selftest will)."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    card = card_of(bundle)
    names = list(card["outputs"])
    session = ort.InferenceSession(str(bundle / "model.int8.onnx"), providers=["CPUExecutionProvider"])
    onnx_out = dict(zip(names, session.run(names, {"input": x})))
    it = Interpreter(model_path=str(bundle / "model.int8.tflite"))
    it.allocate_tensors()
    q_in = card["input"]["tflite"]
    index = {o["name"]: o["index"] for o in it.get_output_details()}
    tfl = {n: [] for n in names}
    for w in x:
        it.set_tensor(
            it.get_input_details()[0]["index"],
            np.clip(np.round(w / q_in["scale"]) + q_in["zero_point"], -128, 127).astype(np.int8)[None],
        )
        it.invoke()
        for n in names:
            q = card["tflite_outputs"][n]
            tfl[n].append((it.get_tensor(index[q["name"]])[0].astype(np.float32) - q["zero_point"]) * q["scale"])
    return onnx_out, {n: np.stack(v) for n, v in tfl.items()}


@pytest.mark.parametrize("head", ["single", "multi_label", "multi_output", "members", "bands", "time_max"])
def test_golden_vectors_reproduce_with_onnxruntime_and_litert(tmp_path_factory, head):
    bundle = tiny_bundle(tmp_path_factory, head)
    card = card_of(bundle)
    golden = np.load(bundle / "golden.npz")
    assert golden["input"].dtype == np.float16 and len(golden["input"]) == 4  # synthetic, float16-exact
    x = golden["input"].astype(np.float32)
    onnx_out, tfl_out = _run_files(bundle, x)
    from convert.kernels import onnx_session

    reference = onnx_session(str(bundle / "model.int8.onnx"), reference=True)
    ref_out = dict(zip(card["outputs"], reference.run(list(card["outputs"]), {"input": x})))
    for name, out in card["outputs"].items():
        # the ONNX golden is the file's reference arithmetic, whatever CPU converted it; this
        # CPU's fused kernels stay within the gate's path limit of it
        np.testing.assert_allclose(ref_out[name], golden[f"onnx_int8/{name}"], atol=1e-5)
        assert (
            np.abs(
                _activate(onnx_out[name], out["activation"]) - _activate(golden[f"onnx_int8/{name}"], out["activation"])
            ).max()
            <= 0.015
        )
        np.testing.assert_allclose(tfl_out[name], golden[f"tflite_int8/{name}"], atol=1e-5)
        fp32 = _activate(golden[f"fp32/{name}"], out["activation"])
        for got in (onnx_out[name], tfl_out[name]):
            assert (
                np.abs(_activate(got, out["activation"]) - fp32).max() <= 0.1
            )  # INT8 follows FP32 on the golden windows


def test_every_head_type_converts_multi_output_gives_one_output_per_head(tmp_path_factory):
    import onnx

    card = card_of(tiny_bundle(tmp_path_factory, "multi_output"))
    assert card["task"] == "multi_output" and card["negative"] is None
    assert card["outputs"] == {
        "whistle": {"classes": ["none", "whistle"], "activation": "softmax", "negative": "none"},
        "hf_call": {"classes": ["none", "hf_pulsed"], "activation": "softmax", "negative": "none"},
    }
    graph = onnx.load(str(tiny_bundle(tmp_path_factory, "multi_output") / "model.int8.onnx")).graph
    assert [o.name for o in graph.output] == list(card["outputs"]) == ["hf_call", "whistle"]  # the config's order
    assert set(card["tflite_outputs"]) == {"whistle", "hf_call"}
    assert len({q["name"] for q in card["tflite_outputs"].values()}) == 2
    assert card["thresholds"] == {"whistle": 0.5, "hf_pulsed": 0.5}
    # the event-level gate ran on the held-out recordings, both heads' detections pooled
    assert set(card["metrics"]["events"]) == {"fp32", "onnx_int8", "tflite_int8"}
    ml = card_of(tiny_bundle(tmp_path_factory, "multi_label"))
    assert ml["task"] == "multi_label" and ml["outputs"]["logits"]["activation"] == "sigmoid"
    assert ml["metrics"]["gate"]["passed"]


def test_the_runs_crop_policy_goes_into_the_card_and_the_gate(tmp_path_factory):
    """A run whose recipe says inference: {crop: scan}: the card's window names it, the gate
    evaluated the events with it, and the runtime reads it."""
    from edge.bundle import load_bundle
    from edge.crops import CropPolicy, policy_of_card

    out = tiny_bundle(tmp_path_factory, "scan")
    card = card_of(out)
    assert card["window"]["crop"] == "scan" and card["window"]["scan_hop_s"] == 0.5
    assert policy_of_card(load_bundle(out).card["window"], "card") == CropPolicy("scan", 0.5)
    assert card["metrics"]["gate"]["passed"]
    assert set(card["metrics"]["events"]) == {"fp32", "onnx_int8", "tflite_int8"}  # evaluated by scanning


def _fp32_onnx_and_int8_files_hold(exported, x, logits, bundle):
    """The graph's FP32 ONNX export gives torch's ``logits``; the bundle's INT8 files have no float op."""
    import onnxruntime as ort

    from convert.export import export_fp32
    from convert.float_ops import onnx_float_ops, tflite_float_ops

    fp32 = export_fp32(exported, x, {})
    got = ort.InferenceSession(fp32, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, logits, atol=1e-4)
    assert onnx_float_ops((bundle / "model.int8.onnx").read_bytes()) == []
    assert tflite_float_ops((bundle / "model.int8.tflite").read_bytes()) == []


@pytest.mark.parametrize("head", ["bands", "time_max"])
def test_frequency_bands_export_fully_int8_with_the_training_models_logits(tmp_path_factory, head):
    import torch

    from convert.graph import Exported, torch_logits
    from training.loop import load_model

    run, bundle = tiny_run(tmp_path_factory, head), tiny_bundle(tmp_path_factory, head)
    model, _ = load_model(run)
    assert model.settings.time_pool == ("max" if head == "time_max" else "mean")
    assert model.head.in_features == 16 * 3  # the last stage's 16 channels in 3 bands
    x = np.load(bundle / "golden.npz")["input"].astype(np.float32)
    with torch.no_grad():
        reference = model.network(torch.from_numpy(x).unsqueeze(1)).numpy()
    logits = torch_logits(Exported(model), x)["logits"]
    np.testing.assert_allclose(logits, reference, atol=1e-5)
    _fp32_onnx_and_int8_files_hold(Exported(model), x, logits, bundle)


def test_members_become_one_fully_int8_file_whose_logits_are_their_mean(tmp_path_factory):
    import torch

    from convert.graph import Exported, torch_logits
    from training.loop import load_model

    run, bundle = tiny_run(tmp_path_factory, "members"), tiny_bundle(tmp_path_factory, "members")
    model, _ = load_model(run)
    assert len(model.members) == 3
    x = np.load(bundle / "golden.npz")["input"].astype(np.float32)
    raw = torch.from_numpy(np.random.default_rng(0).normal(-60, 10, (4, *x.shape[1:])).astype(np.float32))
    with torch.no_grad():
        each = torch.stack([m.network(model.standardise(raw)) for m in model.members])
        assert torch.allclose(model(raw), each.mean(dim=0), atol=1e-5)  # evaluation: the members' mean
        model.train()
        assert model(raw).shape == (3, 4, 2)  # training: each member's own logits
        model.eval()
    exported = Exported(model)
    logits = torch_logits(exported, x)["logits"]
    with torch.no_grad():
        each = torch.stack([m.network(torch.from_numpy(x).unsqueeze(1)) for m in model.members])
    np.testing.assert_allclose(logits, each.mean(dim=0).numpy(), atol=1e-5)
    _fp32_onnx_and_int8_files_hold(exported, x, logits, bundle)
    assert card_of(bundle)["quantisation"]["float_ops"] == {"onnx": [], "tflite": []}
