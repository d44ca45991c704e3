"""Calibration acceptance: a 0.1 FS tone through a SoundTrap-named file reads 154.6 dB."""

from __future__ import annotations

import csv
import json

from click.testing import CliRunner

from edge.cli.detect import main
from tests.support.data import DEPLOYMENTS
from tests.support.signals import tone


def _run(paths, outdir):
    result = CliRunner().invoke(
        main, [*map(str, paths), "-o", str(outdir), "--no-model", "--config", str(DEPLOYMENTS / "generic.yaml")]
    )
    return result


def test_tone_levels_and_utc_from_soundtrap_name(tmp_path, write_audio):
    wav = write_audio("6872.220716021453.wav", tone(1000, 0.1, 120, 48000), 48000)
    result = _run([wav], tmp_path / "out")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(open(tmp_path / "out" / "levels.csv")))
    full = [r for r in rows if float(r["duration_s"]) == 60.0]
    assert len(full) == 2
    for row in full:
        assert abs(float(row["broadband_db"]) - 154.6) <= 0.2
    assert rows[0]["start_utc"] == "2022-07-16T02:14:53Z"
    assert rows[1]["start_utc"] == "2022-07-16T02:15:53Z"
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    cal = run["files"][0]["calibration"]
    assert cal["hydrophone"] == "6872" and cal["full_scale_spl_db"] == 177.6
    assert run["files"][0]["warnings"] == []
    # the 1 kHz decidecade band holds the whole tone
    assert abs(float(full[0]["band_1000hz"]) - 154.6) <= 0.2


def test_unknown_serial_uses_default_and_warns(tmp_path, write_audio):
    wav = write_audio("9999.220716021453.wav", tone(1000, 0.1, 120, 48000), 48000)
    result = _run([wav], tmp_path / "out")
    assert result.exit_code == 0, result.output
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "9999.220716021453.wav" in warning[0] and "-170" in warning[0]
    rows = list(csv.DictReader(open(tmp_path / "out" / "levels.csv")))
    # 20 log10(0.1/sqrt 2) + 170 = 146.99
    assert abs(float(rows[0]["broadband_db"]) - 146.99) <= 0.2
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["files"][0]["calibration"]["hydrophone"] == "default"
    assert "9999" in run["files"][0]["warnings"][0]
