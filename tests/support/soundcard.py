"""A simulated sound card as the ``sounddevice`` module: ``InputStream`` hands the blocks a test
feeds it to the capture's callback, as PortAudio's thread would, with its status flags."""

from __future__ import annotations

import types
from dataclasses import dataclass

import numpy as np


@dataclass
class Status:
    """PortAudio's CallbackFlags, as far as capture reads them."""

    input_overflow: bool = False

    def __bool__(self) -> bool:
        return self.input_overflow


class InputStream:
    """One device's input; ``feed`` delivers samples block by block to the callback."""

    opened: list[InputStream] = []
    refuse = 0  # this many next opens fail, as a device that is gone does

    def __init__(self, *, device, samplerate: int, channels: int, dtype: str, callback) -> None:
        if InputStream.refuse:
            InputStream.refuse -= 1
            raise OSError(f"Error querying device {device}")  # PortAudioError's words
        self.device, self.samplerate, self.channels, self.dtype = device, samplerate, channels, dtype
        self.callback = callback
        self.running = False
        InputStream.opened.append(self)

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False

    def close(self) -> None:
        pass

    def feed(self, samples: np.ndarray, *, block: int = 512, overflow_at: tuple[int, ...] = (), clock=None) -> None:
        """``samples`` (frames, channels) as int16 blocks of ``block`` frames; the blocks at the
        indexes ``overflow_at`` come flagged as an input overflow.  ``clock`` (a test's UTC
        clock, ``advance(seconds)``) moves on by each block's length before its callback, as
        time passes while a sound card fills a block."""
        assert self.running, "the stream was not started"
        data = np.clip(np.round(samples * 32767), -32768, 32767).astype(np.int16).reshape(-1, self.channels)
        for k, i in enumerate(range(0, len(data), block)):
            part = data[i : i + block]
            if clock is not None:
                clock.advance(len(part) / self.samplerate)
            self.callback(part, len(part), None, Status(k in overflow_at))


DEVICES = {None: 8, "hw:1,0": 2}  # input devices and their channels
RATES = (8000, 16000, 44100, 48000, 96000, 192000)


def check_input_settings(*, device=None, channels: int, dtype: str, samplerate: int) -> None:
    """sounddevice's check, with PortAudio's words: a device there is not, or settings it refuses."""
    if device not in DEVICES:
        raise ValueError(f"No input device matching {device!r}")
    if channels > DEVICES[device] or samplerate not in RATES:
        raise OSError("Invalid number of channels" if channels > DEVICES[device] else "Invalid sample rate")


def module() -> types.ModuleType:
    """A fresh ``sounddevice`` stand-in."""
    sd = types.ModuleType("sounddevice")
    InputStream.opened, InputStream.refuse = [], 0
    sd.InputStream = InputStream  # type: ignore[attr-defined]
    sd.check_input_settings = check_input_settings  # type: ignore[attr-defined]
    return sd
