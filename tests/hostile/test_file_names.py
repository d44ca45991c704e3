"""A card's folder tree as it comes back from sea or from a careless copy: unreadable
sub-folders, symbolic link loops, dangling links, FIFOs with audio names.  Nothing hangs,
nothing is processed twice, and every entry not taken is said, one line each, on stderr and in
run.json."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from edge.audio import AUDIO_KINDS, discover
from edge.cli.detect import main


@pytest.fixture
def card(tmp_path, write_audio, rng):
    card = tmp_path / "card"
    noise = lambda: 0.01 * rng.standard_normal(8000 * 3)  # noqa: E731
    write_audio("20240501_120000.wav", noise(), 8000, folder=card)
    write_audio("20240501_121000.wav", noise(), 8000, folder=card / "locked")
    write_audio("20240501_122000.wav", noise(), 8000, folder=tmp_path / "elsewhere")
    (card / "back-up").symlink_to(card)  # a loop
    (card / "linked").symlink_to(tmp_path / "elsewhere")
    (card / "linked-again").symlink_to(tmp_path / "elsewhere")
    (card / "gone.wav").symlink_to(tmp_path / "nowhere.wav")
    (card / "itself.wav").symlink_to(card / "itself.wav")
    os.mkfifo(card / "pipe.wav")
    return card


@pytest.fixture
def locked(card, monkeypatch):
    """``card/locked`` unreadable (chmod 000 does not stop root, so the folder listing fails
    the way it fails for a user without the permission)."""
    real_scandir = os.scandir
    target = str(card / "locked")

    def scandir(path="."):
        if os.fspath(path) == target:
            raise PermissionError(13, "Permission denied", target)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return card / "locked"


def expected_notes(card, locked):
    return {
        f"{locked}: folder not searched: permission denied",
        f"{card / 'gone.wav'}: skipped: a dangling symbolic link",
        f"{card / 'itself.wav'}: skipped: too many levels of symbolic links",
        f"{card / 'pipe.wav'}: skipped: not a regular file (a FIFO)",
    }


def test_the_search_takes_what_it_can_and_says_what_it_cannot(card, locked, tmp_path):
    skipped: list[str] = []
    found = discover([card], skipped)
    assert [p.name for p in found] == ["20240501_120000.wav", "20240501_122000.wav"]  # the linked one once
    assert expected_notes(card, locked) <= set(skipped)
    again = [n for n in skipped if "searched already" in n]
    assert len(again) == 2  # the loop back to the card, and the second link to the same folder
    assert all("\n" not in n for n in skipped)


def test_edge_detect_reports_every_skipped_entry_and_goes_on(card, locked, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, [str(card), "-o", str(out), "--no-model", "-q"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "run.json").read_text())
    assert [f["status"] for f in doc["files"]] == ["ok", "ok"]
    assert expected_notes(card, locked) <= set(doc["skipped"])
    for note in expected_notes(card, locked):
        assert f"warning: {note}" in result.output


def test_a_folder_of_nothing_but_skipped_entries_says_why(tmp_path):
    card = tmp_path / "card"
    card.mkdir()
    os.mkfifo(card / "pipe.wav")
    result = CliRunner().invoke(main, [str(card), "-o", str(tmp_path / "out"), "--no-model", "-q"])
    assert result.exit_code == 2
    assert f"no recordings ({AUDIO_KINDS}) found" in result.output and "not a regular file (a FIFO)" in result.output
