"""Acceptance: a card with broken files among good ones.  Good files are processed, bad ones
are listed with one-line reasons, the exit code is 1 and nothing crashes."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
from click.testing import CliRunner

from edge.cli.detect import main
from tests.support.data import DEPLOYMENTS


def _card(tmp_path, write_audio, rng):
    card = tmp_path / "card"
    sr = 8000
    call = np.zeros(sr * 20)
    t = np.arange(sr) / sr
    call[sr * 8 : sr * 9] = 0.3 * np.sin(2 * np.pi * (1000 * t + 500 * t**2))  # 1 -> 2 kHz sweep
    noise = lambda: 0.01 * rng.standard_normal(sr * 20)  # noqa: E731
    good = {
        "20240501_120000.wav": (call + noise(), "PCM_16"),
        "20240501_120020.wav": (noise(), "PCM_24"),
        "20240501_120040.wav": (call + noise(), "FLOAT"),
        "20240501_120100.flac": (call + noise(), "PCM_16"),
    }
    for name, (x, subtype) in good.items():
        write_audio(name, x, sr, subtype, folder=card)
    write_audio("20240501_120120.wav", np.stack([call + noise(), noise()], axis=1), sr, "PCM_16", folder=card)
    truncated = write_audio("20240501_120140.wav", call + noise(), sr, "PCM_16", folder=card)
    os.truncate(truncated, truncated.stat().st_size // 2)
    (card / "20240501_120200.wav").write_bytes(b"")
    (card / "20240501_120220.wav").write_text("this is a field note, not audio\n")
    corrupt = card / "20240501_120240.wav"
    corrupt.write_bytes(b"RIFF" + rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    return card


def test_bad_files_are_reported_and_good_ones_processed(tmp_path, write_audio, rng):
    card = _card(tmp_path, write_audio, rng)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, [str(card), "-o", str(out), "--no-model", "--config", str(DEPLOYMENTS / "generic.yaml")]
    )
    assert result.exit_code == 1, result.output
    run = json.loads((out / "run.json").read_text())
    status = {os.path.basename(f["file"]): f for f in run["files"]}
    assert len(status) == 9
    ok = {n for n, f in status.items() if f["status"] == "ok"}
    assert ok == {
        "20240501_120000.wav",
        "20240501_120020.wav",
        "20240501_120040.wav",
        "20240501_120100.flac",
        "20240501_120120.wav",
    }
    reasons = {n: f["reason"] for n, f in status.items() if f["status"] == "failed"}
    assert "truncated" in reasons["20240501_120140.wav"]
    assert "empty file" in reasons["20240501_120200.wav"]
    assert "not a readable audio file" in reasons["20240501_120220.wav"]
    assert "not a readable audio file" in reasons["20240501_120240.wav"]
    for name, reason in reasons.items():
        assert "\n" not in reason and name in reason
        assert any(line.startswith("failed:") and name in line for line in result.stderr.splitlines())
    assert run["totals"] == {**run["totals"], "ok": 5, "failed": 4}
    # files are taken in recording-time order and the good ones have their outputs
    assert [os.path.basename(f["file"]) for f in run["files"]] == sorted(status, key=lambda n: n[:15])
    with open(out / "detections.csv") as fh:
        found = {os.path.basename(r["file"]) for r in csv.DictReader(fh)}
    assert {"20240501_120000.wav", "20240501_120040.wav", "20240501_120100.flac", "20240501_120120.wav"} <= found
    assert sorted(p.name for p in (out / "raven").iterdir()) == sorted(
        [n.rsplit(".", 1)[0] + ".selections.txt" for n in ok] + ["all.selections.txt"]
    )
    assert run["files"][4]["channels"] == 2 and run["files"][1]["subtype"] == "PCM_24"


def test_truncated_file_can_be_accepted(tmp_path, write_audio, rng):
    card = _card(tmp_path, write_audio, rng)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            str(card / "20240501_120140.wav"),
            "-o",
            str(out),
            "--no-model",
            "--allow-truncated",
            "--config",
            str(DEPLOYMENTS / "generic.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["files"][0]["status"] == "ok" and 9.0 < run["files"][0]["audio_s"] < 10.1
    # the run says which file was cut short (issue 15, case 20), in run.json and on stderr
    said = [w for w in run["files"][0]["warnings"] if "truncated WAV: header declares" in w]
    assert len(said) == 1 and "20240501_120140.wav" in said[0] and "samples present" in said[0]
    assert "warning: " in result.stderr and "truncated WAV" in result.stderr


def test_a_recording_whose_header_was_never_finalised_is_read_as_present_when_allowed(tmp_path, write_audio, rng):
    """A recorder that lost power before closing its file leaves the header's sizes at 0: refused
    with the way to read it, and with --allow-truncated analysed as the same audio finalised."""
    import struct

    card = _card(tmp_path, write_audio, rng)
    whole = card / "20240501_120000.wav"
    data = bytearray(whole.read_bytes())
    at = data.index(b"data")
    data[4:8] = data[at + 4 : at + 8] = struct.pack("<I", 0)
    lost = tmp_path / "lost" / "20240501_120000.wav"
    lost.parent.mkdir()
    lost.write_bytes(bytes(data))
    base = ["--no-model", "--config", str(DEPLOYMENTS / "generic.yaml")]
    refused = CliRunner().invoke(main, [str(lost), "-o", str(tmp_path / "refused"), *base])
    assert refused.exit_code == 1
    assert "never finalised (sizes 0)" in refused.stderr and "--allow-truncated" in refused.stderr
    rows = {}
    for name, path in (("lost", lost), ("whole", whole)):
        result = CliRunner().invoke(main, [str(path), "-o", str(tmp_path / name), "--allow-truncated", *base])
        assert result.exit_code == 0, result.output
        with open(tmp_path / name / "detections.csv", newline="") as fh:
            rows[name] = [{k: v for k, v in r.items() if k != "file"} for r in csv.DictReader(fh)]
    assert rows["lost"] == rows["whole"] and len(rows["whole"]) >= 1
    run = json.loads((tmp_path / "lost" / "run.json").read_text())
    (said,) = [w for w in run["files"][0]["warnings"] if "never finalised" in w]
    assert str(lost) in said and "processed the 160000 samples" in said


def test_usage_errors_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nroi:\n  on_dB: 10\n")
    result = CliRunner().invoke(main, [str(tmp_path), "-o", str(tmp_path / "o"), "--no-model", "--config", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml" in result.stderr and "on_dB" in result.stderr and "Traceback" not in result.output
    result = CliRunner().invoke(main, [str(tmp_path / "missing"), "-o", str(tmp_path / "o"), "--no-model"])
    assert result.exit_code == 2 and "missing" in result.stderr
    result = CliRunner().invoke(main, [str(tmp_path), "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--no-model" in result.stderr


def test_an_earlier_run_in_outdir_is_never_replaced_silently(tmp_path, write_audio, rng):
    """A second run into a folder holding a run is refused (one line, exit 2, nothing touched)
    unless --resume continues it or --overwrite replaces it, leaving no stale Raven table."""
    a, b = tmp_path / "a", tmp_path / "b"
    write_audio("20240501_120000.wav", 0.01 * rng.standard_normal(8000 * 5), 8000, folder=a)
    write_audio("20240501_130000.wav", 0.01 * rng.standard_normal(8000 * 5), 8000, folder=b)
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, [str(a), "-o", str(out), "-q", "--no-model"]).exit_code == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    (out / "notes.txt").write_text("mine\n")

    refused = runner.invoke(main, [str(b), "-o", str(out), "-q", "--no-model"])
    assert refused.exit_code == 2
    assert refused.output.count("\n") == 1 and f"{out}: holds an earlier run" in refused.output
    assert "--overwrite" in refused.output and "--resume" in refused.output
    assert {
        p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != "notes.txt"
    } == before

    both = runner.invoke(main, [str(b), "-o", str(out), "-q", "--no-model", "--resume", "--overwrite"])
    assert both.exit_code == 2 and "give one" in both.output

    assert runner.invoke(main, [str(b), "-o", str(out), "-q", "--no-model", "--overwrite"]).exit_code == 0
    assert sorted(p.name for p in (out / "raven").iterdir()) == ["20240501_130000.selections.txt", "all.selections.txt"]
    assert [f["file"] for f in json.loads((out / "run.json").read_text())["files"]] == [str(b / "20240501_130000.wav")]
    assert (out / "notes.txt").read_text() == "mine\n"  # only pamedge's outputs are replaced


def test_outputs_writes_only_what_is_asked(tmp_path, write_audio, rng):
    write_audio("20240501_120000.wav", 0.01 * rng.standard_normal(8000 * 5), 8000, folder=tmp_path / "a")
    runner = CliRunner()
    common = [str(tmp_path / "a"), "--no-model", "-q"]
    assert runner.invoke(main, [*common, "-o", str(tmp_path / "all")]).exit_code == 0
    some = runner.invoke(main, [*common, "-o", str(tmp_path / "some"), "--outputs", "csv,levels"])
    assert some.exit_code == 0, some.output
    assert {p.name for p in (tmp_path / "some").iterdir()} == {".parts", "detections.csv", "levels.csv", "run.json"}
    for name in ("detections.csv", "levels.csv"):
        assert (tmp_path / "some" / name).read_bytes() == (tmp_path / "all" / name).read_bytes()
    run = json.loads((tmp_path / "some" / "run.json").read_text())
    assert run["outputs"] == ["csv", "levels"] and "raven" not in run["files"][0]
    bad = runner.invoke(main, [*common, "-o", str(tmp_path / "bad"), "--outputs", "csv,xml"])
    assert (
        bad.exit_code == 2
        and "--outputs 'csv,xml': expected a comma-separated list of audacity, clicks, csv, hmd, levels, parquet, "
        "ranking, raven, scores, sqlite, tethys"
        in bad.output
    )
