"""Tethys documents: edge-detect --outputs tethys on real right-whale recordings with the
shipped model, validated against the schema transcription, effort split at gaps, and the
runs that cannot write Tethys refused before any processing."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from edge.cli.detect import main
from edge.tethys.documents import NAMESPACE, TethysError, detections_documents, effort_periods
from edge.tethys.types import Recording, Species
from edge.types import Detection
from tests.support.data import DEPLOYMENTS, shared_path

SCHEMA = Path(__file__).resolve().parents[3] / "edge" / "tethys" / "schema" / "tethys-subset.xsd"
NS = {"t": NAMESPACE}
UTC = dt.timezone.utc
SITE = "site:\n  latitude: 41.9\n  longitude: -70.3\n  depth_m: 20\n  name: Test site\n  instrument: MARU\n"


def deployment(tmp_path: Path, site: str = SITE) -> Path:
    text = (DEPLOYMENTS / "narw-upcall.yaml").read_text()
    text = text.replace("table: hydrophones", f"table: {DEPLOYMENTS.parent / 'hydrophones.yaml'}")
    path = tmp_path / "narw.yaml"
    path.write_text(text + site)
    return path


def validate(path: Path) -> ET.Element:
    xmlschema = pytest.importorskip("xmlschema")
    xmlschema.XMLSchema(str(SCHEMA)).validate(str(path))
    return ET.parse(path).getroot()


def test_edge_detect_writes_valid_deployment_and_detections(tmp_path):
    folder = shared_path("meridian-osmose-narw", "task-2a", "data", "train", "narw")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["--config", str(deployment(tmp_path)), "--outputs", "csv,tethys", str(folder), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    dep = validate(out / "tethys" / "narw-upcall_deployment.xml")
    assert dep.findtext("t:DeploymentDetails/t:Longitude", namespaces=NS) == "289.7"  # degrees east, 0-360
    assert dep.findtext("t:DeploymentDetails/t:Latitude", namespaces=NS) == "41.9"
    assert dep.findtext("t:SamplingDetails/t:Channel/t:Sampling/t:Regimen/t:SampleRate_kHz", namespaces=NS) == "2"
    assert dep.findtext("t:SamplingDetails/t:Channel/t:Start", namespaces=NS) == "2009-03-28T00:00:00.000Z"
    det = validate(out / "tethys" / "narw-upcall_detections_1.xml")
    assert not (out / "tethys" / "narw-upcall_detections_2.xml").exists()  # three files end to end: one stretch
    assert det.findtext("t:Effort/t:Start", namespaces=NS) == "2009-03-28T00:00:00.000Z"
    assert det.findtext("t:Effort/t:End", namespaces=NS) == "2009-03-28T00:45:00.000Z"
    assert [k.findtext("t:SpeciesId", namespaces=NS) for k in det.findall("t:Effort/t:Kind", NS)] == ["180537"]
    with open(out / "detections.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["label"] == "upcall"]
    found = det.findall("t:OnEffort/t:Detection", NS)
    assert len(found) == len(rows) > 0
    assert {d.findtext("t:SpeciesId", namespaces=NS) for d in found} == {"180537"}
    starts = sorted(d.findtext("t:Start", namespaces=NS) for d in found)
    assert starts[0][:19] == min(r["start_utc"] for r in rows)[:19]


@pytest.mark.parametrize(
    ("site", "extra", "message"),
    [
        ("", [], "has no site: section"),
        (SITE, ["--no-model"], "no model runs"),
    ],
)
def test_runs_that_cannot_write_tethys_are_refused_first(tmp_path, write_audio, site, extra, message):
    path = write_audio("x_20240501T000000Z.wav", [0.0] * 4000, 2000)
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(deployment(tmp_path, site)),
            *extra,
            "--outputs",
            "csv,tethys",
            str(path),
            "-o",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "o").exists()  # refused before any processing


def recording(start_min: float, minutes: float, path: str) -> Recording:
    start = dt.datetime(2024, 5, 1, tzinfo=UTC) + dt.timedelta(minutes=start_min)
    return Recording(path, start, minutes * 60, 2000, 16, 0, 0.0)


def detection(minute: float, label: str) -> Detection:
    t = dt.datetime(2024, 5, 1, tzinfo=UTC) + dt.timedelta(minutes=minute)
    return Detection("a.wav", 0, t.isoformat().replace("+00:00", "Z"), 0.0, 1.0, 50, 200, label, 0.9, 10.0, 100.0)


def test_effort_splits_at_gaps_and_detections_go_to_their_period(tmp_path):
    recs = [recording(0, 15, "a"), recording(15, 15, "b"), recording(60, 15, "c")]  # a gap 30-60 min
    periods = effort_periods(recs)
    assert [(p.start.minute, p.end.minute, p.files) for p in periods] == [(0, 30, ("a", "b")), (0, 15, ("c",))]
    species = {"upcall": Species(180537, "Eubalaena glacialis", "Upcall")}
    docs = detections_documents(
        "d", periods, [detection(5, "upcall"), detection(61, "upcall")], species, model="m@1", version="0"
    )
    assert [len(d.findall(f"{{{NAMESPACE}}}OnEffort/{{{NAMESPACE}}}Detection")) for d in docs] == [1, 1]
    for i, doc in enumerate(docs):
        path = tmp_path / f"{i}.xml"
        path.write_bytes(ET.tostring(doc, xml_declaration=True, encoding="utf-8"))
        validate(path)


def test_a_label_without_a_species_is_named():
    periods = effort_periods([recording(0, 15, "a")])
    species = {"upcall": Species(180537, "Eubalaena glacialis")}
    with pytest.raises(TethysError, match="label\\(s\\) gunshot have no ITIS number"):
        detections_documents("d", periods, [detection(1, "gunshot")], species, model="m@1", version="0")


def test_a_click_train_gives_its_count_and_ici_as_user_defined_parameters(tmp_path):
    periods = effort_periods([recording(0, 15, "a")])
    species = {"sperm": Species(180488, "Physeter macrocephalus", "Click")}
    train = dataclasses.replace(detection(2, "sperm"), clicks=14, ici_s=0.845)
    (doc,) = detections_documents("d", periods, [train, detection(3, "sperm")], species, model="m@1", version="0")
    found = doc.findall(f"{{{NAMESPACE}}}OnEffort/{{{NAMESPACE}}}Detection")
    defined = [d.find(f"{{{NAMESPACE}}}Parameters/{{{NAMESPACE}}}UserDefined") for d in found]
    assert [[(el.tag.split("}")[1], el.text) for el in u] for u in defined] == [
        [("SNR_dB", "10"), ("Clicks", "14"), ("ICI_s", "0.845")],
        [("SNR_dB", "10")],
    ]
    path = tmp_path / "train.xml"
    path.write_bytes(ET.tostring(doc, xml_declaration=True, encoding="utf-8"))
    validate(path)


def test_a_duty_cycled_xwav_is_effort_only_over_its_recording_periods(tmp_path):
    """A HARP's minute in every ten: one effort stretch per period, each on its own clock."""
    import numpy as np

    from tests.edge.test_xwav import xwav

    t0 = dt.datetime(2015, 7, 3, 14, 0, 0, tzinfo=UTC)
    later = t0 + dt.timedelta(minutes=10)
    rng = np.random.default_rng(6)
    raw = [(t0, 0.01 * rng.standard_normal(60 * 2000)), (later, 0.01 * rng.standard_normal(60 * 2000))]
    path = xwav(tmp_path / "duty.x.wav", raw, rate=2000)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["--config", str(deployment(tmp_path)), "--outputs", "tethys", str(path), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    stretches = [validate(out / "tethys" / f"narw-upcall_detections_{i}.xml") for i in (1, 2)]
    assert not (out / "tethys" / "narw-upcall_detections_3.xml").exists()
    assert [
        (d.findtext("t:Effort/t:Start", namespaces=NS), d.findtext("t:Effort/t:End", namespaces=NS)) for d in stretches
    ] == [
        ("2015-07-03T14:00:00.000Z", "2015-07-03T14:01:00.000Z"),
        ("2015-07-03T14:10:00.000Z", "2015-07-03T14:11:00.000Z"),
    ]


def two_minute_xwav(path: Path, *, lat: float = 32.6661, lon: float = -117.7441) -> Path:
    import numpy as np

    from tests.edge.test_xwav import xwav

    t0 = dt.datetime(2015, 7, 3, 14, 0, 0, tzinfo=UTC)
    rng = np.random.default_rng(7)
    return xwav(path, [(t0, 0.01 * rng.standard_normal(120 * 2000))], rate=2000, lat=lat, lon=lon)


def test_a_deployment_without_site_takes_its_xwavs_harp_site(tmp_path):
    """HARP recordings carry their site, experiment, position, depth and recorder in the harp
    chunk: the Tethys Deployment document takes them when the deployment has no site: section,
    and the section, where there is one, wins."""
    path = two_minute_xwav(tmp_path / "a.x.wav")
    runner = CliRunner()
    out = tmp_path / "out"
    result = runner.invoke(
        main, ["--config", str(deployment(tmp_path, "")), "--outputs", "tethys", str(path), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    dep = validate(out / "tethys" / "narw-upcall_deployment.xml")
    said = {
        key: dep.findtext(f"t:{key}", namespaces=NS)
        for key in ("Project", "Site", "Instrument/t:Type", "Instrument/t:InstrumentId")
    }
    assert said == {
        "Project": "SOCAL45",
        "Site": "SOCL",
        "Instrument/t:Type": "HARP",
        "Instrument/t:InstrumentId": "DL41",
    }
    assert float(dep.findtext("t:DeploymentDetails/t:Longitude", namespaces=NS)) == pytest.approx(242.2559)
    assert float(dep.findtext("t:DeploymentDetails/t:Latitude", namespaces=NS)) == pytest.approx(32.6661)
    assert dep.findtext("t:DeploymentDetails/t:DepthInstrument_m", namespaces=NS) == "800"
    result = runner.invoke(
        main, ["--config", str(deployment(tmp_path)), "--outputs", "tethys", str(path), "-o", str(tmp_path / "o2")]
    )
    assert result.exit_code == 0, result.output
    dep = validate(tmp_path / "o2" / "tethys" / "narw-upcall_deployment.xml")
    assert (dep.findtext("t:Site", namespaces=NS), dep.findtext("t:DeploymentDetails/t:Latitude", namespaces=NS)) == (
        "Test site",
        "41.9",
    )


@pytest.mark.parametrize(
    ("positions", "message"),
    [
        ([(32.6661, -117.7441), (33.1, -118.2)], "their XWAV headers name two sites"),
        ([(0.0, 0.0)], "no XWAV header names one"),  # an unset header is no position
    ],
)
def test_xwavs_naming_two_sites_or_none_are_refused_first(tmp_path, positions, message):
    paths = [two_minute_xwav(tmp_path / f"{k}.x.wav", lat=lat, lon=lon) for k, (lat, lon) in enumerate(positions)]
    out = tmp_path / "o"
    result = CliRunner().invoke(
        main, ["--config", str(deployment(tmp_path, "")), "--outputs", "csv,tethys", *map(str, paths), "-o", str(out)]
    )
    assert result.exit_code == 2 and message in result.output, result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
    assert not out.exists()  # refused before any processing
    if len(paths) > 1:
        assert str(paths[0]) in result.output and str(paths[1]) in result.output


def test_an_hmd_run_over_xwavs_of_two_sites_says_its_files_carry_no_position(tmp_path):
    paths = [
        two_minute_xwav(tmp_path / f"{k}.x.wav", lat=lat, lon=lon)
        for k, (lat, lon) in enumerate([(32.6661, -117.7441), (33.1, -118.2)])
    ]
    out = tmp_path / "o"
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(deployment(tmp_path, "")),
            "--outputs",
            "csv,hmd",
            "--no-model",
            *map(str, paths),
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    (note,) = json.loads((out / "run.json").read_text())["notes"]
    assert note.startswith("the soundscape files carry no position: ") and "name two sites" in note
    assert f"warning: {note}" in result.output
