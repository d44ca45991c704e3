"""edge-detect with a model: the deployment's model by default, --model/--backend,
--no-model, and what run.json and the records say about the model."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
import yaml
from click.testing import CliRunner

from edge.cli.detect import main
from tests.support.bundles import has_tflite_tools, single
from tests.support.data import DEPLOYMENTS
from tests.support.signals import SR, upcalls


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return single(tmp_path_factory)


@pytest.fixture(scope="module")
def card(tmp_path_factory):
    folder = tmp_path_factory.mktemp("card")
    sf.write(str(folder / "calls.wav"), upcalls(90.0, 12, seed=6), SR, subtype="PCM_16")
    return folder


@pytest.fixture
def deployment(tmp_path, tiny):
    """narw-upcall.yaml naming the bundle by name, with models/ beside firmware-config/."""
    shutil.copytree(tiny, tmp_path / "models" / "narw-tiny")
    folder = tmp_path / "firmware-config" / "deployments"
    folder.mkdir(parents=True)
    shutil.copy(DEPLOYMENTS.parent / "hydrophones.yaml", folder.parent / "hydrophones.yaml")
    data = yaml.safe_load((DEPLOYMENTS / "narw-upcall.yaml").read_text())
    data.pop("run", None)
    data["model"] = {"bundle": "narw-tiny", "thresholds": {"upcall": 0.3}}
    path = folder / "narw-upcall.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def rows(outdir):
    with open(outdir / "detections.csv") as fh:
        return list(csv.DictReader(fh))


def test_deployment_model_classifies_by_default(card, deployment, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [str(card), "-o", str(out), "--config", str(deployment), "-q"])
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    model = run["model"]
    assert model["name"] == "tiny-single" and model["backend"] == "onnx" and model["thresholds"] == {"upcall": 0.3}
    assert model["identity"].startswith("tiny-single@") and len(model["identity"]) == len("tiny-single@") + 12
    assert run["config"]["settings"]["model"]["bundle"] == "narw-tiny"
    detections = rows(out)
    assert detections and {d["label"] for d in detections} == {"upcall"}
    assert {d["model"] for d in detections} == {model["identity"]}
    assert all(float(d["score"]) >= 0.3 for d in detections)
    assert len(detections) <= run["files"][0]["roi_count"]


def test_no_model_keeps_rois_and_changes_the_config_hash(card, deployment, tmp_path):
    runner = CliRunner()
    assert runner.invoke(main, [str(card), "-o", str(tmp_path / "a"), "--config", str(deployment), "-q"]).exit_code == 0
    result = runner.invoke(
        main, [str(card), "-o", str(tmp_path / "b"), "--config", str(deployment), "--no-model", "-q"]
    )
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "b" / "run.json").read_text())
    assert run["model"] is None
    detections = rows(tmp_path / "b")
    assert {d["label"] for d in detections} == {"roi"} and len(detections) == run["files"][0]["roi_count"]
    with_model = json.loads((tmp_path / "a" / "run.json").read_text())
    assert with_model["config"]["hash"] != run["config"]["hash"]


def test_no_model_anywhere_is_one_line(card, tmp_path):
    result = CliRunner().invoke(
        main, [str(card), "-o", str(tmp_path / "o"), "--config", str(DEPLOYMENTS / "generic.yaml")]
    )
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no classification model" in lines[0] and "--no-model" in lines[0]


def test_model_option_and_mismatched_bundle(card, tiny, tmp_path):
    out = tmp_path / "o"
    result = CliRunner().invoke(
        main, [str(card), "-o", str(out), "--config", str(DEPLOYMENTS / "narw-upcall.yaml"), "--model", str(tiny), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "run.json").read_text())["model"]["path"] == str(tiny.resolve())
    result = CliRunner().invoke(main, [str(card), "-o", str(tmp_path / "p"), "--model", str(tiny)])
    assert result.exit_code == 2
    assert "expects sample rate 2000 Hz" in result.stderr or "frontend" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.skipif(not has_tflite_tools(), reason="ai-edge-litert is not installed")
def test_onnx_and_tflite_backends_give_the_same_detections(card, deployment, tmp_path):
    outs = {}
    for kind in ("onnx", "tflite"):
        outs[kind] = tmp_path / kind
        result = CliRunner().invoke(
            main, [str(card), "-o", str(outs[kind]), "--config", str(deployment), "--backend", kind, "-q"]
        )
        assert result.exit_code == 0, result.output
    onnx, tflite = rows(outs["onnx"]), rows(outs["tflite"])
    by_start = {(d["start_s"], d["label"]): float(d["score"]) for d in tflite}
    matched = [
        (float(d["score"]), by_start[(d["start_s"], d["label"])])
        for d in onnx
        if (d["start_s"], d["label"]) in by_start
    ]
    assert len(matched) >= 0.98 * max(len(onnx), len(tflite)) and matched
    # two INT8 quantisations (onnxruntime's and PT2E's) of one FP32 model: close, not equal
    assert max(abs(a - b) for a, b in matched) <= 0.1
    assert json.loads((outs["tflite"] / "run.json").read_text())["model"]["file"] == "model.int8.tflite"
    assert np.all([d["model"].startswith("tiny-single@") for d in tflite])


def test_min_score_threads_and_batch_size_override_the_deployment(card, deployment, tmp_path):
    runner = CliRunner()
    base = runner.invoke(main, [str(card), "-o", str(tmp_path / "base"), "--config", str(deployment), "-q"])
    assert base.exit_code == 0, base.output
    strict = runner.invoke(
        main,
        [str(card), "-o", str(tmp_path / "strict"), "--config", str(deployment), "-q"]
        + ["--min-score", "0.7", "--threads", "2", "--batch-size", "5"],
    )
    assert strict.exit_code == 0, strict.output
    kept, every = rows(tmp_path / "strict"), rows(tmp_path / "base")
    assert kept and len(kept) < len(every) and all(float(r["score"]) >= 0.7 for r in kept)
    # the same ROIs scored alike: what --min-score keeps is what the default run scored >= 0.7
    assert sorted((r["file"], r["start_s"]) for r in kept) == sorted(
        (r["file"], r["start_s"]) for r in every if float(r["score"]) >= 0.7
    )
    run = json.loads((tmp_path / "strict" / "run.json").read_text())
    model = run["config"]["settings"]["model"]
    assert (model["threads"], model["batch_size"], model["thresholds"]) == (2, 5, {"upcall": 0.7})
    assert run["model"]["thresholds"] == {"upcall": 0.7}
    assert run["config"]["hash"] != json.loads((tmp_path / "base" / "run.json").read_text())["config"]["hash"]


def test_version_and_model_options_without_a_model(card, tmp_path):
    runner = CliRunner()
    version = runner.invoke(main, ["--version"], prog_name="edge-detect")
    assert version.exit_code == 0 and version.output.startswith("edge-detect (pamedge) ") and "Python" in version.output
    clash = runner.invoke(main, [str(card), "-o", str(tmp_path / "x"), "--no-model", "--min-score", "0.5"])
    assert clash.exit_code == 2 and "--no-model writes ROIs without a classifier" in clash.output


def test_a_run_with_no_detections_says_zero(deployment, tmp_path):
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    sf.write(str(quiet / "still.wav"), np.zeros(SR * 5, np.float32), SR)
    result = CliRunner().invoke(main, [str(quiet), "-o", str(tmp_path / "o"), "--config", str(deployment)])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines() if line.startswith("detections")]
    assert lines == [["detections", "0"]], result.stdout


def detector_only(deployment, **extra):
    """The fixture's deployment saying ``model: none``, with a clicks: section."""
    data = yaml.safe_load(deployment.read_text())
    data.update(model="none", clicks={"fmin": 100, "threshold_db": 8.5}, **extra)
    path = deployment.with_name("detector-only.yaml")
    path.write_text(yaml.safe_dump(data))
    return path


def test_model_none_runs_without_a_classifier_and_writes_the_clicks(card, deployment, tiny, tmp_path):
    path = detector_only(deployment)
    runner = CliRunner()
    result = runner.invoke(main, [str(card), "-o", str(tmp_path / "a"), "--config", str(path), "-q"])
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["model"] is None and "model" not in run["config"]["settings"]
    detections = rows(tmp_path / "a")
    assert detections and {d["label"] for d in detections} == {"roi"}
    assert (tmp_path / "a" / "clicks.csv").is_file()  # the product of a detector-only deployment
    # the same records, and hash, as --no-model: model: none is how a deployment says it
    result = runner.invoke(main, [str(card), "-o", str(tmp_path / "b"), "--config", str(path), "--no-model", "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "b" / "run.json").read_text())["config"]["hash"] == run["config"]["hash"]
    assert rows(tmp_path / "b") == detections
    # --model still classifies; a classifier's deployment writes clicks.csv only when asked
    result = runner.invoke(
        main, [str(card), "-o", str(tmp_path / "c"), "--config", str(path), "--model", str(tiny), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "c" / "run.json").read_text())["model"]["name"] == "tiny-single"
    assert {d["label"] for d in rows(tmp_path / "c")} <= {"upcall"}
    data = yaml.safe_load(path.read_text())
    data["model"] = {"bundle": "narw-tiny"}
    path.write_text(yaml.safe_dump(data))
    result = runner.invoke(main, [str(card), "-o", str(tmp_path / "d"), "--config", str(path), "-q"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "d" / "clicks.csv").exists() and (tmp_path / "d" / "detections.csv").is_file()


@pytest.mark.parametrize(
    ("extra", "args", "said"),
    [
        ({}, ["--min-score", "0.5"], "runs no classifier (model: none)"),
        ({"ranking": {"top_k": 2}}, [], "ranking: ranks a model's classes, but the deployment says model: none"),
        ({"detector_only": True}, [], "unknown key 'detector_only'"),
    ],
)
def test_model_none_refusals_are_one_line(card, deployment, tmp_path, extra, args, said):
    path = detector_only(deployment, **extra)
    result = CliRunner().invoke(main, [str(card), "-o", str(tmp_path / "o"), "--config", str(path), *args])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and said in lines[0] and not (tmp_path / "o" / "run.json").exists()
