"""Golden vectors and per-window latency, measured on the converting machine."""

from __future__ import annotations

import io
import platform
import time

import numpy as np

from convert.graph import Exported, torch_logits


def golden_inputs(held: np.ndarray, k: int, seed: int) -> np.ndarray:
    """``k`` synthetic standardised windows: seeded noise shaped by the held-out windows'
    per-feature mean and spread.  They drive the network through realistic activation ranges
    while no window of a recording ships in the bundle (some training data carry no licence
    to redistribute, and a spectrogram crop is a piece of the recording)."""
    mean = held.mean(axis=(0, 1))
    spread = held.std(axis=(0, 1)) + 1e-6
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((k, *held.shape[1:])).astype(np.float32)
    # float16-exact values: stored as float16, half the bytes, and the same numbers on the device
    return (mean + spread * x).astype(np.float16).astype(np.float32)


def golden(graph: Exported, x: np.ndarray, files: dict) -> bytes:
    """``golden.npz``: ``input`` (standardised windows) and the logits per output of FP32 torch
    (``fp32/<output>``) and of each INT8 file (``<file>/<output>``)."""
    arrays = {"input": np.ascontiguousarray(x, dtype=np.float16)}  # golden_inputs are float16-exact
    for name, logits in [("fp32", torch_logits(graph, x)), *((k, m(x)) for k, m in files.items())]:
        for out, value in logits.items():
            arrays[f"{name}/{out}"] = np.asarray(value, dtype=np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def latency_ms(model, window: np.ndarray, repeats: int) -> float:
    """Median wall time of one window through ``model`` (after one warm-up call)."""
    x = window[None].astype(np.float32)
    model(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t)
    return round(float(np.median(times)) * 1000, 4)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{cpu}, {platform.system()} {platform.machine()}, 1 thread"
