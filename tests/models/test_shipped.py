"""The shipped bundles in models/ (issue 4 acceptance): each passed its accuracy gate, is fully
INT8 in both formats, passes edge-selftest on both backends, and loads against the deployment
that names it; narw-upcall through edge-detect gives the event figures its card states."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from edge.bundle import load_bundle
from edge.calibration import HydrophoneTable
from edge.classify import load_classifier
from edge.config import load_deployment
from edge.detect import RunOptions, detect
from edge.selftest import selftest
from tests.support.bundles import has_tflite_tools
from tests.support.data import DEPLOYMENTS, ROOT, shared_path

BUNDLES = sorted(p for p in (ROOT / "models").iterdir() if (p / "card.yaml").is_file())
BACKENDS = [
    "onnx",
    pytest.param(
        "tflite",
        marks=pytest.mark.skipif(not has_tflite_tools(), reason="ai-edge-litert is not installed (pamedge[tflite])"),
    ),
]


def card(path):
    return yaml.safe_load((path / "card.yaml").read_text())


def assert_within_one_event(got: dict, stated: dict, hours: float) -> None:
    """The card's figures were computed on the converting machine's kernels; another CPU's
    kernels may move a score by up to the golden tolerance, which can flip at most a
    borderline detection: equal on the same kind of CPU, within one event elsewhere."""
    one = 1 / max(1, got["tp"] + got["fp"]) + 1 / max(1, got["tp"] + got["fn"])
    for key in ("precision", "recall"):
        assert got[key] == pytest.approx(stated[key], abs=one), key
    assert got["fp_per_hour"] == pytest.approx(stated["fp_per_hour"], abs=1 / hours + 1e-6)


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name)
def test_bundle_is_portable_int8_with_a_stated_margin(path):
    c = card(path)
    assert c["quantisation"]["onnx"]["scheme"] == "u8s7"
    golden, gate, kernel = c["golden"], c["metrics"]["gate"], c["metrics"]["kernel_paths"]
    # 0.03 by default; narw-upcall's kernels need 0.06, multispecies' 0.05 (Makefile "models"),
    # raised to one output step's score change where that is larger (convert.portability): never
    # looser than needed, well under what a saturating kernel path moves scores by (0.2-0.85,
    # benchmarks/RESULTS.md), so the selftest still catches it
    one_step = (kernel.get("one_step_score_change") or {}).values()
    assert 0.03 <= golden["tolerance"] <= max([0.06, *one_step]) + 1e-4
    assert 0.015 <= gate["max_path_deviation"] <= 0.03
    steps = kernel.get("max_output_steps") or {}
    for f, paths in kernel["max_abs_deviation"].items():
        for p, d in paths.items():
            rounding = (steps.get(f) or {}).get(p)
            assert d <= gate["max_path_deviation"] or (rounding is not None and rounding <= 1.001), (f, p, d)
            assert d <= golden["tolerance"], (f, p, d)


@pytest.mark.slow
def test_selftest_passes_on_the_avx2_kernels_under_qemu():
    """edge-selftest --backend all for every shipped bundle on onnxruntime's and LiteRT's AVX2
    kernels (QEMU emulates no AVX-512), whatever this host's CPU."""
    import shutil

    from convert.kernels import QEMU, QEMU_CPU, cpu_kind

    if not cpu_kind().startswith("x86-64") or shutil.which(QEMU) is None:
        pytest.skip(f"needs an x86-64 host with {QEMU} (Debian qemu-user; make system-deps)")
    out = subprocess.run(
        [QEMU, "-cpu", QEMU_CPU, sys.executable, "-m", "edge.cli.selftest", "--backend", "all", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1200,
    )
    assert out.returncode == 0, out.stdout + out.stderr[-2000:]
    results = json.loads(out.stdout)["results"]
    assert {r["identity"].split("@")[0] for r in results} == {p.name for p in BUNDLES}
    assert all(r["passed"] for r in results) and len(results) == len(BUNDLES) * (1 + has_tflite_tools())


def test_the_three_models_ship():
    assert [p.name for p in BUNDLES] == ["beluga-demo", "multispecies", "narw-upcall"]


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name)
def test_bundle_windows_recordings_as_its_recipe_says(path):
    """The card's window policy (crop, scan hop, short-recording padding) is the recipe's
    ``inference:``: a recipe changed without its bundle rebuilt would train one way and run another."""
    from edge.crops import policy_of_card
    from training.config import load_config

    recipe = load_config(ROOT / "training" / "recipes" / f"{path.name}.yaml")
    assert policy_of_card(card(path)["window"], path.name) == recipe.inference.policy()


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name)
def test_bundle_passed_its_gate_and_is_fully_int8(path):
    c = card(path)
    assert c["metrics"]["gate"]["passed"] is True
    agreement = c["metrics"]["argmax_agreement"]
    assert min(agreement["onnx_int8"], agreement["tflite_int8"]) >= c["metrics"]["gate"]["min_agreement"]
    assert c["quantisation"]["float_ops"] == {"onnx": [], "tflite": []}
    sizes = {name: f["bytes"] for name, f in c["files"].items()}
    assert sizes["model.int8.onnx"] <= c["fp32"]["onnx_bytes"] / 3
    load_bundle(path)  # sizes and sha256 of every file against the card


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.name)
def test_selftest_passes_on_this_machine(path, kind):
    result = selftest(load_bundle(path), kind)
    assert result.passed, result.as_dict()


def test_edge_selftest_cli_checks_every_backend():
    out = subprocess.run(
        [sys.executable, "-m", "edge.cli.selftest", str(ROOT / "models" / "narw-upcall"), "--backend", "all", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    expected = ["onnx"] + (["tflite"] if has_tflite_tools() else [])
    assert [r["backend"] for r in report["results"]] == expected
    for r in report["results"]:
        assert r["passed"] and r["windows"] == 4 and r["identity"].startswith("narw-upcall@")
        assert max(r["max_abs_deviation"].values()) <= r["tolerance"]


@pytest.mark.parametrize(
    "deployment,bundle", [("narw-upcall", "narw-upcall"), ("multispecies", "multispecies"), ("beluga", "beluga-demo")]
)
def test_each_deployment_loads_its_default_model(deployment, bundle):
    classifier = load_classifier(load_deployment(DEPLOYMENTS / f"{deployment}.yaml"))
    assert classifier.identity.startswith(f"{bundle}@")


@pytest.fixture(scope="module")
def narw_recordings(tmp_path_factory):
    """The recordings the shipped narw-upcall was trained and gated on, as its recipe names them
    (both annotated days, background, and its synthetic calls regenerated from the seed)."""
    pytest.importorskip("torch", reason="the recipe's recordings are gathered by training/ (pamedge[train])")
    from training.config import load_config
    from training.sources import config_recordings

    shared_path("meridian-osmose-narw")  # skips without ../shared
    config = load_config(ROOT / "training" / "recipes" / "narw-upcall.yaml")
    return config_recordings(config, tmp_path_factory.mktemp("narw-run"))


@pytest.mark.slow
@pytest.mark.shared
@pytest.mark.parametrize("kind", BACKENDS)
def test_int8_narw_upcall_through_edge_detect_matches_its_card(narw_recordings, kind):
    """The card's metrics.events (the gate, on the recipe's recordings) reproduced through
    edge's runtime as edge-detect runs the bundle."""
    from training.evaluate import evaluate_bundle

    config = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    result = evaluate_bundle(
        ROOT / "models" / "narw-upcall",
        narw_recordings,
        config,
        HydrophoneTable.load(config.table_path()),
        backend=kind,
    )
    stated = card(ROOT / "models" / "narw-upcall")["metrics"]["events"][f"{kind}_int8"]
    assert_within_one_event(result["events"]["overall"], stated, result["events"]["hours"])


@pytest.mark.slow
@pytest.mark.shared
def test_edge_train_evaluate_on_a_bundle_is_edge_detect(tmp_path):
    """edge-train evaluate BUNDLE runs the INT8 file as edge-detect does: its events on the
    2009-03-28 recordings equal those of edge-detect's own detections."""
    pytest.importorskip("torch", reason="edge-train needs pamedge[train]")
    from training.annotations import read_csv
    from training.metrics import match_events
    from training.types import Annotation

    data = shared_path("meridian-osmose-narw", "task-2a", "data", "train")
    out = tmp_path / "evaluate.json"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from training.cli.train import main; main()",
            "evaluate",
            str(ROOT / "models" / "narw-upcall"),
            "--config",
            str(DEPLOYMENTS / "narw-upcall.yaml"),
            "--annotations",
            str(data / "annotations_train.csv"),
            "--audio-dir",
            str(data / "narw"),
            "--background",
            str(data / "background"),
            "--label",
            "1=upcall",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    events = json.loads(out.read_text())["events"]["overall"]
    config = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    report = detect(
        [data / "narw", data / "background"],
        tmp_path / "out",
        config,
        RunOptions(table=HydrophoneTable.load(config.table_path()), classifier=load_classifier(config)),
    )
    assert not report.failed
    found = [
        Annotation(Path(d.file).name, d.start_s, d.end_s, d.low_hz, d.high_hz, d.label)
        for f in report.files
        for d in report.full(f).detections
    ]
    truth = read_csv(data / "annotations_train.csv", labels={"1": "upcall"})
    direct = match_events(found, truth, hours=report.audio_s / 3600, classes=["upcall"])["overall"]
    assert (events["tp"], events["fp"], events["fn"]) == (direct["tp"], direct["fp"], direct["fn"])
    assert events["tp"] >= 40


@pytest.mark.slow
def test_edge_train_evaluate_needs_a_deployment_for_a_bundle():
    pytest.importorskip("torch", reason="edge-train needs pamedge[train]")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from training.cli.train import main; main()",
            "evaluate",
            str(ROOT / "models" / "narw-upcall"),
            "--annotations",
            str(ROOT / "README.md"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode != 0 and "give --config" in result.stderr


@pytest.mark.shared
@pytest.mark.parametrize("kind", BACKENDS)
def test_narw_upcall_hears_right_whales_of_other_sites_and_recorders(tmp_path, kind):
    """Four right-whale clips that no recipe of the project trains narw-upcall on (SanctSound
    GR01 at 48 kHz, PAMGuard's right-whale model input at 8 kHz, two southern right whale clips
    at 8 kHz): each gets an upcall through the INT8 bundle (their lowest best score 0.77 on
    this host), and PAMGuard's blue, minke and dolphin examples none (their best 0.07)."""
    pamguard = shared_path("pamguard-examples", "src")
    sounds = pamguard / "Resources" / "exampleSounds"
    whales = [
        shared_path("noaa-sanctsound", "files", "SanctSound_GR01_01_northatlanticrightwhale_20181227T060148Z.wav"),
        pamguard
        / "test"
        / "resources"
        / "rawDeepLearningClassifier"
        / "Generic"
        / "right_whale"
        / "right_whale_example.wav",
        sounds / "southern_right_whale_clip1.wav",
        sounds / "southern_right_whale_clip2.wav",
    ]
    others = [sounds / "Blue_whale.wav", sounds / "Minke_whale.wav", sounds / "dolphin_whistle.wav"]
    config = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    config = replace(config, model=replace(config.model, backend=kind))
    report = detect(
        whales + others,
        tmp_path,
        config,
        RunOptions(table=HydrophoneTable.load(config.table_path()), classifier=load_classifier(config)),
    )
    assert not report.failed
    upcalls = {Path(f.file).name: f.per_label().get("upcall", 0) for f in report.files}
    assert {w.name for w in whales} == {name for name, n in upcalls.items() if n >= 1}, upcalls
