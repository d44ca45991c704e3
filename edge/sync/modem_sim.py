"""A RockBLOCK 9602/9603 simulator on a pseudo-terminal, with injectable faults.

    python -m edge.sync.modem_sim --link /tmp/modem --gateway DIR [--seed N] [faults]

Opens a pty, links its device at ``--link`` (open it with pyserial like a real port) and
answers the AT protocol of ``edge.sync.iridium``.  A successful SBDIX "delivers" the MO buffer
as RockBLOCK's web hook would: a JSON file ``{imei, momsn, transmit_time, data (hex)}`` in
``--gateway`` (names random, so a folder read is in another order than sent).  MT messages
are files dropped in ``--mt-dir`` (taken in name order).  Faults, each a probability per
event, drawn from a seeded RNG:

  --fail-rate P        SBDIX MO status 10, 13, 32 or 35 (nothing delivered)
  --die-rate P         the session dies mid-way: no reply; delivered or not (half each)
  --checksum-rate P    the payload is corrupted on the serial line: SBDWB result 2
  --garble-rate P      the gateway also delivers a corrupted copy of the message
  --dup-rate P         the gateway delivers the message twice
  --power-loss-rate P  power loss at SBDIX: silent for --power-loss-s, buffers lost
  --no-network         every session fails with MO status 32 and CSQ is 0

Prints ``ready <device>`` on stdout when it listens.  Runs until killed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import select
import sys
import time
import tty
from pathlib import Path

MO_MAX = 340


def checksum(data: bytes) -> bytes:
    return (sum(data) & 0xFFFF).to_bytes(2, "big")


class Simulator:
    def __init__(self, fd: int, args: argparse.Namespace) -> None:
        self.fd, self.args = fd, args
        self.rnd = random.Random(args.seed)
        self.echo = True
        self.mo = b""
        self.momsn = args.momsn
        self.mtmsn = 0
        self.mt = b""
        self.silent_until = 0.0
        self.ring_alerts = False
        self.buf = bytearray()
        self.gateway = Path(args.gateway)
        self.gateway.mkdir(parents=True, exist_ok=True)
        self.mt_dir = Path(args.mt_dir) if args.mt_dir else None

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)

    def line(self, text: str) -> None:
        self.write(f"\r\n{text}\r\n".encode())

    def read_some(self, timeout_s: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout_s)
        if not ready:
            return False
        try:
            self.buf += os.read(self.fd, 4096)
        except OSError:  # no one has the port open: wait
            time.sleep(0.05)
            return False
        return True

    def run(self) -> None:
        while True:
            self.read_some(0.5)
            while (i := self.buf.find(b"\r")) >= 0:
                raw, self.buf = bytes(self.buf[:i]), self.buf[i + 1 :]
                text = raw.decode("ascii", "replace").strip().lstrip("\n")
                if time.monotonic() < self.silent_until:
                    continue  # powered off: commands are lost
                if text:
                    self.handle(text)

    def delivered(self, data: bytes) -> None:
        self.momsn = (self.momsn + 1) % 65536
        when = dt.datetime.now(dt.timezone.utc).strftime("%y-%m-%d %H:%M:%S")
        copies = [data]
        if self.rnd.random() < self.args.dup_rate:
            copies.append(data)
        if self.rnd.random() < self.args.garble_rate:
            bad = bytearray(data)
            bad[self.rnd.randrange(len(bad))] ^= 1 << self.rnd.randrange(8)
            copies.append(bytes(bad))
        for copy in copies:
            if copy != data:  # a corrupted message is a message of its own
                self.momsn = (self.momsn + 1) % 65536
            doc = {"imei": self.args.imei, "momsn": self.momsn, "transmit_time": when, "data": copy.hex()}
            name = f"{self.rnd.getrandbits(48):012x}.json"
            tmp = self.gateway / f".{name}.tmp"
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, self.gateway / name)

    def next_mt(self) -> tuple[bytes, int]:
        if self.mt_dir is None or not self.mt_dir.is_dir():
            return b"", 0
        queued = sorted(p for p in self.mt_dir.iterdir() if not p.name.startswith("."))
        if not queued:
            return b"", 0
        data = queued[0].read_bytes()[:270]
        queued[0].unlink()
        return data, len(queued) - 1

    def handle(self, text: str) -> None:
        if self.echo:
            self.write(text.encode() + b"\r")
        upper = text.upper()
        a = self.args
        if upper in ("AT", "AT&K0", "AT+SBDMTA=0", "AT+SBDMTA=1"):
            self.ring_alerts = (
                upper.startswith("AT+SBDMTA")
                and upper.endswith("1")
                or (self.ring_alerts and not upper.startswith("AT+SBDMTA"))
            )
            self.line("OK")
            if (
                self.ring_alerts
                and self.mt_dir is not None
                and any(not p.name.startswith(".") for p in self.mt_dir.iterdir())
            ):
                self.write(b"SBDRING\r\n")  # unsolicited: an MT message waits at the gateway
        elif upper in ("ATE0", "ATE1"):
            self.echo = upper == "ATE1"
            self.line("OK")
        elif upper == "AT+CSQ":
            self.line(f"+CSQ:{0 if a.no_network else a.csq}")
            self.line("OK")
        elif upper.startswith("AT+SBDD") and upper[7:] in ("0", "1", "2"):
            if upper[7:] in ("0", "2"):
                self.mo = b""
            if upper[7:] in ("1", "2"):
                self.mt = b""
            self.line("0")
            self.line("OK")
        elif upper.startswith("AT+SBDWB="):
            self.sbdwb(text)
        elif upper in ("AT+SBDIX", "AT+SBDIXA"):
            self.sbdix()
        elif upper == "AT+SBDRB":
            self.write(len(self.mt).to_bytes(2, "big") + self.mt + checksum(self.mt))
            self.line("OK")
        else:
            self.line("ERROR")

    def sbdwb(self, text: str) -> None:
        try:
            n = int(text.split("=", 1)[1])
        except ValueError:
            self.line("ERROR")
            return
        if not 1 <= n <= MO_MAX:
            self.line("3")
            self.line("OK")
            return
        self.line("READY")
        deadline = time.monotonic() + self.args.write_timeout_s
        while len(self.buf) < n + 2 and time.monotonic() < deadline:
            self.read_some(0.05)
        if len(self.buf) < n + 2:
            self.buf.clear()
            self.line("1")
            self.line("OK")
            return
        data, cks, self.buf = bytes(self.buf[:n]), bytes(self.buf[n : n + 2]), self.buf[n + 2 :]
        if self.rnd.random() < self.args.checksum_rate:
            data = bytes([data[0] ^ 0x40]) + data[1:]  # noise on the line
        if checksum(data) != cks:
            self.line("2")
        else:
            self.mo = data
            self.line("0")
        self.line("OK")

    def sbdix(self) -> None:
        a, r = self.args, self.rnd.random()
        if r < a.power_loss_rate:
            self.mo, self.mt = b"", b""
            self.silent_until = time.monotonic() + a.power_loss_s
            self.buf.clear()
            return
        r -= a.power_loss_rate
        if r < a.die_rate:
            if self.mo and self.rnd.random() < 0.5:
                self.delivered(self.mo)
            return  # no reply: the caller times out
        r -= a.die_rate
        if a.no_network or r < a.fail_rate:
            status = 32 if a.no_network else self.rnd.choice((10, 13, 32, 35))
            self.line(f"+SBDIX: {status}, {self.momsn}, 2, {self.mtmsn}, 0, 0")
            self.line("OK")
            return
        if self.mo:  # an empty MO buffer makes the session a mailbox check
            self.delivered(self.mo)
        mt, queued = self.next_mt()
        if mt:
            self.mtmsn += 1
            self.mt = mt
        self.line(f"+SBDIX: 0, {self.momsn}, {1 if mt else 0}, {self.mtmsn}, {len(mt)}, {queued}")
        self.line("OK")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m edge.sync.modem_sim", description=__doc__.split("\n\n")[0])
    p.add_argument("--link", required=True, help="path of the symlink to the pty device")
    p.add_argument("--gateway", required=True, help="folder receiving delivered MO messages (web-hook JSON)")
    p.add_argument("--mt-dir", default=None, help="folder of MT messages to deliver")
    p.add_argument("--imei", default="300234010000000")
    p.add_argument("--momsn", type=int, default=0, help="MOMSN of the last message (wraps at 65535)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--csq", type=int, default=4)
    p.add_argument("--write-timeout-s", type=float, default=60.0)
    p.add_argument("--power-loss-s", type=float, default=1.0)
    for name in ("fail-rate", "die-rate", "checksum-rate", "garble-rate", "dup-rate", "power-loss-rate"):
        p.add_argument(f"--{name}", type=float, default=0.0)
    p.add_argument("--no-network", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    master, slave = os.openpty()
    tty.setraw(slave)  # a serial line: no echo, no CR/LF translation by the kernel
    device = os.ttyname(slave)
    link = Path(args.link)
    tmp = link.with_name(f".{link.name}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(device)
    os.replace(tmp, link)
    print(f"ready {device}", flush=True)
    try:
        Simulator(master, args).run()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
