"""Which recording an annotation names: file names two recorders share, told apart by folder."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from training.sources import annotated_recordings
from training.types import AnnotationError

NAME = "20240501_120000.wav"  # the same minute on two recorders
RAVEN = "Selection\tView\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tLabel\n"


@pytest.fixture
def card(tmp_path, write_audio):
    """Recorder A's 10-s and recorder B's 20-s recording of one name, and a third alone."""
    audio = tmp_path / "audio"
    write_audio(NAME, np.zeros(20000), 2000, folder=audio / "A")
    write_audio(NAME, np.zeros(40000), 2000, folder=audio / "B")
    write_audio("c.wav", np.zeros(20000), 2000, folder=audio)
    return audio


def found(recordings: dict, audio: Path) -> list[tuple[str, float]]:
    return sorted((Path(p).relative_to(audio).as_posix(), a.start_s) for p, anns in recordings.items() for a in anns)


def test_a_csv_names_a_shared_recording_by_its_path(card, tmp_path):
    csv = tmp_path / "calls.csv"
    csv.write_text(f"filename,start,end,label\nB/{NAME},15,16,up\nc.wav,1,2,up\n")
    assert found(annotated_recordings(csv, card, None, []), card) == [(f"B/{NAME}", 15.0), ("c.wav", 1.0)]
    csv.write_text(f"filename,start,end,label\nc.wav,1,2,up\n{NAME},15,16,up\n")
    with pytest.raises(
        AnnotationError, match=rf"calls.csv: line 3: 2 recordings are named '{NAME}' \(A/{NAME}, B/{NAME}\)"
    ):
        annotated_recordings(csv, card, None, [])
    csv.write_text(f"filename,start,end,label\nA/{NAME},15,16,up\n")  # past the end of A's, not B's
    with pytest.raises(AnnotationError, match=rf"past the end of A/{NAME} \(10.000 s\)"):
        annotated_recordings(csv, card, None, [])


def test_tables_of_one_recording_go_by_their_folder(card, tmp_path):
    tables = tmp_path / "tables"
    for folder, start in (("A", 2.0), ("B", 12.0)):
        (tables / folder).mkdir(parents=True)
        (tables / folder / f"{Path(NAME).stem}.Table.1.selections.txt").write_text(
            RAVEN + f"1\tSpectrogram 1\t{start}\t{start + 1}\t50\t250\tup\n"
        )
    (tables / "c.txt").write_text("3\t4\tup\n")  # an Audacity label track
    assert found(annotated_recordings(tables, card, None, []), card) == [
        (f"A/{NAME}", 2.0),
        (f"B/{NAME}", 12.0),
        ("c.wav", 3.0),
    ]
    (tables / f"{Path(NAME).stem}.txt").write_text("5\t6\tup\n")  # beside both, naming neither
    with pytest.raises(AnnotationError, match=r"20240501_120000.txt: line 1: 2 recordings are named 20240501_120000"):
        annotated_recordings(tables, card, None, [])


def test_a_raven_pro_table_tells_shared_names_apart_by_begin_path(card, tmp_path):
    table = tmp_path / "survey.selections.txt"
    head = "Selection\tView\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tBegin Path\tFile Offset (s)\tBegin File\tLabel\n"
    rows = [
        f"1\tSpectrogram 1\t15\t16\t50\t250\tE:\\deploy\\B\\{NAME}\t15\t{NAME}\tup\n",
        f"2\tSpectrogram 1\t22\t23\t50\t250\t/media/card/A/{NAME}\t2\t{NAME}\tup\n",
    ]
    table.write_text(head + "".join(rows))
    assert found(annotated_recordings(table, card, None, []), card) == [(f"A/{NAME}", 2.0), (f"B/{NAME}", 15.0)]
    table.write_text(head + f"1\tSpectrogram 1\t15\t16\t50\t250\tE:\\{NAME}\t15\t{NAME}\tup\n")
    with pytest.raises(AnnotationError, match=r"survey.selections.txt: line 2: 2 recordings are named"):
        annotated_recordings(table, card, None, [])


def test_a_csv_of_paths_from_the_annotators_machine(card, tmp_path):
    """Absolute paths, Windows paths: a recording found by its file name, and a shared one by
    the folders before it."""
    csv = tmp_path / "calls.csv"
    csv.write_text(
        "filename,start,end,label\n"
        f"D:\\deploy\\B\\{NAME},15,16,up\n"
        f"/media/card/A/{NAME},2,3,up\n"
        f"{card / 'c.wav'},1,2,up\n"
    )
    assert found(annotated_recordings(csv, card, None, []), card) == [
        (f"A/{NAME}", 2.0),
        (f"B/{NAME}", 15.0),
        ("c.wav", 1.0),
    ]
    csv.write_text(f"filename,start,end,label\nD:\\deploy\\C\\{NAME},1,2,up\nD:\\deploy\\d.wav,1,2,up\n")
    with pytest.raises(AnnotationError, match=r"calls.csv: line 2: 2 recordings are named '20240501_120000.wav'"):
        annotated_recordings(csv, card, None, [])
    csv.write_text("filename,start,end,label\nD:\\deploy\\d.wav,1,2,up\n")
    missing = "D:\\deploy\\d.wav"
    with pytest.raises(AnnotationError, match=re.escape(f"calls.csv: line 2: recording {missing!r} not found")):
        annotated_recordings(csv, card, None, [])


def test_evaluate_only_takes_a_shared_name_by_its_path(card, tmp_path, capsys):
    import json

    from tests.support.bundles import single
    from tests.support.data import DEPLOYMENTS
    from training.cli.train import main

    csv = tmp_path / "calls.csv"
    csv.write_text(f"filename,start,end,label\nA/{NAME},2,3,upcall\nB/{NAME},15,16,upcall\n")
    out = tmp_path / "e.json"
    args = ["evaluate", str(single()), "--config", str(DEPLOYMENTS / "narw-upcall.yaml"), "--annotations", str(csv)]
    with pytest.raises(SystemExit) as info:
        main([*args, "--audio-dir", str(card), "--only", f"B/{NAME}", "-o", str(out)])
    assert info.value.code == 0, capsys.readouterr().err
    assert list(json.loads(out.read_text())["per_recording"]) == [f"B/{NAME}"]
    with pytest.raises(SystemExit) as info:
        main([*args, "--audio-dir", str(card), "--only", f"C/{NAME}"])
    assert info.value.code == 2 and f"--only: no recording named C/{NAME}" in capsys.readouterr().err


def test_edge_detects_tables_of_recordings_sharing_a_name_go_back_to_each(card, tmp_path):
    """edge-detect names the outputs of recordings sharing a name with a short hash of each
    one's path (REC_1a2b3c4d.selections.txt); read back, each table's selections are its own
    recording's."""
    from edge.config import load_deployment
    from edge.detect import RunOptions, detect
    from tests.support.data import DEPLOYMENTS
    from training.sources import read_annotations, recording_names

    rng = np.random.default_rng(2)
    for folder in ("A", "B"):  # something for the ROI detector in each, at different times
        x = 0.001 * rng.standard_normal(40000 if folder == "B" else 20000)
        t = np.arange(2000) / 2000
        at = 12000 if folder == "A" else 30000
        x[at : at + 2000] += 0.5 * np.sin(2 * np.pi * (60 * t + 60 * t**2))
        sf.write(str(card / folder / NAME), x, 2000, subtype="FLOAT")
    detect(
        [card / "A", card / "B"],
        tmp_path / "run",
        load_deployment(DEPLOYMENTS / "narw-upcall.yaml"),
        RunOptions(outputs=frozenset({"raven"})),
    )
    tables = sorted(p.name for p in (tmp_path / "run" / "raven").glob("2024*.selections.txt"))
    assert len(tables) == 2 and all(len(t.split("_")[-1]) == len("1a2b3c4d.selections.txt") for t in tables)
    run_table = tmp_path / "all.selections.txt"  # the run's table, apart: its Begin Path tells the two
    (tmp_path / "run" / "raven" / "all.selections.txt").rename(run_table)
    names, shared = recording_names(card)
    anns = read_annotations(tmp_path / "run" / "raven", names, {"roi": "upcall"}, shared=shared)
    by_path = read_annotations(run_table, names, {"roi": "upcall"}, shared=shared)

    def key(a):
        return (a.file, round(a.start_s, 3), round(a.end_s, 3))

    assert sorted(map(key, anns)) == sorted(map(key, by_path))
    assert {a.file for a in anns} == {f"A/{NAME}", f"B/{NAME}"}
