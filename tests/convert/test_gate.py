"""The gate's event-level limit, as edge-convert applies it and bench_narw_days reports it from a card."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("torch")
from convert.gate import event_failures


def events(fp32, onnx, tflite):
    return {
        name: {"precision": p, "recall": r, "fp_per_hour": 0.0}
        for name, (p, r) in (("fp32", fp32), ("onnx_int8", onnx), ("tflite_int8", tflite))
    }


def test_files_within_the_limit_pass():
    assert event_failures(events((0.9, 0.8), (0.905, 0.8), (0.9, 0.795)), 0.01) == []


def test_each_file_and_measure_past_the_limit_is_named():
    got = event_failures(events((0.9, 0.8), (0.9, 0.75), (0.85, 0.8)), 0.01)
    assert got == [
        "onnx_int8 event recall differs from FP32 by 0.05 > 0.01",
        "tflite_int8 event precision differs from FP32 by 0.05 > 0.01",
    ]


def test_undefined_precision_is_equal_only_to_undefined():
    nan = math.nan
    # no detections from FP32 nor INT8: precision undefined on both sides, no failure
    assert event_failures(events((nan, 0.0), (nan, 0.0), (nan, 0.0)), 0.01) == []
    # INT8 detects where FP32 detected nothing: a failure, not a silent pass
    got = event_failures(events((nan, 0.0), (1.0, 0.02), (nan, 0.0)), 0.01)
    assert [g.split(" differs")[0] for g in got] == ["onnx_int8 event precision", "onnx_int8 event recall"]


def test_a_delta_just_past_the_limit_shows_the_digits_that_break_it():
    # 0.691176 against 0.681159 (a fold of the right-whale recipe): printed to four places it read "0.0100 > 0.01"
    assert event_failures(events((0.681159, 0.9), (0.681159, 0.9), (0.691176, 0.9)), 0.01) == [
        "tflite_int8 event precision differs from FP32 by 0.01002 > 0.01"
    ]
