"""edge.config: deployment YAML -> frozen, validated settings; unknown keys and bad values named."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import yaml

from edge.config import DeploymentConfig, load_deployment
from edge.errors import ConfigError
from edge.frontend import FrontendSpec
from tests.support.data import DEPLOYMENTS, HYDROPHONES


def write_yaml(tmp_path, text: str, name: str = "deploy.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_narw_upcall_deployment():
    config = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    assert (config.name, config.sample_rate, config.channel, config.block_s) == ("narw-upcall", 2000, 0, 60)
    assert config.frontend == FrontendSpec(nfft=256, hop=64, window="hann", fmin=0, fmax=500, sample_rate=2000)
    assert (config.roi.fmin, config.roi.fmax, config.roi.on_db, config.roi.off_db) == (45, 300, 5, 3)
    assert (config.roi.min_duration_s, config.roi.max_duration_s, config.roi.merge_gap_s) == (0.3, 10.0, 0.15)
    assert (config.roi.smooth_bins, config.roi.smooth_frames) == (3, 5)
    assert config.levels.period_s == 60
    assert config.calibration.default_db == -170
    assert config.table_path().resolve() == HYDROPHONES.resolve()
    assert config.source == str(DEPLOYMENTS / "narw-upcall.yaml")


def test_beluga_deployment():
    config = load_deployment(DEPLOYMENTS / "beluga.yaml")
    assert (config.name, config.sample_rate, config.block_s) == ("beluga", 96000, 10)
    assert config.frontend == FrontendSpec(nfft=1024, hop=512, fmin=1000, fmax=48000, sample_rate=96000)
    assert (config.roi.fmin, config.roi.fmax, config.roi.min_duration_s, config.roi.max_duration_s) == (
        1500,
        45000,
        0.05,
        5.0,
    )
    assert config.table_path().resolve() == HYDROPHONES.resolve()


def test_generic_deployment_binds_to_each_recording_rate():
    config = load_deployment(DEPLOYMENTS / "generic.yaml")
    assert config.name == "generic" and config.sample_rate is None
    assert config.frontend == FrontendSpec(nfft=1024, hop=512)
    assert config.frontend.sample_rate is None
    assert config.spec_for(48000) == FrontendSpec(nfft=1024, hop=512, sample_rate=48000)
    assert config.spec_for(96000).sample_rate == 96000
    assert (config.roi.fmin, config.roi.fmax, config.roi.max_duration_s) == (50, None, 10.0)
    assert config.table_path().resolve() == HYDROPHONES.resolve()


def test_bound_deployment_keeps_its_rate_whatever_the_recording():
    config = load_deployment(DEPLOYMENTS / "narw-upcall.yaml")
    assert config.spec_for(48000).sample_rate == 2000


def test_no_file_gives_the_built_in_generic_deployment():
    config = load_deployment(None)
    assert config == DeploymentConfig()
    assert config.table_path() is None


def test_table_path_absolute_and_without_source(tmp_path):
    path = write_yaml(tmp_path, f"calibration:\n  table: {HYDROPHONES}\n")
    assert load_deployment(path).table_path() == HYDROPHONES
    config = DeploymentConfig(calibration=dataclasses.replace(DeploymentConfig().calibration, table="h.yaml"))
    assert str(config.table_path()) == "h.yaml"


def test_unknown_top_level_key_names_key_and_file(tmp_path):
    path = write_yaml(tmp_path, "name: x\nsampel_rate: 2000\n")
    with pytest.raises(ConfigError, match=rf"^{path}: unknown key 'sampel_rate' \(known keys: .*sample_rate"):
        load_deployment(path)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("frontend", "nftt"),
        ("roi", "on_dB"),
        ("levels", "period"),
        ("calibration", "tabel"),
    ],
)
def test_unknown_section_key_names_key_section_and_file(tmp_path, section, key):
    path = write_yaml(tmp_path, f"{section}:\n  {key}: 1\n")
    with pytest.raises(ConfigError, match=rf"^{path}: {section}: unknown key '{key}'"):
        load_deployment(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("frontend: {nfft: 0}", r"frontend: nfft=0 must be >= 8"),
        ("frontend: {nfft: 256, hop: 512}", r"frontend: hop=512 must be <= nfft=256"),
        ("frontend: {window: kaiser}", r"frontend: window='kaiser' is not one of hann, hamming, blackman, rect"),
        ("roi: {on_db: 6, off_db: 10}", r"roi: off_db=10 must be <= on_db=6"),
        ("roi: {smooth_bins: 4}", r"roi: smooth_bins=4 must be odd"),
        ("roi: {smooth_frames: 0}", r"roi: smooth_frames=0 must be >= 1"),
        ("roi: {min_duration_s: 2, max_duration_s: 1}", r"roi: max_duration_s=1 must be > min_duration_s=2"),
        ("roi: {noise_window_s: 0.5, noise_segment_s: 1}", r"roi: noise_window_s=0.5 must be >= noise_segment_s=1"),
        ("levels: {period_s: 0}", r"levels: period_s=0 must be > 0"),
        ("sample_rate: 2k", r"sample_rate='2k' is not an integer"),
        ("sample_rate: 0", r"sample_rate=0 must be >= 1"),
        ("sample_rate: true", r"sample_rate=True is not an integer"),
        (
            "sample_rate: 2000\nfrontend: {fmax: 1500}",
            r"frontend\.fmax=1500 is above the Nyquist frequency of sample_rate=2000",
        ),
        ("sample_rate: 2000\nroi: {fmax: 1001}", r"roi\.fmax=1001 is above the Nyquist frequency of sample_rate=2000"),
        ("channel: -1", r"channel=-1 must be >= 0"),
        ("block_s: 0", r"block_s=0 must be >= 0.01"),
        ("block_s: .inf", r"block_s=inf is not a number"),
        ("name: ''", r"name='' must be 1-64 letters, digits"),
        ("roi: 5", r"roi: expected a mapping, got int"),
        ("calibration: {default_db: 170}", r"calibration: default_db: 170 is positive"),
        ("frontend: {sample_rate: 2000}", r"frontend: unknown key 'sample_rate' \(set sample_rate at the top level\)"),
        ("source: elsewhere.yaml", r"unknown key 'source'"),
    ],
)
def test_bad_values_are_rejected_naming_the_key_and_file(tmp_path, text, message):
    path = write_yaml(tmp_path, text + "\n")
    with pytest.raises(ConfigError, match=rf"^{path}: {message}"):
        load_deployment(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", r"expected a mapping of deployment settings"),
        ("", r"expected a mapping of deployment settings"),
        ("name: [unclosed\n", r"not valid YAML"),
    ],
)
def test_files_that_are_not_deployments(tmp_path, text, message):
    path = write_yaml(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"^{path}: {message}"):
        load_deployment(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match=r"absent\.yaml: cannot read deployment config"):
        load_deployment(tmp_path / "absent.yaml")


def test_config_error_is_a_value_error(tmp_path):
    path = write_yaml(tmp_path, "frontend: {nfft: 0}\n")
    with pytest.raises(ValueError):
        load_deployment(path)
    assert issubclass(ConfigError, ValueError)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        load_deployment(None).name = "other"


def test_hash_is_stable_and_independent_of_the_file_location(tmp_path):
    original = DEPLOYMENTS / "narw-upcall.yaml"
    a = load_deployment(original)
    assert a.hash == load_deployment(original).hash
    assert len(a.hash) == 16 and int(a.hash, 16) >= 0
    copy = tmp_path / "elsewhere.yaml"
    shutil.copy(original, copy)
    assert load_deployment(copy).hash == a.hash


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        (None, "block_s", 30),
        (None, "channel", 1),
        ("frontend", "hop", 128),
        ("frontend", "window", "hamming"),
        ("roi", "on_db", 11),
        ("roi", "merge_gap_s", 0.2),
        ("levels", "period_s", 30),
        ("calibration", "gain_db", 6),
    ],
)
def test_hash_changes_when_a_value_changes(tmp_path, section, key, value):
    data = yaml.safe_load((DEPLOYMENTS / "narw-upcall.yaml").read_text())
    (data if section is None else data[section])[key] = value
    changed = load_deployment(write_yaml(tmp_path, yaml.safe_dump(data)))
    assert changed.hash != load_deployment(DEPLOYMENTS / "narw-upcall.yaml").hash


def test_hash_does_not_depend_on_how_a_number_is_written(tmp_path):
    default = load_deployment(write_yaml(tmp_path, "name: x\n", "a.yaml"))
    explicit = load_deployment(write_yaml(tmp_path, "name: x\nblock_s: 10\nroi: {noise_window_s: 60.0}\n", "b.yaml"))
    assert explicit.as_dict() == default.as_dict()
    assert explicit.hash == default.hash
