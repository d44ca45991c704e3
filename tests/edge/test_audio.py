"""edge.audio: probing, block reading in every sample format, damaged files, discovery."""

from __future__ import annotations

import datetime as dt
import struct

import numpy as np
import pytest
import soundfile as sf

from edge.audio import Recording, discover, head_blocks, probe, read_head, wav_shortfall
from edge.errors import AudioError

RATE = 8000


def read_all(recording: Recording) -> tuple[np.ndarray, list[tuple[int, int]]]:
    blocks = list(recording.blocks())
    for block in blocks:
        assert block.samples.dtype == np.float32 and block.samples.ndim == 1
    return (np.concatenate([b.samples for b in blocks]), [(b.start_sample, len(b.samples)) for b in blocks])


def pcm16_wav(samples: np.ndarray, *, declared_frames: int | None = None, extra_chunk: bytes = b"") -> bytes:
    """A mono 16-bit WAV built by hand; ``declared_frames`` can lie about the data size."""
    data = samples.astype("<i2").tobytes()
    declared = 2 * (len(samples) if declared_frames is None else declared_frames)
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, 1, RATE, 2 * RATE, 2, 16)
    body = b"WAVE" + fmt + extra_chunk + struct.pack("<4sI", b"data", declared) + data
    return struct.pack("<4sI", b"RIFF", len(body)) + body


@pytest.mark.parametrize(
    ("name", "subtype", "atol"),
    [
        ("a.wav", "PCM_16", 1 / 2**15),
        ("a.wav", "PCM_24", 1 / 2**23),
        ("a.wav", "PCM_32", 1 / 2**31),
        ("a.wav", "FLOAT", 0.0),
        ("a.flac", "PCM_16", 1 / 2**15),
        ("a.flac", "PCM_24", 1 / 2**23),
    ],
)
def test_every_sample_format_reads_to_full_scale_float32(write_audio, rng, name, subtype, atol):
    samples = (0.5 * rng.uniform(-1, 1, 3001)).astype(np.float32)
    path = write_audio(name, samples, RATE, subtype)
    info = probe(path)
    assert (info.sample_rate, info.channels, info.frames, info.subtype) == (RATE, 1, 3001, subtype)
    assert info.duration_s == pytest.approx(3001 / RATE)
    got, _ = read_all(Recording(info, block_frames=1000))
    np.testing.assert_allclose(got, samples, rtol=0, atol=atol)


def test_stereo_channel_selection(write_audio, rng):
    left = (0.3 * rng.standard_normal(2000)).clip(-1, 1)
    right = 0.25 * np.sin(2 * np.pi * 440 * np.arange(2000) / RATE)
    path = write_audio("st.wav", np.stack([left, right], axis=1), RATE, "FLOAT")
    info = probe(path)
    assert info.channels == 2
    got_right, _ = read_all(Recording(info, channel=1, block_frames=333))
    got_left, _ = read_all(Recording(info, channel=0, block_frames=333))
    np.testing.assert_array_equal(got_right, right.astype(np.float32))
    np.testing.assert_array_equal(got_left, left.astype(np.float32))


@pytest.mark.parametrize("block_frames", [1, 7, 1000, 2999, 3000, 3001, 1 << 20])
def test_blocks_cover_the_file_exactly(write_audio, rng, block_frames):
    samples = rng.uniform(-0.9, 0.9, 3000).astype(np.float32)
    info = probe(write_audio("b.wav", samples, RATE, "FLOAT"))
    got, spans = read_all(Recording(info, block_frames=block_frames))
    np.testing.assert_array_equal(got, samples)
    starts = [s for s, _ in spans]
    assert starts == list(range(0, 3000, block_frames))
    assert all(n == block_frames for _, n in spans[:-1]) and sum(n for _, n in spans) == 3000


def test_channel_out_of_range_names_the_channel_count(write_audio):
    info = probe(write_audio("st.wav", np.zeros((100, 2)), RATE))
    with pytest.raises(AudioError, match=r"st\.wav: channel 2 requested, the file has 2"):
        Recording(info, channel=2)
    with pytest.raises(AudioError, match=r"channel -1 requested, the file has 2"):
        Recording(info, channel=-1)


def test_block_frames_must_be_positive(write_audio):
    info = probe(write_audio("a.wav", np.zeros(100), RATE))
    with pytest.raises(ValueError, match="block_frames=0"):
        Recording(info, block_frames=0)


def test_probe_reads_start_and_serial_from_the_name(write_audio):
    info = probe(write_audio("6872.220716021453.wav", np.zeros(100), RATE))
    assert info.start_utc == dt.datetime(2022, 7, 16, 2, 14, 53, tzinfo=dt.timezone.utc)
    assert (info.serial, info.time_source) == ("6872", "filename")
    info = probe(write_audio("plain.wav", np.zeros(100), RATE))
    assert (info.start_utc, info.serial, info.time_source) == (None, None, None)


def test_zero_byte_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty\.wav: empty file \(0 bytes\)"):
        probe(path)


def test_text_file_named_wav(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("deployment notes, not audio\n")
    with pytest.raises(AudioError, match=r"notes\.wav: not a readable audio file"):
        probe(path)


def test_corrupt_header(tmp_path, rng):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF" + rng.bytes(400))
    with pytest.raises(AudioError, match=r"corrupt\.wav: not a readable audio file"):
        probe(path)


def test_missing_file(tmp_path):
    with pytest.raises(AudioError, match=r"absent\.wav: cannot open"):
        probe(tmp_path / "absent.wav")


def test_header_only_wav_has_no_samples(tmp_path):
    path = tmp_path / "header.wav"
    path.write_bytes(pcm16_wav(np.zeros(0)))
    with pytest.raises(AudioError, match=r"header\.wav: no audio samples"):
        probe(path)


def test_a_header_never_finalised_says_so(tmp_path):
    """A writer that puts sizes of 0 in the header and fills them in when it closes the file,
    stopped before it did: the audio is there, the header says none."""
    data = bytearray(pcm16_wav(np.arange(800) % 7, declared_frames=0))
    data[4:8] = struct.pack("<I", 0)  # the RIFF size too
    path = tmp_path / "unfinished.wav"
    path.write_bytes(bytes(data))
    with pytest.raises(AudioError, match=r"unfinished\.wav: no audio samples by its header, which was never finalised"):
        probe(path)
    with pytest.raises(AudioError, match=r"though 1600 bytes of audio follow it: its recorder stopped"):
        probe(path)


def test_a_header_never_finalised_is_read_as_its_bytes_say_when_allowed(tmp_path):
    """--allow-truncated: the samples present (a last partial frame cut off), from any block
    size and read from part-way, without a byte of the file changed (a recovered card's
    recording is evidence)."""
    samples = (np.arange(800) % 7 - 3).astype(np.int16)
    data = bytearray(pcm16_wav(samples, declared_frames=0, extra_chunk=struct.pack("<4sI", b"LIST", 3) + b"abc\0"))
    data[4:8] = struct.pack("<I", 0)
    data += b"\x01"  # half a sample: the power went mid-write
    path = tmp_path / "unfinished.wav"
    path.write_bytes(bytes(data))
    path.chmod(0o444)
    info = probe(path, allow_truncated=True)
    assert (info.frames, info.sample_rate, info.shortfall) == (800, RATE, (0, 1601))
    for block in (1, 333, 4096):
        got, _ = read_all(Recording(info, block_frames=block))
        np.testing.assert_array_equal(np.round(got * 32768).astype(np.int16), samples)
    got, _ = read_all(Recording(info, block_frames=100, start=450))
    np.testing.assert_array_equal(np.round(got * 32768).astype(np.int16), samples[450:])
    assert path.read_bytes() == bytes(data)


def test_audio_error_is_an_os_error():
    assert issubclass(AudioError, OSError)


def test_truncated_wav_is_refused_unless_allowed(write_audio, rng):
    samples = rng.uniform(-0.5, 0.5, 8000).astype(np.float32)
    path = write_audio("cut.wav", samples, RATE, "PCM_16")
    whole = path.read_bytes()
    path.write_bytes(whole[:-1001])  # a recorder that lost power mid-write (and mid-sample)
    with pytest.raises(
        AudioError,
        match=r"cut\.wav: truncated WAV: header declares 16000 bytes of audio, "
        r"the file holds 14999",
    ):
        probe(path)
    info = probe(path, allow_truncated=True)
    assert info.frames == 7499
    got, _ = read_all(Recording(info, block_frames=1024))
    np.testing.assert_allclose(got, samples[:7499], atol=1 / 2**15)


def test_wav_shortfall_on_hand_built_headers(tmp_path):
    samples = np.arange(-50, 50, dtype=np.int16)
    path = tmp_path / "h.wav"
    path.write_bytes(pcm16_wav(samples))
    assert wav_shortfall(path) is None
    path.write_bytes(pcm16_wav(samples, declared_frames=150))
    assert wav_shortfall(path) == (300, 200)
    # an odd-sized chunk before the data is padded to an even size
    path.write_bytes(pcm16_wav(samples, declared_frames=150, extra_chunk=struct.pack("<4sI", b"LIST", 3) + b"abc\0"))
    assert wav_shortfall(path) == (300, 200)
    for unknown in (0, 0xFFFFFFFF):  # a header never finalised does not know its length
        body = pcm16_wav(samples)
        path.write_bytes(body[:40] + struct.pack("<I", unknown) + body[44:])
        assert wav_shortfall(path) is None
    path.write_bytes(b"fLaC" + bytes(100))
    assert wav_shortfall(path) is None


def test_hand_built_wav_reads_back(tmp_path):
    samples = np.arange(-50, 50, dtype=np.int16) * 300
    path = tmp_path / "h.wav"
    path.write_bytes(pcm16_wav(samples))
    info = probe(path)
    assert (info.frames, info.subtype) == (100, "PCM_16")
    got, _ = read_all(Recording(info))
    np.testing.assert_array_equal(got, samples / np.float32(2**15))


def test_discover_is_recursive_time_ordered_and_skips_hidden_and_non_audio(tmp_path, write_audio):
    root = tmp_path / "card"
    silence = np.zeros(16)
    for folder, name in [
        ("2024-05-02", "20240502_000000.wav"),
        ("2024-05-01", "20240501_120000.WAV"),
        ("2024-05-01", "20240501_060000.flac"),
        ("", "zzz.wav"),
        ("", "aaa.wav"),
        ("", ".20240101_000000.wav"),  # hidden file (e.g. macOS ._ resource fork)
        (".Trash", "20240430_000000.wav"),  # hidden folder
    ]:
        write_audio(name, silence, RATE, folder=root / folder)
    (root / "2024-05-01" / "20240501_000000.log.txt").write_text("log")
    (root / "20240501_000000.png").write_bytes(b"\x89PNG")
    found = discover([root])
    assert [p.relative_to(root).as_posix() for p in found] == [
        "2024-05-01/20240501_060000.flac",
        "2024-05-01/20240501_120000.WAV",
        "2024-05-02/20240502_000000.wav",
        "aaa.wav",  # names without a time come last, by path
        "zzz.wav",
    ]


# (file name, soundfile format, subtype, lossy): the containers a folder search takes
CONTAINERS = [
    ("a.aiff", "AIFF", "PCM_16", False),
    ("b.aif", "AIFF", "PCM_24", False),
    ("c.w64", "W64", "FLOAT", False),
    ("d.rf64", "RF64", "PCM_16", False),
    ("e.caf", "CAF", "PCM_16", False),
    ("i.au", "AU", "PCM_16", False),
    ("j.snd", "AU", "FLOAT", False),
    ("f.mp3", "MP3", "MPEG_LAYER_III", True),
    ("g.ogg", "OGG", "VORBIS", True),
    ("h.opus", "OGG", "OPUS", True),
]


def test_every_container_a_folder_search_takes_reads_a_tone_at_its_level(tmp_path):
    """Clip libraries publish MP3 and Ogg, recorders write AIFF, W64 and RF64 past 4 GB, older archives AU: a folder
    of them is searched like one of WAV files, and each reads back a 1-kHz tone at its level
    (lossless: to the sample; lossy: within 0.2 dB, the codec's error; an MP3 pure tone read in
    blocks came back with runs of zeros, 2-5 dB low, before edge.audio decoded MP3 clips whole)."""
    rate = 48000  # Opus takes 8-48 kHz
    tone = (0.25 * np.sin(2 * np.pi * 1000 * np.arange(2 * rate) / rate)).astype(np.float32)
    # a libsndfile older than 1.1 (a system one, where no wheel exists) has no MP3
    here = [c for c in CONTAINERS if c[2] in sf.available_subtypes(c[1])]
    assert sum(not lossy for *_, lossy in here) == 7
    for name, fmt, subtype, _ in here:
        sf.write(str(tmp_path / name), tone, rate, format=fmt, subtype=subtype)
    (tmp_path / "notes.txt").write_text("not audio")
    found = discover([tmp_path])
    assert sorted(p.name for p in found) == sorted(c[0] for c in here)
    for name, _, subtype, lossy in here:
        info = probe(tmp_path / name)
        assert (info.sample_rate, info.channels, info.subtype) == (rate, 1, subtype), name
        got, _ = read_all(Recording(info, block_frames=10000))
        assert abs(len(got) - len(tone)) <= (2000 if lossy else 0), name
        if not lossy:
            np.testing.assert_allclose(got, tone, rtol=0, atol=2.0**-15)
            continue
        middle = got[rate // 2 : -rate // 2]  # away from the codec's start-up and tail
        level = 20 * np.log10(np.sqrt(np.mean(middle.astype(np.float64) ** 2)) / (0.25 / np.sqrt(2)))
        spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
        assert abs(level) < 0.2, (name, level)
        assert abs(np.argmax(spectrum) * rate / len(middle) - 1000) < 5, name


@pytest.mark.skipif("MPEG_LAYER_III" not in sf.available_subtypes("MP3"), reason="this libsndfile has no MP3")
def test_an_mp3_read_from_a_later_sample_gives_the_whole_reads_samples(tmp_path):
    """A cluster unit starts reading part-way; libsndfile decodes a pure-tone MP3 after a seek
    to runs of zeros, so the unit's samples must come from a read from the start."""
    rate = 48000
    tone = (0.25 * np.sin(2 * np.pi * 1000 * np.arange(10 * rate) / rate)).astype(np.float32)
    sf.write(str(tmp_path / "t.mp3"), tone, rate, format="MP3")
    info = probe(tmp_path / "t.mp3")
    whole, _ = read_all(Recording(info, block_frames=info.frames))
    for start in (48000, 100001):
        part, cuts = read_all(Recording(info, block_frames=60000, start=start))
        assert cuts[0] == (start, 60000 - start % 60000)  # blocks still cut where a whole reading cuts
        np.testing.assert_array_equal(part, whole[start:])


def test_discover_keeps_input_order_and_takes_a_file_once(tmp_path, write_audio):
    a = write_audio("20240501_000000.wav", np.zeros(16), RATE, folder=tmp_path / "a")
    b = write_audio("20230101_000000.wav", np.zeros(16), RATE, folder=tmp_path / "b")
    assert discover([tmp_path / "a", tmp_path / "b"]) == [a, b]
    assert discover([b, tmp_path / "a", tmp_path / "b", a]) == [b, a]
    assert discover([str(a)]) == [a]


def test_a_recording_reached_through_a_symlink_and_its_real_path_is_taken_once(tmp_path, write_audio):
    """Issue 15, case 6: both were processed, and their records went to shore twice."""
    a = write_audio("card/a.wav", np.zeros(100), 1000)
    (tmp_path / "link").symlink_to(tmp_path / "card")
    (tmp_path / "card" / "same.wav").symlink_to(a)
    assert discover([tmp_path / "card", tmp_path / "link"]) == [a]
    assert discover([tmp_path / "link" / "a.wav", a]) == [tmp_path / "link" / "a.wav"]


def test_discover_missing_path(tmp_path):
    with pytest.raises(AudioError, match=r"nowhere: no such file or folder"):
        discover([tmp_path / "nowhere"])


def test_discover_empty_folder(tmp_path):
    assert discover([tmp_path]) == []


def test_the_head_is_the_first_samples_of_the_channel_read_once(tmp_path):
    """What a recording is measured on before it streams (edge.codec): the channel's first samples,
    as a whole reading gives them, fewer when the recording is shorter."""
    rng = np.random.default_rng(2)
    stereo = (0.3 * rng.standard_normal((5000, 2))).astype(np.float32)
    sf.write(str(tmp_path / "s.wav"), stereo, RATE, subtype="PCM_16")
    info = probe(tmp_path / "s.wav")
    for channel in (0, 1):
        whole, _ = read_all(Recording(info, channel=channel, block_frames=1000))
        np.testing.assert_array_equal(Recording(info, channel=channel).head(1200), whole[:1200])
        np.testing.assert_array_equal(Recording(info, channel=channel).head(99999), whole)


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_head_blocks_are_the_head_in_bounded_blocks(tmp_path, subtype):
    """A silent channel is told from every channel's start a second at a time (edge.quality), so
    an 8-channel recording at 384 kHz is not held 30 s whole: the blocks are at most the size
    asked and together the head."""
    rng = np.random.default_rng(4)
    four = (0.3 * rng.standard_normal((5000, 4))).astype(np.float32)
    sf.write(str(tmp_path / "f.wav"), four, RATE, subtype=subtype)
    info = probe(tmp_path / "f.wav")
    blocks = list(head_blocks(info, 4500, 1000))
    assert [len(b) for b in blocks] == [1000, 1000, 1000, 1000, 500] and all(b.shape[1] == 4 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), read_head(info, 4500))
    assert sum(len(b) for b in head_blocks(info, 99999, 2000)) == 5000


def capture_snapshot(path, samples: np.ndarray, rate: int, *, extra: bytes = b"") -> None:
    """The file libsndfile leaves when the power goes mid-write: written and flushed, never
    closed (its header's sizes still zero), ``extra`` bytes of a frame cut off after it."""
    writer = sf.SoundFile(str(path) + ".w", "w", rate, samples.shape[1], "PCM_16", format="WAV")
    writer.write(samples)
    writer.flush()
    path.write_bytes((path.parent / (path.name + ".w")).read_bytes() + extra)
    writer.close()
    (path.parent / (path.name + ".w")).unlink()


def test_a_capture_file_the_power_cut_is_finalised_with_every_whole_frame(tmp_path, rng):
    from edge.audio import finalise_wav

    samples = (0.1 * rng.standard_normal((4001, 2))).clip(-0.9, 0.9).astype(np.float32)
    path = tmp_path / "cut.wav"
    capture_snapshot(path, samples, RATE, extra=b"\x01\x02")  # half of a stereo 16-bit frame
    assert struct.unpack("<I", path.read_bytes()[40:44]) == (0,)  # as the writer left it
    assert finalise_wav(path) == (4001, RATE)
    data, rate = sf.read(str(path), dtype="float32")
    assert rate == RATE and data.shape == (4001, 2)
    np.testing.assert_allclose(data, samples, atol=1 / 32768)
    head = path.read_bytes()
    assert struct.unpack("<I", head[4:8]) == (len(head) - 8,) and struct.unpack("<I", head[40:44]) == (4001 * 4,)
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    with pytest.raises(AudioError, match=r"notes.wav: not a WAV file"):
        finalise_wav(text)


def test_a_folder_search_names_a_capture_file_left_unfinished(tmp_path, write_audio):
    write_audio("20240501_000000.wav", np.zeros(16), RATE, folder=tmp_path)
    capture_snapshot(tmp_path / ".20240501_001000.wav.part", np.zeros((16, 1), np.float32), RATE)
    notes: list[str] = []
    assert [p.name for p in discover([tmp_path], notes)] == ["20240501_000000.wav"]
    (note,) = notes
    assert note.startswith(f"{tmp_path / '.20240501_001000.wav.part'}: skipped: a recording edge-run's capture")
    assert "rename it 20240501_001000.wav" in note
