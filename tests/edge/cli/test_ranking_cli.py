"""edge-detect's ranked answer per recording (ranking.csv, --top-k) and recordings below the
deployment's band (min_sample_rate)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from edge.cli.detect import main
from tests.support.data import ROOT

SPECIES = ROOT / "examples" / "species"
DEPLOYMENT = ROOT / "firmware-config" / "deployments" / "multispecies.yaml"


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_ranking_csv_gives_each_recording_its_top_k(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, [str(SPECIES), "-o", str(out), "--config", str(DEPLOYMENT), "-q", "--top-k", "2"])
    assert result.exit_code == 0, result.output
    rows = _rows(out / "ranking.csv")
    assert list(rows[0]) == ["file", "channel", "rank", "label", "score", "windows"]
    doc = json.loads((out / "run.json").read_text())
    assert "ranking" in doc["outputs"] and doc["top_k"] == 2
    files = [f["file"] for f in doc["files"]]
    assert [r["file"] for r in rows] == [f for f in files for _ in range(2)]  # input order, two rows each
    for f in doc["files"]:
        mine = [r for r in rows if r["file"] == f["file"]]
        assert [r["rank"] for r in mine] == ["1", "2"]
        assert float(mine[0]["score"]) >= float(mine[1]["score"])
        assert [r["label"] for r in mine] == [e["label"] for e in f["ranking"]]
        assert len({r["label"] for r in mine}) == 2


def test_the_species_come_first_and_other_after_them_all(tmp_path):
    """The answer names species, most probable first; `other` (1 - the first one's score) comes
    last whatever its score, and a recording no species is likely in (white noise) is counted
    apart in the summary."""
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(5)
    sf.write(src / "white_noise.wav", (0.01 * rng.standard_normal(44100 * 6)).astype(np.float32), 44100)
    (src / "orcasound_humpback_Trumpet.wav").write_bytes((SPECIES / "orcasound_humpback_Trumpet.wav").read_bytes())
    out = tmp_path / "run"
    result = CliRunner().invoke(main, [str(src), "-o", str(out), "--config", str(DEPLOYMENT), "--top-k", "6"])
    assert result.exit_code == 0, result.output
    rows = _rows(out / "ranking.csv")
    answer = {}
    for f in ("white_noise.wav", "orcasound_humpback_Trumpet.wav"):
        mine = [r for r in rows if r["file"] == str(src / f)]
        scores = [float(r["score"]) for r in mine]
        assert [r["label"] for r in mine][-1] == "other" and len(mine) == 6
        assert scores[:5] == sorted(scores[:5], reverse=True)
        assert scores[5] == pytest.approx(1 - scores[0], abs=2e-4)
        answer[f] = (mine[0]["label"], scores[0])
    assert answer["orcasound_humpback_Trumpet.wav"][0] == "humpback"
    noise_first, noise_score = answer["white_noise.wav"]
    assert noise_first != "other" and noise_score < 0.5
    summary = {
        line.split("  ")[0].strip(): line for line in result.output.splitlines() if line.startswith("ranked first")
    }
    assert summary[f"ranked first {noise_first}"].endswith("(1 scoring under 0.5)")
    assert summary["ranked first humpback"].endswith("1 recording")


def test_top_k_needs_a_ranking_and_a_model(tmp_path):
    result = CliRunner().invoke(
        main, [str(SPECIES), "-o", str(tmp_path / "a"), "--config", str(DEPLOYMENT), "--no-model", "--top-k", "2"]
    )
    assert result.exit_code == 2
    assert "--top-k" in result.output and "no model" in result.output
    narw = ROOT / "firmware-config" / "deployments" / "narw-upcall.yaml"
    result = CliRunner().invoke(main, [str(SPECIES), "-o", str(tmp_path / "b"), "--config", str(narw), "--top-k", "2"])
    assert result.exit_code == 2
    assert "no ranking: section" in result.output


def test_outputs_without_ranking_write_no_ranking_csv(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main, [str(SPECIES), "-o", str(out), "--config", str(DEPLOYMENT), "-q", "--outputs", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert not (out / "ranking.csv").exists()
    assert (out / "detections.csv").exists()


def test_a_recording_below_the_band_is_taken_down_to_min_sample_rate(tmp_path):
    rng = np.random.default_rng(3)
    low = tmp_path / "in" / "humpback_4k.wav"
    low.parent.mkdir()
    sf.write(low, (0.05 * rng.standard_normal(4000 * 3)).astype(np.float32), 4000)
    too_low = tmp_path / "in" / "at_1k.wav"
    sf.write(too_low, (0.05 * rng.standard_normal(1000 * 3)).astype(np.float32), 1000)
    out = tmp_path / "run"
    result = CliRunner().invoke(main, [str(low.parent), "-o", str(out), "--config", str(DEPLOYMENT), "-q"])
    assert result.exit_code == 1  # one of two failed
    assert f"{too_low}: sample rate 1000 Hz cannot be analysed" in result.output
    assert "min_sample_rate 2000 Hz" in result.output
    assert f"{low}: recorded at 4000 Hz: nothing above 2000 Hz" in result.output
    doc = json.loads((out / "run.json").read_text())
    ok = next(f for f in doc["files"] if f["file"] == str(low))
    assert ok["status"] == "ok" and ok["analysis_rate"] == 44100 and ok["sample_rate"] == 4000
    assert len(ok["ranking"]) == 3


def test_the_report_shows_each_recordings_ranked_answer(tmp_path):
    pytest.importorskip("matplotlib", reason="the report's charts need pamedge[plot]")
    from edge.report.build import write_report

    out = tmp_path / "run"
    result = CliRunner().invoke(main, [str(SPECIES), "-o", str(out), "--config", str(DEPLOYMENT), "-q"])
    assert result.exit_code == 0, result.output
    html = write_report(out).read_text()
    assert 'id="ranking">Ranked answer per recording (6)' in html
    first = _rows(out / "ranking.csv")[0]
    assert f"{first['label']} {float(first['score']):.2f}" in html


@pytest.mark.skipif(
    "MPEG_LAYER_III" not in sf.available_subtypes("MP3"), reason="this libsndfile (older than 1.1) has no MP3"
)
def test_published_clips_in_mp3_and_ogg_are_found_in_a_folder_and_ranked_as_their_wav(tmp_path):
    """Clip libraries publish MP3 and Ogg Vorbis: a folder of them is searched and ranked like
    the WAV they were encoded from (the humpback and killer-whale demo clips)."""
    clips = tmp_path / "clips"
    clips.mkdir()
    names = ["orcasound_humpback_Trumpet", "orcasound_killerwhale_S06-o030617151013050"]
    for name in names:
        x, rate = sf.read(SPECIES / f"{name}.wav")
        sf.write(clips / f"{name}.mp3", x, rate, format="MP3")
        sf.write(clips / f"{name}.ogg", x, rate, format="OGG", subtype="VORBIS")
    ranked = {}
    for folder in (clips, *(SPECIES / f"{n}.wav" for n in names)):
        out = tmp_path / f"run{len(ranked)}"
        result = CliRunner().invoke(main, [str(folder), "-o", str(out), "--config", str(DEPLOYMENT), "-q"])
        assert result.exit_code == 0, result.output
        ranked.update({r["file"]: r["label"] for r in _rows(out / "ranking.csv") if r["rank"] == "1"})
    assert len(ranked) == 6
    for name in names:
        wav = ranked[str(SPECIES / f"{name}.wav")]
        assert ranked[str(clips / f"{name}.mp3")] == ranked[str(clips / f"{name}.ogg")] == wav
