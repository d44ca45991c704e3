"""Bundles: loaded and verified against their cards, refused when they do not fit."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace

import pytest
import yaml

from edge.bundle import MODELS_ENV, load_bundle, resolve
from edge.classify import load_classifier
from edge.config import ModelSettings, load_deployment
from edge.errors import BundleError, ConfigError
from tests.support.bundles import single
from tests.support.data import DEPLOYMENTS


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return single(tmp_path_factory)


@pytest.fixture
def copy(tiny, tmp_path):
    """A private copy of the bundle to damage."""
    return shutil.copytree(tiny, tmp_path / "tiny")


def narw(**model):
    config = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    return replace(config, model=ModelSettings(**model))


def test_loads_with_identity_of_the_file_that_runs(tiny):
    bundle = load_bundle(tiny)
    for kind in ("onnx", "tflite"):
        digest = hashlib.sha256((tiny / f"model.int8.{kind}").read_bytes()).hexdigest()
        assert bundle.identity(kind) == f"tiny-single@{digest[:12]}"
    spec = load_deployment(DEPLOYMENTS / "narw-upcall.yaml").spec_for(2000)
    assert bundle.labels == {"upcall"} and bundle.spec_hash == spec.hash
    assert bundle.n_frames == int(round(2.0 / spec.hop_s))  # the run's window_s, as training crops it


def test_refused_on_another_frontend_naming_both_hashes(tiny):
    config = narw(bundle=str(tiny))
    other = replace(config, frontend=replace(config.frontend, nfft=512, hop=128))
    with pytest.raises(BundleError) as err:
        load_classifier(other)
    message = str(err.value)
    assert load_bundle(tiny).spec_hash in message and other.spec_for(2000).hash in message
    assert "nfft=256" in message and "nfft=512" in message  # what differs, in words


def test_refused_on_another_sample_rate_naming_both(tiny):
    config = narw(bundle=str(tiny))
    other = replace(config, sample_rate=4000, frontend=replace(config.frontend, sample_rate=4000))
    with pytest.raises(BundleError, match="expects sample rate 2000 Hz.*has 4000 Hz"):
        load_classifier(other)


def test_tampered_file_is_refused_naming_it(copy):
    data = bytearray((copy / "model.int8.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "model.int8.onnx").write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model\.int8\.onnx: sha256 .* differs from the card"):
        load_bundle(copy)


def test_truncated_and_missing_files_are_refused(copy):
    golden = copy / "golden.npz"
    golden.write_bytes(golden.read_bytes()[:100])
    with pytest.raises(BundleError, match=r"golden\.npz: 100 bytes, the card says"):
        load_bundle(copy)
    golden.unlink()
    with pytest.raises(BundleError, match=r"golden\.npz: listed in .* but missing"):
        load_bundle(copy)


def test_unknown_format_and_inconsistent_card_are_refused(copy):
    card = yaml.safe_load((copy / "card.yaml").read_text())
    (copy / "card.yaml").write_text(yaml.safe_dump({**card, "format": "pamedge-bundle/9"}))
    with pytest.raises(BundleError, match="format='pamedge-bundle/9', this runtime reads pamedge-bundle/1"):
        load_bundle(copy)
    card["frontend"]["hash"] = "0" * 16
    (copy / "card.yaml").write_text(yaml.safe_dump(card))
    with pytest.raises(BundleError, match="is not the hash of its spec"):
        load_bundle(copy)


def test_names_resolve_under_models_folders(tiny, tmp_path, monkeypatch):
    models = tmp_path / "repo" / "models"
    shutil.copytree(tiny, models / "narw-tiny")
    deployments = tmp_path / "repo" / "firmware-config" / "deployments"
    deployments.mkdir(parents=True)
    assert resolve("narw-tiny", relative_to=deployments) == (models / "narw-tiny").resolve()
    monkeypatch.setenv(MODELS_ENV, str(models))
    assert resolve("narw-tiny") == (models / "narw-tiny").resolve()
    with pytest.raises(BundleError, match="model 'nothing-here': no bundle"):
        resolve("nothing-here", relative_to=deployments)


def test_thresholds_and_rules_must_name_classes_of_the_model(tiny):
    with pytest.raises(ConfigError, match="thresholds: moan not a class of model tiny-single"):
        load_classifier(narw(bundle=str(tiny), thresholds={"moan": 0.5}))
