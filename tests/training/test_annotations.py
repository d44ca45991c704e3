"""Annotation readers: the real NARW CSV, Raven tables, and bad files named with their line."""

from __future__ import annotations

import pytest

from edge.audio import probe
from edge.errors import PamedgeError
from tests.support.data import shared_path
from training.annotations import is_multi_recording_table, read_csv, read_raven, read_raven_multi
from training.types import AnnotationError, AnnotationNote

HEADER = "filename,start,end,freq_min,freq_max,label,comment\n"


@pytest.mark.shared
def test_reads_the_narw_annotations():
    train = shared_path("meridian-osmose-narw", "task-2a", "data", "train")
    durations = {p.name: probe(p).duration_s for p in (train / "narw").glob("*.wav")}
    anns = read_csv(train / "annotations_train.csv", labels={"1": "upcall"}, durations=durations)
    assert len(anns) == 53
    assert {a.label for a in anns} == {"upcall"}
    assert all(a.end_s > a.start_s and a.high_hz > a.low_hz for a in anns)


def test_csv_with_custom_columns(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(HEADER + "x.wav,1.0,2.0,50,250,1,upcall\n")
    (a,) = read_csv(path, labels={"1": "upcall"}, durations={"x.wav": 10.0})
    assert (a.file, a.start_s, a.end_s, a.low_hz, a.high_hz, a.label) == ("x.wav", 1.0, 2.0, 50.0, 250.0, "upcall")


@pytest.mark.parametrize(
    "body,line,message",
    [
        ("x.wav,1,2,50,250,1,\nx.wav,3,2.5,50,250,1,\n", 3, "end 2.5 is not after start 3"),
        ("x.wav,1,2,50,250,1,\nx.wav,9,11,50,250,1,\n", 3, "past the end of x.wav"),
        ("x.wav,1,2,50,250,2,\n", 2, "unknown label '2'"),
        ("x.wav,1,two,50,250,1,\n", 2, "column 'end' holds 'two'"),
        ("x.wav,1,2,250,50,1,\n", 2, "high frequency 50.0 is below"),
        ("y.wav,1,2,50,250,1,\n", 2, "recording 'y.wav' not found"),
    ],
)
def test_bad_csv_names_file_and_line(tmp_path, body, line, message):
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + body)
    with pytest.raises(AnnotationError, match=message) as info:
        read_csv(path, labels={"1": "upcall"}, durations={"x.wav": 10.0})
    assert f"{path}: line {line}:" in str(info.value)
    assert isinstance(info.value, PamedgeError) and isinstance(info.value, ValueError)


def test_missing_columns_named(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("filename,start,stop,freq_min,freq_max,label\nx.wav,1,2,3,4,1\n")
    with pytest.raises(AnnotationError, match=r"bad.csv: line 1: missing column\(s\) 'end'"):
        read_csv(path)


RAVEN = (
    "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tLabel\n"
    "1\tSpectrogram 1\t1\t1.5\t2.5\t50\t250\tupcall\n"
    "1\tWaveform 1\t1\t1.5\t2.5\t50\t250\tupcall\n"
    "2\tSpectrogram 1\t1\t4.0\t5.0\t60\t240\tgunshot\n"
)


def test_raven_table(tmp_path):
    path = tmp_path / "x.selections.txt"
    path.write_text(RAVEN)
    anns = read_raven(path, "x.wav", duration_s=10.0)
    assert [(a.start_s, a.label) for a in anns] == [(1.5, "upcall"), (4.0, "gunshot")]
    with pytest.raises(AnnotationError, match=r"x.selections.txt: line 4: unknown label 'gunshot'"):
        read_raven(path, "x.wav", labels={"upcall": "upcall"})
    with pytest.raises(AnnotationError, match=r"line 4: end 5.0 s is past the end of x.wav"):
        read_raven(path, "x.wav", duration_s=4.5)


def test_a_raven_table_of_several_channels_gives_the_analysed_channels_selections(tmp_path):
    """Raven numbers channels from 1; the deployment's channel 0 is Raven's 1. A call drawn on
    another hydrophone's channel is left out, said once for the table."""
    path = tmp_path / "x.selections.txt"
    path.write_text(
        RAVEN + "3\tSpectrogram 1\t2\t6.0\t7.0\t50\t250\tupcall\n" + "4\tSpectrogram 1\t3\t8.0\t9.0\t50\t250\tupcall\n"
    )
    with pytest.warns(
        AnnotationNote, match=r"x.selections.txt: 2 selections left out \(1 on channel 2, 1 on channel 3\)"
    ):
        anns = read_raven(path, "x.wav", duration_s=10.0, channel=0)
    assert [a.start_s for a in anns] == [1.5, 4.0]
    with pytest.warns(AnnotationNote, match=r"channel 1 \(Raven's channel 2;"):
        assert [a.start_s for a in read_raven(path, "x.wav", channel=1)] == [6.0]
    assert len(read_raven(path, "x.wav")) == 4  # no channel asked: every selection
    path.write_text(RAVEN.replace("\t1\t4.0", "\tright\t4.0"))
    with pytest.raises(AnnotationError, match=r"line 4: column 'Channel': 'right' is not a channel number"):
        read_raven(path, "x.wav", channel=0)


def test_a_multi_recording_table_gives_the_analysed_channels_selections(tmp_path):
    path = tmp_path / "seq.selections.txt"
    path.write_text(
        MULTI.replace("View\t", "View\tChannel\t")
        + "1\tSpectrogram 1\t1\t2.0\t3.0\t50\t250\t2.0\ta.wav\ta.wav\tup\n"
        + "2\tSpectrogram 1\t2\t4.0\t5.0\t50\t250\t4.0\ta.wav\ta.wav\tup\n"
    )
    with pytest.warns(AnnotationNote, match="1 selections left out"):
        anns = read_raven_multi(path, negative="noise", durations={"a.wav": 10.0}, channel=0)
    assert [a.start_s for a in anns] == [2.0]


def test_raven_missing_column(tmp_path):
    path = tmp_path / "y.txt"
    path.write_text("Selection\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\n1\t1\t2\t3\n")
    with pytest.raises(AnnotationError, match=r"y.txt: line 1: missing column\(s\) 'High Freq \(Hz\)'"):
        read_raven(path, "y.wav", default_label="call")


def test_csv_without_frequency_columns_spans_the_band(tmp_path):
    """The DCLDE-2013 truth (filename,start,end,label): matching is by time."""
    path = tmp_path / "day2.csv"
    path.write_text("filename,start,end,label\nx.wav,82.313,83.791,up\nx.wav,102.292,103.844,up\n")
    anns = read_csv(path, labels={"up": "upcall"})
    assert [(a.start_s, a.end_s, a.low_hz, a.high_hz, a.label) for a in anns] == [
        (82.313, 83.791, 0.0, float("inf"), "upcall"),
        (102.292, 103.844, 0.0, float("inf"), "upcall"),
    ]
    path.write_text("filename,start,end,label\nx.wav,5,4,up\n")
    with pytest.raises(AnnotationError, match=r"day2.csv: line 2: end 4.0 is not after start 5.0"):
        read_csv(path, labels={"up": "upcall"})


@pytest.mark.shared
def test_the_second_annotated_day_reads():
    path = shared_path("pamguard-examples", "annotations", "NOPP6_EST_20090329_121500.upcalls.csv")
    anns = read_csv(path, labels={"up": "upcall"})
    assert len(anns) == 61 and {a.label for a in anns} == {"upcall"}


def raven_pro_sequence(anns, durations: dict[str, float], *, label: bool = True) -> str:
    """A Raven Pro table over a file sequence, as Raven writes it: Begin Time on the sequence's
    time line, each row's file in Begin Path (the annotator's machine's) and Begin File, and
    its time in that file in File Offset (s)."""
    starts, t = {}, 0.0
    for name in sorted(durations):
        starts[name] = t
        t += durations[name]
    head = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\t"
    head += "Begin Path\tFile Offset (s)\tBegin File" + ("\tSpecies" if label else "") + "\n"
    rows = []
    for k, a in enumerate(anns, 1):
        begin = starts[a.file] + a.start_s
        for view in ("Spectrogram 1", "Waveform 1"):
            rows.append(
                f"{k}\t{view}\t1\t{begin:.6f}\t{begin + a.end_s - a.start_s:.6f}\t{a.low_hz}\t{a.high_hz}\t"
                f"D:\\survey\\{a.file}\t{a.start_s:.6f}\t{a.file}" + ("\tEg up\n" if label else "\n")
            )
    return head + "".join(rows)


@pytest.mark.shared
def test_a_raven_pro_table_over_a_file_sequence_reads_as_the_csv(tmp_path):
    """The NARW day's 53 upcalls as one Raven Pro table over its three files: each row's
    recording from Begin File, its times from File Offset (s), the waveform view's duplicates
    left out."""
    train = shared_path("meridian-osmose-narw", "task-2a", "data", "train")
    durations = {p.name: probe(p).duration_s for p in (train / "narw").glob("*.wav")}
    expected = read_csv(train / "annotations_train.csv", labels={"1": "upcall"}, durations=durations)
    table = tmp_path / "NOPP6_2009-03-28.selections.txt"
    table.write_text(raven_pro_sequence(expected, durations))
    assert is_multi_recording_table(table)
    anns = read_raven_multi(table, negative="noise", labels={"Eg up": "upcall"}, durations=durations)
    key = [(a.file, round(a.start_s, 5), round(a.end_s, 5), a.low_hz, a.high_hz, a.label) for a in anns]
    assert key == [(a.file, round(a.start_s, 5), round(a.end_s, 5), a.low_hz, a.high_hz, a.label) for a in expected]
    table.write_text(raven_pro_sequence(expected, durations, label=False))
    with pytest.raises(AnnotationError, match=r"line 1: no label column .* and no default label"):
        read_raven_multi(table, negative="noise", durations=durations)
    assert len(read_raven_multi(table, negative="noise", durations=durations, default_label="upcall")) == 53


MULTI = (
    "Selection\tView\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\t"
    "File Offset (s)\tBegin File\tEnd File\tLabel\n"
)


def test_a_selection_over_a_file_boundary_is_in_both_files(tmp_path):
    """A call cut by the recorder's file boundary: its part in each file (Raven's End File)."""
    path = tmp_path / "seq.selections.txt"
    path.write_text(
        MULTI
        + "1\tSpectrogram 1\t2.0\t3.0\t50\t250\t2.0\ta.wav\ta.wav\tup\n"
        + "2\tSpectrogram 1\t9.5\t10.7\t50\t250\t9.5\ta.wav\tb.wav\tup\n"
        + "3\tSpectrogram 1\t12.0\t12.5\t50\t250\t2.0\tb.wav\tb.wav\tup\n"
    )
    anns = read_raven_multi(path, negative="noise", durations={"a.wav": 10.0, "b.wav": 10.0})
    assert [(a.file, a.start_s, round(a.end_s, 6)) for a in anns] == [
        ("a.wav", 2.0, 3.0),
        ("a.wav", 9.5, 10.0),
        ("b.wav", 0.0, 0.7),
        ("b.wav", 2.0, 2.5),
    ]
    with pytest.raises(AnnotationError, match=r"seq.selections.txt: line 3: End File: recording 'b.wav' not found"):
        read_raven_multi(path, negative="noise", durations={"a.wav": 10.0})
    rows = path.read_text().splitlines()
    path.write_text("\n".join([rows[0], rows[1], rows[3]]) + "\n")  # the call over the boundary gone
    with pytest.raises(AnnotationError, match=r"seq.selections.txt: line 3: recording 'b.wav' not found"):
        read_raven_multi(path, negative="noise", durations={"a.wav": 10.0})


def test_an_audacity_label_track(tmp_path):
    from training.annotations import is_audacity_labels, read_audacity

    path = tmp_path / "x.txt"
    path.write_text("1.5\t2.5\tupcall\n\\\t50\t250\n4.0\t5.0\tgunshot 0.97\n\n6.0\t7.25\t\n")
    assert is_audacity_labels(path)
    anns = read_audacity(path, "x.wav", duration_s=10.0, default_label="upcall")
    assert [(a.start_s, a.end_s, a.low_hz, a.high_hz, a.label) for a in anns] == [
        (1.5, 2.5, 50.0, 250.0, "upcall"),
        (4.0, 5.0, 0.0, float("inf"), "gunshot"),  # edge-detect's score after the label dropped
        (6.0, 7.25, 0.0, float("inf"), "upcall"),
    ]
    with pytest.raises(AnnotationError, match=r"x.txt: line 3: unknown label 'gunshot'"):
        read_audacity(path, "x.wav", labels={"upcall": "upcall"}, default_label="upcall")
    with pytest.raises(AnnotationError, match=r"x.txt: line 5: empty label"):
        read_audacity(path, "x.wav")
    for body, line, message in [
        ("1\t2\tup\n3\t3\tup\n", 2, "end 3.0 is not after start 3.0"),  # a point label
        ("\\\t50\t250\n", 1, r"a frequency line \(\\ low high\) belongs after a label's line"),
        ("1\t2\tup\n\\\tlow\t250\n", 2, "frequencies 'low', '250' are not numbers"),
        ("1\t2\tup\nsoon\tlater\tup\n", 2, "not an Audacity label"),
        ("1\t12\tup\n", 1, "end 12.0 s is past the end of x.wav"),
    ]:
        path.write_text(body)
        with pytest.raises(AnnotationError, match=message) as info:
            read_audacity(path, "x.wav", duration_s=10.0)
        assert f"x.txt: line {line}:" in str(info.value)
    path.write_text("Selection\tBegin Time (s)\n")
    assert not is_audacity_labels(path)


def test_a_spreadsheets_csv_reads_as_any_other(tmp_path):
    """Saved by a spreadsheet: a byte-order mark, Windows line ends, and where the decimal mark
    is a comma, semicolons between cells; a label's accent in Latin-1 (Windows) or UTF-8."""
    expected = [("x.wav", 1.5, 2.25, 50.0, 250.0, "baleine à bosse")]
    for name, data in [
        ("bom.csv", "\ufefffilename,start,end,freq_min,freq_max,label\r\nx.wav,1.5,2.25,50,250,baleine à bosse\r\n"),
        (
            "semicolon.csv",
            "\ufefffilename;start;end;freq_min;freq_max;label\r\nx.wav;1,5;2,25;50;250;baleine à bosse\r\n",
        ),
    ]:
        path = tmp_path / name
        path.write_bytes(data.encode("utf-8"))
        anns = read_csv(path, durations={"x.wav": 10.0})
        assert [(a.file, a.start_s, a.end_s, a.low_hz, a.high_hz, a.label) for a in anns] == expected, name
    latin = tmp_path / "latin.csv"
    latin.write_bytes("filename,start,end,label\nx.wav,1.5,2.25,baleine à bosse\n".encode("latin-1"))
    assert [a.label for a in read_csv(latin)] == ["baleine à bosse"]
    raven = tmp_path / "x.selections.txt"
    raven.write_bytes(("\ufeff" + RAVEN.replace("\n", "\r\n")).encode("utf-8"))
    assert [a.start_s for a in read_raven(raven, "x.wav", duration_s=10.0)] == [1.5, 4.0]


@pytest.mark.parametrize("cell", ["nan", "inf", "-inf"])
def test_a_time_that_is_no_finite_number_is_refused(tmp_path, cell):
    """A NaN time passes every comparison with the recording's length: refused by name."""
    path = tmp_path / "a.csv"
    path.write_text(f"filename,start,end,label\nx.wav,1,{cell},up\n")
    with pytest.raises(AnnotationError, match=rf"a.csv: line 2: column 'end' holds '{cell}', not a finite number"):
        read_csv(path, durations={"x.wav": 10.0})
