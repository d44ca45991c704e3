"""edge-shore export --tethys: the deployment's records with effort from its health
records (the dropped recording's period off effort), valid against the schema transcription."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from edge.cli.sync import main as sync_main
from edge.tethys.documents import NAMESPACE
from shore.cli import main as shore_main
from tests.shore.test_health import KEY, recordings, write_daemon_log
from tests.support.telemetry import make_detections

ROOT = Path(__file__).resolve().parents[2]
NS = {"t": NAMESPACE}


def bundle_with_gunshots(tmp_path: Path) -> Path:
    """narw-upcall's bundle whose card also maps the telemetry fixture's gunshot label."""
    copy = tmp_path / "bundle"
    shutil.copytree(ROOT / "models" / "narw-upcall", copy)
    card = yaml.safe_load((copy / "card.yaml").read_text())
    card["species"]["gunshot"] = {"tsn": 180537, "name": "Eubalaena glacialis", "call": "Gunshot"}
    (copy / "card.yaml").write_text(yaml.safe_dump(card))
    return copy


def test_tethys_export_from_the_shore_database(tmp_path):
    xmlschema = pytest.importorskip("xmlschema")
    batches = recordings(make_detections(120, mean_gap_s=55))
    write_daemon_log(tmp_path / "daemon.sqlite", batches)
    (tmp_path / "key").write_text(KEY)
    (tmp_path / "keys.yaml").write_text(f"buoy-1: {KEY}\n")
    runner = CliRunner()
    args = [
        "pack",
        str(tmp_path / "daemon.sqlite"),
        "-o",
        str(tmp_path / "frames"),
        "--key-file",
        str(tmp_path / "key"),
    ]
    assert runner.invoke(sync_main, args).exit_code == 0
    db = str(tmp_path / "shore.sqlite")
    args = ["ingest", str(tmp_path / "frames"), "--db", db, "--keys", str(tmp_path / "keys.yaml")]
    assert runner.invoke(shore_main, args).exit_code == 0
    config = tmp_path / "buoy.yaml"
    config.write_text("name: buoy-1\nsample_rate: 2000\nsite:\n  latitude: 42.0\n  longitude: -70.0\n  depth_m: 30\n")
    out = tmp_path / "tethys"
    args = [
        "export",
        "--db",
        db,
        "--tethys",
        str(out),
        "--config",
        str(config),
        "--model",
        str(bundle_with_gunshots(tmp_path)),
    ]
    result = runner.invoke(shore_main, args)
    assert result.exit_code == 0, result.output
    schema = xmlschema.XMLSchema(str(ROOT / "edge" / "tethys" / "schema" / "tethys-subset.xsd"))
    docs = sorted(out.glob("buoy-1_detections_*.xml"))
    for path in [out / "buoy-1_deployment.xml", *docs]:
        schema.validate(str(path))
    deployment = ET.parse(out / "buoy-1_deployment.xml").getroot()
    assert deployment.find("t:Data", NS) is None  # no audio files ashore: no folder named
    assert (
        deployment.findtext("t:SamplingDetails/t:Channel/t:Sampling/t:Regimen/t:SampleRate_kHz", namespaces=NS) == "2"
    )
    # health rows follow each 10-min recording by 1 s: on effort from the first (00:10:01) to the stop
    # after the 7th recording (01:10:00); off while the 8th was dropped; on again from 01:20:01
    assert len(docs) == 2
    efforts = [ET.parse(p).getroot().find("t:Effort", NS) for p in docs]
    spans = [(e.findtext("t:Start", namespaces=NS)[11:16], e.findtext("t:End", namespaces=NS)[11:16]) for e in efforts]
    assert spans == [("00:10", "01:10"), ("01:20", "02:00")]
    n = sum(len(ET.parse(p).getroot().findall("t:OnEffort/t:Detection", NS)) for p in docs)
    on = [("2026-03-28T00:10:01", "2026-03-28T01:10:00"), ("2026-03-28T01:20:01", "2026-03-28T02:00:01")]
    in_effort = [d for b in batches for d in b if any(a <= d.start_utc[:19] <= z for a, z in on)]
    assert 0 < n == len(in_effort) < sum(len(b) for b in batches)


def test_tethys_export_needs_the_deployment(tmp_path):
    (tmp_path / "db.sqlite").write_bytes(b"")
    result = CliRunner().invoke(
        shore_main, ["export", "--db", str(tmp_path / "db.sqlite"), "--tethys", str(tmp_path / "t")]
    )
    assert result.exit_code == 2 and "--tethys needs --config" in result.output
