"""edge-train with a multi-output model: two named heads (beluga-like hf_call and whistle)."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from training.config import load_config
from training.loop import train
from training.types import TrainConfigError

pytestmark = pytest.mark.slow  # trains multi-output models

torch.set_num_threads(1)

DEPLOYMENT = """
name: beluga-test
sample_rate: 32000
block_s: 5
frontend: {nfft: 512, hop: 512, fmin: 1000, fmax: 12500}
roi: {fmin: 1500, fmax: 12000, min_duration_s: 0.1, noise_window_s: 10, noise_segment_s: 0.5}
"""


def config(tmp_path, outputs):
    (tmp_path / "beluga.yaml").write_text(DEPLOYMENT)
    data = {
        "out": "run",
        "deployment": "beluga.yaml",
        "classes": ["noise", "whistle", "hf_pulsed"],
        "window_s": 1.0,
        "seed": 3,
        "data": {
            "synthetic": {
                "recordings": 4,
                "duration_s": 15,
                "sample_rate": 32000,
                "calls": {"whistle": 3, "hf_pulsed": 3},
                "snr_db": [8, 15],
            },
            "negatives_per_recording": 6,
            "hard_negatives": False,
        },
        "split": {"val": 0.25, "test": 0.25},
        "model": {"width": 8, "depth": 2, "head": "multi_output", "outputs": outputs},
        "train": {"epochs": 6, "batch_size": 16, "steps_per_epoch": 10, "lr": 0.003, "patience": 6, "progress": False},
    }
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path)


def test_two_named_heads_train_and_report_per_head(tmp_path):
    metrics = train(config(tmp_path, {"hf_call": ["none", "hf_pulsed"], "whistle": ["none", "whistle"]}))
    heads = metrics["windows"]["heads"]
    assert set(heads) == {"hf_call", "whistle"}
    assert metrics["windows"]["balanced_accuracy"] >= 0.9
    text = (tmp_path / "run" / "confusion.csv").read_text()
    assert "hf_call: truth\\predicted,none,hf_pulsed" in text and "whistle: truth\\predicted,none,whistle" in text
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["windows"]["heads"]["whistle"]["n"] > 0


def test_a_class_in_no_head_is_an_error(tmp_path):
    with pytest.raises(TrainConfigError, match=r"classes \['hf_pulsed'\] are in no head"):
        train(config(tmp_path, {"a": ["none", "whistle"], "b": ["none", "other"]}))


def test_evaluate_scores_each_head_over_whole_recordings(tmp_path, capsys):
    from training.cli.train import main

    train(config(tmp_path, {"hf_call": ["none", "hf_pulsed"], "whistle": ["none", "whistle"]}))
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as info:
        main(["evaluate", str(run), "--annotations", str(run / "synthetic" / "annotations.csv")])
    assert info.value.code == 0
    assert "hf_call: precision" in capsys.readouterr().out
    result = json.loads((run / "evaluate.json").read_text())
    events = result["events"]
    assert set(events["heads"]) == {"hf_call", "whistle"} and set(events["per_class"]) == {"hf_pulsed", "whistle"}
    for head, label in (("hf_call", "hf_pulsed"), ("whistle", "whistle")):
        m = events["heads"][head]
        assert m["tp"] + m["fn"] == 12  # 4 recordings x 3 calls of the head's one call type
        assert m["tp"] == events["per_class"][label]["tp"]
    assert events["overall"]["recall"] >= 0.6
    assert set(result["windows"]["heads"]) == {"hf_call", "whistle"}
