"""The deployment's ``model:`` section: validated on load, part of the config hash."""

from __future__ import annotations

import pytest
import yaml

from edge.config import from_settings, load_deployment
from edge.errors import ConfigError
from tests.support.data import DEPLOYMENTS


def with_model(tmp_path, model) -> str:
    data = yaml.safe_load((DEPLOYMENTS / "narw-upcall.yaml").read_text())
    data.pop("run", None)
    if model is None:
        data.pop("model", None)
    else:
        data["model"] = model
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_model_section_loads_and_round_trips(tmp_path):
    path = with_model(
        tmp_path,
        {
            "bundle": "narw-upcall",
            "backend": "tflite",
            "threads": 2,
            "batch_size": 8,
            "thresholds": {"upcall": 0.7},
            "rules": {"ignore": ["moan"], "labels": {"upcall": {"min_snr_db": 12, "band_hz": [50, 300]}}},
        },
    )
    config = load_deployment(path)
    m = config.model
    assert (m.bundle, m.backend, m.threads, m.batch_size, m.thresholds) == (
        "narw-upcall",
        "tflite",
        2,
        8,
        {"upcall": 0.7},
    )
    assert m.rules.ignore == ("moan",) and m.rules.labels["upcall"].band_hz == (50, 300)
    assert from_settings(config.as_dict()).hash == config.hash


def test_model_is_part_of_the_hash_and_absent_keeps_the_old_one(tmp_path):
    plain = load_deployment(with_model(tmp_path, None))
    assert "model" not in plain.as_dict()
    a = load_deployment(with_model(tmp_path, {"bundle": "narw-upcall"}))
    b = load_deployment(with_model(tmp_path, {"bundle": "narw-upcall", "thresholds": {"upcall": 0.6}}))
    assert len({plain.hash, a.hash, b.hash}) == 3


@pytest.mark.parametrize(
    "model, message",
    [
        ({"bundle": "x", "backnd": "onnx"}, "model: unknown key 'backnd'"),
        ({"bundle": "x", "backend": "gpu"}, "backend='gpu' is not one of auto, onnx, tflite"),
        ({"bundle": "x", "threads": 0}, "threads=0 must be >= 1"),
        ({"bundle": "x", "thresholds": {"upcall": 1.5}}, "thresholds: upcall=1.5 must be <= 1"),
        ({"bundle": "x", "rules": {"labels": {"upcall": {"band_hz": [300, 50]}}}}, "must have high > low"),
        (
            {"bundle": "x", "rules": {"labels": {"upcall": {"min_snr": 3}}}},
            "rules: labels: upcall: unknown key 'min_snr'",
        ),
    ],
)
def test_bad_model_settings_name_the_file_and_key(tmp_path, model, message):
    path = with_model(tmp_path, model)
    with pytest.raises(ConfigError) as err:
        load_deployment(path)
    assert path in str(err.value) and message in str(err.value)
