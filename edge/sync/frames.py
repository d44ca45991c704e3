"""Authenticated binary telemetry frames (format: ``docs/reference/frames.md``).

A frame is ``header (9 bytes) | body | tag (8 bytes)``; the tag is HMAC-SHA256 under the
deployment's key over everything before it, truncated to 8 bytes.  Record frames pack
detections in log-sequence order with delta-coded times and quantised values; identity frames
(``edge.sync.identity``) say what produced the records that follow; tally frames
(``edge.sync.tallies``) count them per period; health frames (``edge.sync.health``) carry the
buoy daemon's health and effort records.  A packer never returns a
frame longer than the byte budget it was given.  :func:`decode` checks the tag before it
parses anything and raises :class:`FrameError` (with a ``reason``) for every frame it does not
accept.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from edge import __version__
from edge.errors import PamedgeError
from edge.sync import health as hl
from edge.sync import identity as ident
from edge.sync.bits import BitReader, BitWriter, leb128, read_leb128, read_text, unzigzag, zigzag
from edge.sync.quant import EPOCH as _EPOCH
from edge.sync.quant import best_k as _best_k
from edge.sync.quant import linear_code as _linear_code
from edge.sync.quant import linear_value as _linear_value
from edge.sync.quant import log_code as _log_code
from edge.sync.quant import log_value as _log_value
from edge.sync.quant import utc_seconds
from edge.sync.tallies import Tally, tallies  # noqa: F401 -- tallies: re-exported (edge.sync.outbox)
from edge.sync.tallies import decode as decode_tally
from edge.sync.tallies import encode as encode_tally
from edge.types import Detection

VERSION = 1
KIND_RECORDS, KIND_TALLIES, KIND_IDENTITY, KIND_COMMAND, KIND_HEALTH = 0, 1, 2, 3, 4
KIND_STATUS = KIND_IDENTITY  # a status answer is an identity frame with the outbox counters
KINDS = (KIND_RECORDS, KIND_TALLIES, KIND_IDENTITY, KIND_COMMAND, KIND_HEALTH)
BUOY_KINDS = (KIND_RECORDS, KIND_TALLIES, KIND_IDENTITY, KIND_HEALTH)  # what shore accepts
HEADER = struct.Struct(">B4sI")  # version << 4 | kind, deployment tag, frame sequence
TAG_BYTES = 8
OVERHEAD = HEADER.size + TAG_BYTES
SBD_MO_BYTES, SBD_MT_BYTES = 340, 270
MAX_RECORDS = 255

# Quantisation (documented in docs/reference/frames.md)
TIME_STEP_S = 0.1
DURATION_STEP_S = 0.05
FREQ_REF_HZ, FREQ_STEPS_PER_OCTAVE, FREQ_BITS = 10.0, 32, 9
SCORE_BITS = 7
SNR_STEP_DB, SNR_BITS = 0.5, 7  # 0 .. 63 dB; the top code means "missing"
LEVEL_MIN_DB, LEVEL_STEP_DB, LEVEL_BITS = 40.0, 0.5, 8  # 40 .. 167 dB; the top code means "missing"
ICI_REF_S, ICI_STEPS_PER_OCTAVE, ICI_BITS = 0.0005, 32, 9  # 0.5 ms .. about 30 s; the top code means "missing"

FLAG_SCORES, FLAG_FILE_TIME, FLAG_SEQ_GAPS, FLAG_CLICKS = 0x01, 0x02, 0x04, 0x08
FLAGS = FLAG_SCORES | FLAG_FILE_TIME | FLAG_SEQ_GAPS | FLAG_CLICKS

# why a frame was not accepted (FrameError.reason; shore counts them)
BAD_MAC, UNKNOWN_DEPLOYMENT, MALFORMED, REPLAY = "bad MAC", "unknown deployment", "malformed", "replay"
REASONS = (BAD_MAC, UNKNOWN_DEPLOYMENT, REPLAY, MALFORMED)


class FrameError(PamedgeError, ValueError):
    """A frame that cannot be packed, or that the decoder does not accept; ``reason`` is one
    of :data:`REASONS` (bad tag, unknown deployment, malformed body, replay)."""

    def __init__(self, message: str, reason: str = MALFORMED) -> None:
        super().__init__(message)
        self.reason = reason


def deployment_tag(deployment: str) -> bytes:
    """The 4 bytes naming a deployment in every frame: SHA-256 of its id, truncated."""
    return hashlib.sha256(deployment.encode()).digest()[:4]


def parse_key(text: str, where: str = "key") -> bytes:
    """A key from its hex text; at least 16 bytes."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise FrameError(f"{where}: not a hex key") from None
    if len(key) < 16:
        raise FrameError(f"{where}: key is {len(key)} bytes, at least 16 are needed")
    return key


def seal(kind: int, deployment: str, frame_seq: int, body: bytes, key: bytes) -> bytes:
    """Header + body + truncated HMAC."""
    if kind not in KINDS:
        raise FrameError(f"{kind=} is not a frame kind")
    if not 0 <= frame_seq < 1 << 32:
        raise FrameError(f"{frame_seq=} does not fit in 32 bits")
    head = HEADER.pack(VERSION << 4 | kind, deployment_tag(deployment), frame_seq) + body
    return head + hmac.new(key, head, hashlib.sha256).digest()[:TAG_BYTES]


# --- records -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameRecord:
    """What a frame carries of one detection, as decoded (values on the quantisation grid)."""

    seq: int
    time_s: float  # UTC epoch seconds, or seconds from the file start when ``file_time``
    duration_s: float
    low_hz: float
    high_hz: float
    label: str
    score: float
    snr_db: float
    received_level_db: float
    file_time: bool = False
    channel: int = 0
    clicks: int = 0  # a click train's click count (0: not a train) and median inter-click interval
    ici_s: float = float("nan")

    def detection(self, deployment: str) -> Detection:
        """The record as a :class:`Detection`; what frames do not carry (file, model, config
        hash, hydrophone, calibration) is left empty.  ``start_s`` counts from 00:00 UTC of
        the record's day (from the file start for file-relative records)."""
        if self.file_time:
            start_utc, start_s = "", self.time_s
        else:
            t = _EPOCH + dt.timedelta(milliseconds=round(self.time_s * 1000))
            start_utc = t.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            start_s = round(self.time_s % 86400, 3)
        return Detection(
            "",
            self.channel,
            start_utc,
            start_s,
            round(start_s + self.duration_s, 3),
            self.low_hz,
            self.high_hz,
            self.label,
            self.score,
            self.snr_db,
            self.received_level_db,
            deployment=deployment,
            clicks=self.clicks,
            ici_s=self.ici_s,
        )


def _freq_code(hz: float) -> int:
    if not hz > 0 or math.isnan(hz):
        return 0
    if hz < FREQ_REF_HZ:
        return 0 if hz < FREQ_REF_HZ / 2 else 1
    return min(1 + round(FREQ_STEPS_PER_OCTAVE * math.log2(hz / FREQ_REF_HZ)), (1 << FREQ_BITS) - 1)


def _freq_value(code: int) -> float:
    # 5 significant digits: rounding to 0.1 Hz added up to 1 % below 50 Hz to the 1/32 octave
    return 0.0 if code == 0 else float(f"{FREQ_REF_HZ * 2 ** ((code - 1) / FREQ_STEPS_PER_OCTAVE):.5g}")


@dataclass(frozen=True)
class _Quantised:
    seq: int
    q_time: int  # TIME_STEP_S units from the frame's base
    q_dur: int
    f_low: int
    f_bw: int
    label: str
    score: int
    snr: int
    level: int
    clicks: int
    ici: int


def _group(d: Detection) -> tuple[object, ...]:
    """Records that may share a frame: same channel, same time reference, scores or not."""
    return (d.channel, not d.start_utc, not math.isnan(d.score))


def _quantise(seq: int, d: Detection, base: int) -> _Quantised:
    t = d.start_s if not d.start_utc else utc_seconds(d.start_utc)
    low, high = _freq_code(d.low_hz), _freq_code(d.high_hz)
    score = 0 if math.isnan(d.score) else min(max(round(d.score * ((1 << SCORE_BITS) - 1)), 0), (1 << SCORE_BITS) - 1)
    return _Quantised(
        seq,
        round((t - base) / TIME_STEP_S),
        max(round((d.end_s - d.start_s) / DURATION_STEP_S), 0),
        low,
        max(high - low, 0),
        d.label,
        score,
        _linear_code(d.snr_db, 0.0, SNR_STEP_DB, SNR_BITS),
        _linear_code(d.received_level_db, LEVEL_MIN_DB, LEVEL_STEP_DB, LEVEL_BITS),
        max(d.clicks, 0),
        _log_code(d.ici_s, ICI_REF_S, ICI_STEPS_PER_OCTAVE, ICI_BITS) if d.clicks > 0 else 0,
    )


def _base_time(d: Detection) -> int:
    return 0 if not d.start_utc else math.floor(utc_seconds(d.start_utc))


def _encode_records(qs: list[_Quantised], base: int, flags: int, channel: int) -> bytes:
    if any(q.seq != qs[i - 1].seq + 1 for i, q in enumerate(qs) if i):
        flags |= FLAG_SEQ_GAPS
    k_clicks = 0
    if any(q.clicks for q in qs):  # only then: a frame without click trains is as before
        flags |= FLAG_CLICKS
        k_clicks = _best_k([q.clicks for q in qs])
    labels = sorted({q.label for q in qs})
    label_bits = (len(labels) - 1).bit_length()
    dts = [zigzag(q.q_time - (qs[i - 1].q_time if i else 0)) for i, q in enumerate(qs)]
    k_time, k_dur, k_bw = _best_k(dts), _best_k([q.q_dur for q in qs]), _best_k([q.f_bw for q in qs])
    out = bytearray(struct.pack(">I", base))
    out += leb128(qs[0].seq)
    out += bytes((len(qs), flags, channel, k_time << 4 | k_dur, k_bw << 4 | k_clicks, len(labels)))
    for label in labels:
        raw = label.encode()
        out += bytes((len(raw),)) + raw
    index = {label: i for i, label in enumerate(labels)}
    bits = BitWriter()
    for i, (q, d) in enumerate(zip(qs, dts)):
        if flags & FLAG_SEQ_GAPS and i:
            bits.exp_golomb(q.seq - qs[i - 1].seq - 1, 0)  # records left out (e.g. below a threshold)
        bits.exp_golomb(d, k_time)
        bits.exp_golomb(q.q_dur, k_dur)
        bits.write(q.f_low, FREQ_BITS)
        bits.exp_golomb(q.f_bw, k_bw)
        bits.write(index[q.label], label_bits)
        if flags & FLAG_SCORES:
            bits.write(q.score, SCORE_BITS)
        bits.write(q.snr, SNR_BITS)
        bits.write(q.level, LEVEL_BITS)
        if flags & FLAG_CLICKS:
            bits.exp_golomb(q.clicks, k_clicks)
            if q.clicks:
                bits.write(q.ici, ICI_BITS)
    return bytes(out) + bits.to_bytes()


def pack_records(
    records: Sequence[tuple[int, Detection]],
    *,
    deployment: str,
    key: bytes,
    frame_seq: int,
    max_bytes: int = SBD_MO_BYTES,
) -> tuple[bytes, int]:
    """One frame holding the longest prefix of ``records`` (``(log seq, detection)`` with
    increasing seqs; gaps cost a bit or more per record) that fits in ``max_bytes``; returns
    the frame and how many it holds.  A prefix stops early where the channel, the time
    reference or the presence of scores changes.  Raises :class:`FrameError` when not even
    one record fits."""
    if not records:
        raise FrameError("no records to pack")
    for _, d in records[:MAX_RECORDS]:
        if len(d.label.encode()) > 255:
            raise FrameError(f"label {d.label[:20]!r}... is longer than 255 bytes")
    first = records[0][1]
    group = _group(first)
    n_max = 1
    while (
        n_max < min(len(records), MAX_RECORDS)
        and _group(records[n_max][1]) == group
        and records[n_max][0] > records[n_max - 1][0]
    ):
        n_max += 1
    base = _base_time(first)
    flags = (FLAG_SCORES if group[2] else 0) | (FLAG_FILE_TIME if group[1] else 0)
    qs: list[_Quantised] = []

    def frame(n: int) -> bytes:
        qs.extend(_quantise(s, d, base) for s, d in records[len(qs) : n])  # only what is tried
        return seal(KIND_RECORDS, deployment, frame_seq, _encode_records(qs[:n], base, flags, first.channel), key)

    return _largest_fitting(frame, n_max, max_bytes, "one record", gallop_from=8)


def _largest_fitting(
    frame: Callable[[int], bytes], n_max: int, max_bytes: int, what: str, gallop_from: int | None = None
) -> tuple[bytes, int]:
    """The frame of the largest ``n <= n_max`` items within ``max_bytes`` and ``n``; a frame's
    size grows with ``n``, so gallop up (from ``gallop_from``) then search between."""
    best = frame(1)
    if len(best) > max_bytes:
        raise FrameError(f"{what} needs {len(best)} bytes, more than max_bytes={max_bytes}")
    lo, hi, n = 1, n_max, gallop_from or n_max
    while gallop_from and n < n_max:
        candidate = frame(n)
        if len(candidate) > max_bytes:
            hi = n - 1
            break
        lo, best, n = n, candidate, 2 * n
    while lo < hi:
        mid = (lo + hi + 1) // 2
        candidate = frame(mid)
        if len(candidate) <= max_bytes:
            lo, best = mid, candidate
        else:
            hi = mid - 1
    return best, lo


def identity_runs(
    records: Sequence[tuple[int, Detection]], software: str = __version__
) -> list[tuple[ident.Identity, int, int]]:
    """``(identity, start, stop)`` index ranges of ``records`` made under one identity."""
    runs: list[tuple[ident.Identity, int, int]] = []
    for i, (_, d) in enumerate(records):
        who = ident.Identity.of(d, software)
        if runs and runs[-1][0] == who:
            runs[-1] = (who, runs[-1][1], i + 1)
        else:
            runs.append((who, i, i + 1))
    return runs


def pack_identity(
    frame: ident.IdentityFrame, *, deployment: str, key: bytes, frame_seq: int, max_bytes: int = SBD_MO_BYTES
) -> bytes:
    """An identity (or status) frame."""
    try:
        body = ident.encode(frame)
    except ValueError as exc:
        raise FrameError(f"identity frame: {exc}") from None
    data = seal(KIND_IDENTITY, deployment, frame_seq, body, key)
    if len(data) > max_bytes:
        raise FrameError(f"identity frame of {len(data)} bytes exceeds {max_bytes=}")
    return data


def pack_all(
    records: Sequence[tuple[int, Detection]],
    *,
    deployment: str,
    key: bytes,
    first_frame_seq: int = 1,
    max_bytes: int = SBD_MO_BYTES,
    identity: bool = True,
) -> list[bytes]:
    """Every record in as few frames as the packer makes, frame sequence from
    ``first_frame_seq``; with ``identity``, an identity frame before the first record and
    wherever the identity (model, config hash, hydrophone, calibration) changes."""
    frames: list[bytes] = []
    runs = identity_runs(records) if identity else [(None, 0, len(records))]
    for who, start, stop in runs:
        if who is not None:
            first = records[start]
            made = math.floor(utc_seconds(first[1].start_utc)) if first[1].start_utc else 0
            frames.append(
                pack_identity(
                    ident.IdentityFrame(who, first[0], made),
                    deployment=deployment,
                    key=key,
                    frame_seq=first_frame_seq + len(frames),
                    max_bytes=max_bytes,
                )
            )
        i = start
        while i < stop:
            data, n = pack_records(
                records[i:stop],
                deployment=deployment,
                key=key,
                frame_seq=first_frame_seq + len(frames),
                max_bytes=max_bytes,
            )
            frames.append(data)
            i += n
    return frames


def _decode_records(body: bytes) -> tuple[FrameRecord, ...]:
    if len(body) < 11:
        raise ValueError("record body too short")
    base = struct.unpack_from(">I", body)[0]
    seq, pos = read_leb128(body, 4)
    if pos + 6 > len(body):
        raise ValueError("record body too short")
    count, flags, channel, k_td, k_b, nlabels = body[pos : pos + 6]
    pos += 6
    k_clicks = k_b & 0x0F
    if count == 0 or nlabels == 0 or flags & ~FLAGS or (k_clicks and not flags & FLAG_CLICKS):
        raise ValueError("bad record header")
    if flags & FLAG_SEQ_GAPS and count < 2:
        raise ValueError("bad record header")
    if flags & FLAG_FILE_TIME and base:
        raise ValueError("file-relative times with a base time")
    labels = []
    for _ in range(nlabels):
        label, pos = read_text(body, pos, "label table")
        labels.append(label)
    if labels != sorted(set(labels)):
        raise ValueError("label table not sorted and unique")
    k_time, k_dur, k_bw = k_td >> 4, k_td & 0x0F, k_b >> 4
    label_bits = (nlabels - 1).bit_length()
    bits = BitReader(body[pos:])
    out, q_time, gaps, trains = [], 0, 0, 0
    for i in range(count):
        if flags & FLAG_SEQ_GAPS and i:
            gaps += bits.exp_golomb(0)
        q_time += unzigzag(bits.exp_golomb(k_time))
        q_dur = bits.exp_golomb(k_dur)
        f_low = bits.read(FREQ_BITS)
        f_bw = bits.exp_golomb(k_bw)
        label_code = bits.read(label_bits)
        if label_code >= nlabels or f_low + f_bw >= 1 << FREQ_BITS:
            raise ValueError("field out of range")
        score = bits.read(SCORE_BITS) / ((1 << SCORE_BITS) - 1) if flags & FLAG_SCORES else float("nan")
        snr = _linear_value(bits.read(SNR_BITS), 0.0, SNR_STEP_DB, SNR_BITS)
        level = _linear_value(bits.read(LEVEL_BITS), LEVEL_MIN_DB, LEVEL_STEP_DB, LEVEL_BITS)
        clicks, ici = 0, float("nan")
        if flags & FLAG_CLICKS:
            clicks = bits.exp_golomb(k_clicks)
            if clicks:
                trains += 1
                ici_value = _log_value(bits.read(ICI_BITS), ICI_REF_S, ICI_STEPS_PER_OCTAVE, ICI_BITS)
                ici = float("nan") if ici_value is None else ici_value
        out.append(
            FrameRecord(
                seq + i + gaps,
                round(base + q_time * TIME_STEP_S, 1),
                round(q_dur * DURATION_STEP_S, 2),
                _freq_value(f_low),
                _freq_value(f_low + f_bw),
                labels[label_code],
                round(score, 4) if flags & FLAG_SCORES else score,
                snr,
                level,
                bool(flags & FLAG_FILE_TIME),
                channel,
                clicks,
                ici,
            )
        )
    bits.check_padding()
    if flags & FLAG_SEQ_GAPS and not gaps:
        raise ValueError("sequence-gap flag without a gap")
    if flags & FLAG_CLICKS and not trains:
        raise ValueError("click-train flag without a click train")
    return tuple(out)


# --- tallies (body: edge.sync.tallies) -----------------------------------------------------


def pack_tally(tally: Tally, *, deployment: str, key: bytes, frame_seq: int, max_bytes: int = SBD_MO_BYTES) -> bytes:
    data = seal(KIND_TALLIES, deployment, frame_seq, encode_tally(tally), key)
    if len(data) > max_bytes:
        raise FrameError(f"tally of {len(tally.counts)} labels needs {len(data)} bytes, more than {max_bytes=}")
    return data


# --- health (body: edge.sync.health) -------------------------------------------------------


def pack_health(
    rows: Sequence[hl.HealthRow], *, deployment: str, key: bytes, frame_seq: int, max_bytes: int = SBD_MO_BYTES
) -> tuple[bytes, int]:
    """One frame holding the longest prefix of ``rows`` that fits in ``max_bytes`` (it stops
    where the sequence is not consecutive); returns the frame and how many rows it holds.
    Raises :class:`FrameError` when not even one row fits."""
    if not rows:
        raise FrameError("no health rows to pack")
    n_max = 1
    while n_max < min(len(rows), hl.MAX_ROWS) and rows[n_max].seq == rows[n_max - 1].seq + 1:
        n_max += 1

    def frame(n: int) -> bytes:
        try:
            return seal(KIND_HEALTH, deployment, frame_seq, hl.encode(list(rows[:n])), key)
        except ValueError as exc:
            raise FrameError(f"health frame: {exc}") from None

    return _largest_fitting(frame, n_max, max_bytes, "one health row")


def pack_all_health(
    rows: Sequence[hl.HealthRow],
    *,
    deployment: str,
    key: bytes,
    first_frame_seq: int = 1,
    max_bytes: int = SBD_MO_BYTES,
) -> list[bytes]:
    """Every health row in as few frames as the packer makes, frame sequence from
    ``first_frame_seq``."""
    frames: list[bytes] = []
    i = 0
    while i < len(rows):
        data, n = pack_health(
            rows[i:], deployment=deployment, key=key, frame_seq=first_frame_seq + len(frames), max_bytes=max_bytes
        )
        frames.append(data)
        i += n
    return frames


# --- decoding ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    deployment: str
    seq: int
    kind: int
    records: tuple[FrameRecord, ...] = ()
    tally: Tally | None = None
    identity: ident.IdentityFrame | None = None
    health: tuple[hl.HealthRow, ...] = ()
    body: bytes = b""  # a command's JSON


class KeyRing:
    """Deployment keys by the tag that names them in frames."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        self.by_tag: dict[bytes, tuple[str, bytes]] = {}
        from edge._validate import IDENTIFIER

        for deployment, key in keys.items():
            if not IDENTIFIER.fullmatch(deployment):  # names files in exports: never a path
                raise FrameError(
                    f"deployment id {deployment!r} must be 1-64 letters, digits, '.', '_' or '-', "
                    "not starting with '.' or '-'"
                )
            tag = deployment_tag(deployment)
            if tag in self.by_tag:
                raise FrameError(
                    f"deployments {self.by_tag[tag][0]!r} and {deployment!r} share a frame tag; rename one"
                )
            self.by_tag[tag] = (deployment, key)


def decode(data: bytes, keys: KeyRing, *, kinds: tuple[int, ...] = BUOY_KINDS) -> Decoded:
    """Verify and decode one frame; :class:`FrameError` for anything not accepted (a frame of
    an unknown deployment, a bad tag, a kind not in ``kinds``, a malformed body)."""
    data = bytes(data)
    if len(data) < OVERHEAD:
        raise FrameError(f"frame of {len(data)} bytes is shorter than the {OVERHEAD}-byte minimum", MALFORMED)
    vk, tag, seq = HEADER.unpack_from(data)
    found = keys.by_tag.get(tag)
    if found is None:
        raise FrameError(f"frame for unknown deployment tag {tag.hex()}", UNKNOWN_DEPLOYMENT)
    deployment, key = found
    expected = hmac.new(key, data[:-TAG_BYTES], hashlib.sha256).digest()[:TAG_BYTES]
    if not hmac.compare_digest(expected, data[-TAG_BYTES:]):
        raise FrameError(f"frame {seq} of {deployment!r}: authentication failed", BAD_MAC)
    version, kind = vk >> 4, vk & 0x0F
    if version != VERSION:
        raise FrameError(f"frame {seq} of {deployment!r}: version {version}, this decoder reads {VERSION}")
    if kind not in kinds:
        raise FrameError(f"frame {seq} of {deployment!r}: kind {kind} not accepted here")
    body = data[HEADER.size : -TAG_BYTES]
    try:
        if kind == KIND_RECORDS:
            return Decoded(deployment, seq, kind, records=_decode_records(body))
        if kind == KIND_TALLIES:
            return Decoded(deployment, seq, kind, tally=decode_tally(body))
        if kind == KIND_IDENTITY:
            return Decoded(deployment, seq, kind, identity=ident.decode(body))
        if kind == KIND_HEALTH:
            return Decoded(deployment, seq, kind, health=hl.decode(body))
        return Decoded(deployment, seq, kind, body=body)
    except (ValueError, IndexError, UnicodeDecodeError, struct.error) as exc:
        raise FrameError(f"frame {seq} of {deployment!r}: malformed: {exc}") from None
