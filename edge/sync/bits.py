"""Bit-level writer and reader for the frame codec: MSB first, Exp-Golomb codes, LEB128.

The reader raises :class:`ValueError` on anything short or malformed; it never reads past
the end or loops on hostile input.
"""

from __future__ import annotations

MAX_EG_ZEROS = 40  # an Exp-Golomb prefix longer than this is malformed


class BitWriter:
    def __init__(self) -> None:
        self.value = 0
        self.nbits = 0

    def write(self, value: int, nbits: int) -> None:
        if nbits == 0:
            return
        if not 0 <= value < (1 << nbits):
            raise ValueError(f"{value=} does not fit in {nbits} bits")
        self.value = (self.value << nbits) | value
        self.nbits += nbits

    def exp_golomb(self, value: int, k: int) -> None:
        """Exp-Golomb of order ``k`` of ``value >= 0``: small values in few bits, any size fits."""
        x = value + (1 << k)
        n = x.bit_length()
        self.write(0, n - k - 1)
        self.write(x, n)

    def to_bytes(self) -> bytes:
        pad = -self.nbits % 8
        return ((self.value << pad).to_bytes((self.nbits + pad) // 8, "big")) if self.nbits else b""


class BitReader:
    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "big")
        self.total = 8 * len(data)
        self.pos = 0

    def read(self, nbits: int) -> int:
        if self.pos + nbits > self.total:
            raise ValueError("bitstream ends inside a field")
        self.pos += nbits
        return (self.value >> (self.total - self.pos)) & ((1 << nbits) - 1)

    def exp_golomb(self, k: int) -> int:
        zeros = 0
        while self.read(1) == 0:
            zeros += 1
            if zeros > MAX_EG_ZEROS:
                raise ValueError("Exp-Golomb prefix too long")
        x = (1 << (zeros + k)) | self.read(zeros + k)
        return x - (1 << k)

    def check_padding(self) -> None:
        """The rest must be fewer than 8 zero bits (the pad of the last byte)."""
        rest = self.total - self.pos
        if rest >= 8 or self.read(rest) != 0:
            raise ValueError("trailing bits after the last record")


def zigzag(n: int) -> int:
    return 2 * n if n >= 0 else -2 * n - 1


def unzigzag(z: int) -> int:
    return z // 2 if z % 2 == 0 else -(z + 1) // 2


def leb128(value: int, *, max_bytes: int = 5) -> bytes:
    """``value`` as a minimal unsigned LEB128 of at most ``max_bytes`` (what
    :func:`read_leb128` accepts: a frame is never written that its decoder would refuse)."""
    if value < 0:
        raise ValueError(f"{value=} is negative")
    if value >> (7 * max_bytes):
        raise ValueError(f"{value=} does not fit a {max_bytes}-byte varint (at most {(1 << 7 * max_bytes) - 1})")
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_leb128(data: bytes, pos: int, *, max_bytes: int = 5) -> tuple[int, int]:
    value = shift = 0
    for i in range(max_bytes):
        if pos + i >= len(data):
            raise ValueError("varint runs past the end")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if i and byte == 0:
                raise ValueError("varint is not minimal")
            return value, pos + i + 1
    raise ValueError("varint too long")


def text(value: str, what: str = "text") -> bytes:
    """``value`` as a length-prefixed UTF-8 string (uint8 length): at most 255 bytes."""
    raw = value.encode()
    if len(raw) > 255:
        raise ValueError(f"{what} {value[:20]!r}... is longer than 255 bytes")
    return bytes((len(raw),)) + raw


def read_text(data: bytes, pos: int, what: str) -> tuple[str, int]:
    """The length-prefixed UTF-8 string at ``pos`` and the position after it."""
    if pos >= len(data):
        raise ValueError(f"{what} runs past the end")
    n = data[pos]
    raw = data[pos + 1 : pos + 1 + n]
    if len(raw) != n:
        raise ValueError(f"{what} runs past the end")
    return raw.decode(), pos + 1 + n
