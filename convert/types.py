"""Options, records and errors of the converter (``edge-convert``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.errors import PamedgeError

# ONNX quantisation schemes -> (activations, weights) as the card states them; how each is
# made is convert.quantise_onnx.SCHEMES, what each costs is benchmarks/RESULTS.md
SCHEMES = {
    "u8s7": ("uint8", "int8 (7-bit range)"),
    "u8s8": ("uint8", "int8"),
    "u8u8": ("uint8", "uint8"),
    "s8s8": ("int8", "int8"),
}


class ConvertError(PamedgeError, ValueError):
    """A run folder cannot be converted; the message names the file or value."""


class GateError(ConvertError):
    """The INT8 files do not match the FP32 model closely enough; ``table`` is the comparison."""

    def __init__(self, message: str, table: str) -> None:
        super().__init__(message)
        self.table = table


@dataclass(frozen=True)
class ConvertOptions:
    """How to convert one run (``edge-convert`` options)."""

    onnx_scheme: str = "u8s7"  # ONNX (activations, weights): convert.quantise_onnx.SCHEMES
    calibration_windows: int = 512
    min_agreement: float = 0.99  # argmax agreement of each INT8 file with FP32 torch
    max_event_delta: float = 0.01  # |INT8 - FP32| of event precision and recall
    threshold: float = 0.5  # detection threshold of the event-level comparison
    golden_windows: int = 4
    # edge-selftest's limit on |scores - golden| (card golden.tolerance); every kernel path the
    # gate can reach (convert.kernels) must stay within tolerance / golden_margin of the reference
    golden_tolerance: float = 0.03
    golden_margin: float = 2.0
    latency_repeats: int = 50
    seed: int = 0
    name: str | None = None  # bundle name (default: the output folder's name)
    description: str = ""
    force: bool = False  # replace an existing bundle

    def __post_init__(self) -> None:
        if self.onnx_scheme not in SCHEMES:
            raise ConvertError(f"onnx_scheme={self.onnx_scheme!r} is not one of {', '.join(SCHEMES)}")
        if not 0 < self.golden_tolerance < 1:
            raise ConvertError(f"golden_tolerance={self.golden_tolerance!r} must be in (0, 1)")
        if not self.golden_margin >= 1:
            raise ConvertError(f"golden_margin={self.golden_margin!r} must be >= 1")
        if not (isinstance(self.calibration_windows, int) and self.calibration_windows >= 1):
            raise ConvertError(f"calibration_windows={self.calibration_windows!r} must be an integer >= 1")
        if not 0 <= self.max_event_delta:
            raise ConvertError(f"max_event_delta={self.max_event_delta!r} must be >= 0")
        if not (isinstance(self.golden_windows, int) and self.golden_windows >= 1):
            raise ConvertError(f"golden_windows={self.golden_windows!r} must be an integer >= 1")


@dataclass(frozen=True)
class Output:
    """One graph output: its name, classes and the activation the runtime applies."""

    name: str
    classes: tuple
    activation: str  # softmax | sigmoid


@dataclass
class Converted:
    """What the conversion made, before the gate decides whether it becomes a bundle."""

    fp32_onnx: bytes
    onnx_int8: bytes
    tflite_int8: bytes
    tflite_input: dict  # {scale, zero_point}
    tflite_outputs: dict  # output name -> {name (tensor), scale, zero_point}
    float_ops: dict = field(default_factory=dict)  # {"onnx": [...], "tflite": [...]}
    calibration_windows: int = 0  # how many were used (the train part may hold fewer than asked)
