"""Iridium SBD over a RockBLOCK 9602/9603 serial link (pyserial, 19200 baud 8N1).

The AT sequence (ARCHITECTURE.md): ``AT+SBDWB=<n>`` -> ``READY`` -> payload + 2-byte checksum
(low 16 bits of the byte sum, high byte first) -> result 0 ok / 1 timeout / 2 bad checksum /
3 bad size; ``AT+SBDIX`` -> ``+SBDIX: <MO status>,<MOMSN>,<MT status>,<MTMSN>,<MT length>,
<MT queued>`` (MO status 0-4 success); ``AT+SBDRB`` -> [len:2][payload][checksum:2];
``AT+SBDD0/1/2`` clears the MO / MT / both buffers (a successful send does not clear MO);
``AT+CSQ`` -> 0-5 bars; unsolicited ``SBDRING`` is a ring alert (MT waiting).  Every read has
a timeout; anything unexpected raises :class:`ModemError`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from edge.errors import MissingExtraError, PamedgeError

SYNC_HINT = 'pip install "pamedge[sync]"'
BAUD = 19200
MO_MAX, MT_MAX = 340, 270
SBDWB_RESULTS = {0: "ok", 1: "timeout", 2: "bad checksum", 3: "bad size"}
MO_FAILURES = {
    10: "call did not complete in time",
    13: "session incomplete (gateway)",
    32: "no network service",
    35: "Iridium busy",
    36: "busy (try later)",
    17: "gateway not responding",
    18: "connection lost (RF drop)",
}


class ModemError(PamedgeError, OSError):
    """The modem did not answer as the protocol says (timeout, ERROR, garbled reply)."""


def checksum(data: bytes) -> bytes:
    return (sum(data) & 0xFFFF).to_bytes(2, "big")


@dataclass(frozen=True)
class SbdixResult:
    mo_status: int
    momsn: int
    mt_status: int  # 0 nothing, 1 received, 2 error checking the mailbox
    mtmsn: int
    mt_length: int
    mt_queued: int

    @property
    def ok(self) -> bool:
        return 0 <= self.mo_status <= 4

    @classmethod
    def parse(cls, line: str) -> SbdixResult:
        if not line.startswith("+SBDIX:"):
            raise ModemError(f"expected +SBDIX, got {line!r}")
        try:
            values = [int(x) for x in line[len("+SBDIX:") :].split(",")]
        except ValueError:
            raise ModemError(f"garbled SBDIX reply {line!r}") from None
        if len(values) != 6:
            raise ModemError(f"SBDIX reply has {len(values)} fields, expected 6: {line!r}")
        return cls(*values)


@dataclass
class SendResult:
    ok: bool
    detail: str
    sbdix: SbdixResult | None = None
    mt: list[bytes] = field(default_factory=list)

    @property
    def mt_queued(self) -> int:
        """Downlink messages still waiting at the gateway after this session."""
        return self.sbdix.mt_queued if self.sbdix is not None else 0


class IridiumModem:
    """One RockBLOCK on a serial port (or a simulator's pseudo-terminal)."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = BAUD,
        timeout_s: float = 5.0,
        session_timeout_s: float = 90.0,
        write_retries: int = 3,
    ) -> None:
        try:
            import serial
        except ImportError:
            raise MissingExtraError(f"the Iridium transport needs pyserial: {SYNC_HINT}") from None
        self.timeout_s, self.session_timeout_s, self.write_retries = timeout_s, session_timeout_s, write_retries
        try:
            self.port = serial.Serial(port, baudrate=baudrate, bytesize=8, parity="N", stopbits=1, timeout=0.05)
        except (serial.SerialException, OSError) as exc:
            raise ModemError(f"{port}: cannot open the modem: {exc}") from None
        self.ring = False
        self._buf = bytearray()
        self.sync()

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> IridiumModem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- line protocol ---------------------------------------------------------------------

    def _fill(self, deadline: float) -> None:
        if time.monotonic() > deadline:
            raise ModemError("timed out waiting for the modem")
        chunk = self.port.read(max(1, self.port.in_waiting))
        self._buf += chunk

    def _read_exact(self, n: int, timeout_s: float) -> bytes:
        deadline = time.monotonic() + timeout_s
        while len(self._buf) < n:
            self._fill(deadline)
        out, self._buf = bytes(self._buf[:n]), self._buf[n:]
        return out

    def _readline(self, timeout_s: float) -> str:
        """The next non-empty line (ring alerts noted and skipped)."""
        deadline = time.monotonic() + timeout_s
        while True:
            i = self._buf.find(b"\r\n")
            if i < 0:
                self._fill(deadline)
                continue
            raw, self._buf = bytes(self._buf[:i]), self._buf[i + 2 :]
            line = raw.decode("ascii", "replace").strip()
            if line == "SBDRING":
                self.ring = True
            elif line:
                return line

    def _send(self, command: str) -> None:
        self.port.write(command.encode("ascii") + b"\r")

    def command(self, command: str, timeout_s: float | None = None) -> list[str]:
        """Send ``command``; the lines before ``OK`` (``ERROR`` raises)."""
        self._send(command)
        lines: list[str] = []
        while True:
            line = self._readline(timeout_s or self.timeout_s)
            if line == "OK":
                return lines
            if line == "ERROR":
                raise ModemError(f"{command}: ERROR")
            if line != command:  # an echo, if echo is on
                lines.append(line)

    def sync(self) -> None:
        """Resynchronise after a restart or an aborted exchange: flush, echo off."""
        self.port.reset_input_buffer()
        self._buf.clear()
        self.port.write(b"\r")
        time.sleep(0.05)
        self.port.reset_input_buffer()
        for attempt in range(3):
            try:
                self.command("ATE0")
                self.command("AT&K0")  # no hardware flow control on a 3-wire RockBLOCK link
                return
            except ModemError:
                if attempt == 2:
                    raise
                time.sleep(0.2)
                self.port.reset_input_buffer()
                self._buf.clear()

    # -- SBD -------------------------------------------------------------------------------

    def csq(self) -> int:
        for line in self.command("AT+CSQ", timeout_s=max(self.timeout_s, 10)):
            if line.startswith("+CSQ:"):
                return int(line[5:])
        raise ModemError("AT+CSQ: no +CSQ line")

    def enable_ring_alerts(self) -> None:
        self.command("AT+SBDMTA=1")

    def clear(self, which: int = 0) -> None:
        lines = self.command(f"AT+SBDD{which}")
        if lines and lines[0] != "0":
            raise ModemError(f"AT+SBDD{which}: result {lines[0]}")

    def write_mo(self, data: bytes) -> None:
        """Load the MO buffer; retries a bad checksum (noise on the serial link)."""
        if not 1 <= len(data) <= MO_MAX:
            raise ModemError(f"MO message of {len(data)} bytes; 1..{MO_MAX} allowed")
        for _ in range(self.write_retries):
            self._send(f"AT+SBDWB={len(data)}")
            line = self._readline(self.timeout_s)
            if line == f"AT+SBDWB={len(data)}":
                line = self._readline(self.timeout_s)
            if line != "READY":
                raise ModemError(f"AT+SBDWB: expected READY, got {line!r}")
            self.port.write(data + checksum(data))
            result = self._readline(self.timeout_s)
            if self._readline(self.timeout_s) != "OK":
                raise ModemError("AT+SBDWB: no OK")
            if result == "0":
                return
            if result != "2":
                raise ModemError(
                    f"AT+SBDWB: result {result} ({SBDWB_RESULTS.get(int(result), '?') if result.isdigit() else '?'})"
                )
        raise ModemError(f"AT+SBDWB: bad checksum {self.write_retries} times")

    def session(self) -> SbdixResult:
        lines = self.command("AT+SBDIXA" if self.ring else "AT+SBDIX", timeout_s=self.session_timeout_s)
        self.ring = False
        for line in lines:
            if line.startswith("+SBDIX:"):
                return SbdixResult.parse(line)
        raise ModemError(f"AT+SBDIX: no +SBDIX line in {lines!r}")

    def read_mt(self) -> bytes:
        self._send("AT+SBDRB")
        head = self._read_exact(2, self.timeout_s)
        if head == b"AT":  # echo on: skip the echoed command line
            self._readline(self.timeout_s)
            head = self._read_exact(2, self.timeout_s)
        n = int.from_bytes(head, "big")
        if n > MT_MAX:
            raise ModemError(f"AT+SBDRB: MT length {n} > {MT_MAX}")
        payload = self._read_exact(n, self.timeout_s)
        if self._read_exact(2, self.timeout_s) != checksum(payload):
            raise ModemError("AT+SBDRB: bad MT checksum")
        if self._readline(self.timeout_s) != "OK":
            raise ModemError("AT+SBDRB: no OK")
        return payload

    def check_mailbox(self) -> SendResult:
        """A session with an empty MO buffer: fetches a waiting MT message, sends nothing."""
        try:
            self.clear(0)
            result = self.session()
            mt = [self.read_mt()] if result.mt_status == 1 else []
            return SendResult(result.ok, f"mailbox: MT status {result.mt_status}", result, mt)
        except ModemError as exc:
            return SendResult(False, str(exc))

    def send(self, data: bytes) -> SendResult:
        """One MO message in one session; downlink messages that arrive with it are read."""
        try:
            self.write_mo(data)
            result = self.session()
            mt = [self.read_mt()] if result.mt_status == 1 else []
            if result.ok:
                self.clear(0)
                return SendResult(True, f"MOMSN {result.momsn}", result, mt)
            return SendResult(
                False, f"MO status {result.mo_status} ({MO_FAILURES.get(result.mo_status, 'failed')})", result, mt
            )
        except ModemError as exc:
            try:
                self.sync()
            except ModemError:
                pass
            return SendResult(False, str(exc))
