"""Click types (edge.click_types): a click told by its measurements, the label of its train
where no classifier runs, and clicks of no type dropped when asked."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import soundfile as sf
import yaml
from click.testing import CliRunner

from edge.cli.detect import main
from edge.click_types import ClickType, click_types, train_type, type_of
from edge.clicks import Click, ClickSettings
from edge.config import from_settings, load_deployment
from edge.errors import ConfigError
from tests.support.data import DEPLOYMENTS, ROOT
from tests.support.signals import porpoise_clicks

RATE = 384_000
NOISE = 0.01


def click(peak_hz=130_000.0, centroid_hz=128_000.0, low3=124_000.0, high3=136_000.0, duration_s=1e-4):
    return Click(0.5, duration_s, peak_hz, centroid_hz, low3, high3, low3 - 5_000, high3 + 5_000, 150.0, 20.0)


NBHF = {"peak_hz": [100_000, 160_000], "centroid_hz": [100_000, None]}


def test_a_click_is_of_the_first_type_whose_ranges_all_hold_it():
    types = click_types({"nbhf": NBHF, "narrow": {"bandwidth3_hz": [None, 20_000]}, "any": {"duration_s": [0, 1]}})
    assert type_of(click(), types) == "nbhf"  # narrow holds it too: the first wins
    assert type_of(click(centroid_hz=80_000), types) == "narrow"  # a shrimp's broad spectrum pulls the centroid down
    assert type_of(click(peak_hz=40_000, centroid_hz=40_000, low3=10_000, high3=70_000), types) == "any"
    assert type_of(click(peak_hz=40_000, centroid_hz=40_000, low3=0, high3=100_000, duration_s=2.0), types) == ""
    # the strong clicks apart from the faint impulses between them, by SNR and level
    strong = click_types({"usual": {"snr_db": [18, None]}, "loud": {"received_level_db": [None, 140]}})
    assert type_of(click(), strong) == "usual"  # SNR 20 dB
    assert type_of(Click(0.5, 1e-3, 9e3, 9e3, 8e3, 1e4, 7e3, 1.1e4, 120.0, 9.0), strong) == "loud"
    assert type_of(Click(0.5, 1e-3, 9e3, 9e3, 8e3, 1e4, 7e3, 1.1e4, 150.0, 9.0), strong) == ""
    # ends are inclusive, and a null end is open
    assert ClickType("t", peak_hz=(130_000, 130_000)).holds(click())
    assert ClickType("t", peak_hz=(None, 129_999)).holds(click()) is False


def test_a_train_is_of_the_type_at_least_half_its_clicks_are_of():
    assert train_type(["nbhf", "nbhf", "", "broadband"]) == "nbhf"
    assert train_type(["nbhf", "", ""]) == ""
    assert train_type(["", "", ""]) == ""
    assert train_type([]) == ""
    # two types at exactly half: the one the deployment writes first, whatever came first in time
    assert train_type(["broadband", "nbhf", "nbhf", "broadband"], ["nbhf", "broadband"]) == "nbhf"
    assert train_type(["nbhf", "broadband"], ["broadband", "nbhf"]) == "broadband"


@pytest.mark.parametrize(
    ("types", "message"),
    [
        ({"nbhf": {"peak_hz": [160_000, 100_000]}}, "types: nbhf: peak_hz=[160000, 100000] must have low <= high"),
        ({"nbhf": {"peak": [1, 2]}}, "types: nbhf: unknown key 'peak'"),
        ({"nbhf": {"peak_hz": [1, 2, 3]}}, "must be [low, high]"),
        ({"nbhf": {"peak_hz": [None, None]}}, "give low, high or both"),
        ({"nbhf": {"peak_hz": [-1, 2]}}, "peak_hz"),
        ({"nbhf": {}}, "types: nbhf: nbhf: give at least one of"),
        ({"a,b": NBHF}, "must not hold a comma"),
        (["nbhf"], "is not a click type"),
        ("nbhf", "must map a type's name to its ranges"),
    ],
)
def test_a_bad_type_is_refused_in_one_line_naming_it(tmp_path, types, message):
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump({"name": "d", "sample_rate": RATE, "clicks": {"types": types}, "model": "none"}))
    with pytest.raises(ConfigError) as err:
        load_deployment(path)
    assert message in str(err.value) and "clicks" in str(err.value) and "\n" not in str(err.value)


def test_dropping_clicks_of_no_type_needs_types():
    with pytest.raises(ConfigError, match="unclassified: drop needs types"):
        ClickSettings(unclassified="drop")
    with pytest.raises(ConfigError, match="must be keep or drop"):
        ClickSettings(types={"nbhf": NBHF}, unclassified="discard")


def test_types_keep_the_hash_of_a_deployment_without_them_and_survive_its_settings(tmp_path):
    plain = {"name": "d", "sample_rate": RATE, "clicks": {"fmin": 2000}, "model": "none"}
    (tmp_path / "plain.yaml").write_text(yaml.safe_dump(plain))
    typed = {**plain, "clicks": {"fmin": 2000, "types": {"nbhf": NBHF}, "unclassified": "drop"}}
    (tmp_path / "typed.yaml").write_text(yaml.safe_dump(typed))
    a, b = load_deployment(tmp_path / "plain.yaml"), load_deployment(tmp_path / "typed.yaml")
    assert "types" not in a.as_dict()["clicks"] and a.hash == load_deployment(tmp_path / "plain.yaml").hash
    assert b.hash != a.hash
    again = from_settings(yaml.safe_load(yaml.safe_dump(b.as_dict())))  # as run.json and cluster tasks carry it
    assert again.clicks == b.clicks and again.hash == b.hash


@pytest.fixture(scope="module")
def porpoise_and_shrimp(tmp_path_factory):
    """Six seconds at 384 kHz: a porpoise's narrow-band 130-kHz clicks every 70 ms, 14-20 dB over
    white noise, and 60 broadband bursts (snapping shrimp) between them."""
    rng = np.random.default_rng(31)
    times = np.arange(0.5, 5.5, 0.07)
    x = porpoise_clicks(rng, 6, times, NOISE, RATE)
    bursts = times[:60] + 0.035  # half-way between two porpoise clicks
    for at in bursts:
        i = int(at * RATE)
        x[i : i + 20] += rng.uniform(0.05, 0.2) * rng.standard_normal(20)
    path = tmp_path_factory.mktemp("porpoise") / "porpoise.wav"
    sf.write(path, x.astype(np.float32), RATE, subtype="FLOAT")
    return path, times, bursts


def run(tmp_path, recording, clicks, name="out"):
    deployment = tmp_path / f"{name}.yaml"
    deployment.write_text(yaml.safe_dump({"name": "porpoise", "clicks": clicks, "model": "none"}))
    out = tmp_path / name
    result = CliRunner().invoke(main, [str(recording), "-o", str(out), "--config", str(deployment), "-q"])
    assert result.exit_code == 0, result.output
    with open(out / "clicks.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(out / "detections.csv", newline="") as fh:
        trains = [r for r in csv.DictReader(fh) if r["clicks"]]
    return rows, trains


def near(rows, times, tol=0.002):
    return [r for r in rows if np.min(np.abs(float(r["time_s"]) - times)) < tol]


def test_porpoise_clicks_are_typed_and_their_train_takes_the_type_as_its_label(tmp_path, porpoise_and_shrimp):
    recording, times, bursts = porpoise_and_shrimp
    rows, trains = run(tmp_path, recording, {"fmin": 2000, "types": {"nbhf": NBHF}})
    porpoise, shrimp = near(rows, times), near(rows, bursts)
    assert len(porpoise) >= 0.95 * len(times) and len(shrimp) >= 0.8 * len(bursts)
    assert sum(r["type"] == "nbhf" for r in porpoise) >= 0.9 * len(porpoise)
    assert sum(r["type"] == "nbhf" for r in shrimp) <= 0.2 * len(shrimp)
    assert [t["label"] for t in trains] == ["nbhf"]  # one train, more than half of it porpoise


def test_clicks_of_no_type_are_dropped_when_asked(tmp_path, porpoise_and_shrimp):
    recording, times, bursts = porpoise_and_shrimp
    kept, _ = run(tmp_path, recording, {"fmin": 2000, "types": {"nbhf": NBHF}})
    rows, trains = run(tmp_path, recording, {"fmin": 2000, "types": {"nbhf": NBHF}, "unclassified": "drop"}, "drop")
    assert rows and all(r["type"] == "nbhf" for r in rows)
    assert [float(r["time_s"]) for r in rows] == [float(r["time_s"]) for r in kept if r["type"] == "nbhf"]
    assert [t["label"] for t in trains] == ["nbhf"] and int(trains[0]["clicks"]) == len(rows)


def test_without_types_the_type_column_is_empty_and_trains_are_rois(tmp_path, porpoise_and_shrimp):
    recording, _, _ = porpoise_and_shrimp
    rows, trains = run(tmp_path, recording, {"fmin": 2000})
    assert rows and all(r["type"] == "" for r in rows)
    assert trains and all(t["label"] == "roi" for t in trains)


def test_the_bundled_sperm_whales_usual_clicks_by_their_snr_alone(tmp_path):
    """A real recording: under the clicks deployment the bundled SanctSound clip holds the whale's
    six usual clicks (18-25 dB over the floor) and faint impulses between them (8-14 dB); a type by
    SNR with the rest dropped leaves the whale's train, at its 0.83-s interval."""
    sperm = ROOT / "examples" / "species" / "SanctSound_HI03_02_spermwhale_20191216T115715Z.wav"
    clicks = yaml.safe_load((DEPLOYMENTS / "clicks.yaml").read_text())["clicks"]
    clicks |= {"min_separation_s": 0.02, "types": {"usual": {"snr_db": [18, None]}}, "unclassified": "drop"}
    rows, trains = run(tmp_path, sperm, clicks)
    assert [round(float(r["time_s"]), 1) for r in rows] == [0.5, 1.3, 2.2, 3.0, 3.9, 4.7]
    assert [t["label"] for t in trains] == ["usual"] and float(trains[0]["ici_s"]) == pytest.approx(0.83, abs=0.01)
