"""INT8 arithmetic on the kernel paths users' CPUs take, so the gate checks what they will run.

onnxruntime fuses a QDQ graph into integer kernels chosen by the CPU. x86-64 with AVX-512 VNNI
and ARM64 accumulate exactly; AVX2-only x86-64 (Intel Haswell to Skylake client, AMD Zen 1-3)
multiplies U8S8 pairs with VPMADDUBSW, whose int16 pair sums saturate when full 8-bit weights
meet large activations (ARCHITECTURE.md, "INT8 on different CPUs"). The paths compared:

``reference``
    the QDQ graph unfused (``ORT_DISABLE_ALL``): dequantise, float op, quantise.  This is the
    arithmetic the exact integer kernels reproduce (measured: a VNNI host's fused output equals
    it to the bit), whatever CPU computes it, so golden vectors are taken from it.
``native``
    this process's CPU, fused, as the runtime runs it.
``avx2``
    the fused graph under ``qemu-x86_64 -cpu Haswell``: QEMU emulates no AVX-512, so
    onnxruntime takes its AVX2 kernels even on a VNNI host.  Used when this host is x86-64 and
    has VNNI (without VNNI, ``native`` already is that path) and ``qemu-x86_64`` is installed
    (Debian ``qemu-user``).

``python -m convert.kernels KIND MODEL INPUT.npy OUT.npz [IO.json]`` is what runs under QEMU: it
imports numpy and one inference library only (QEMU's emulator is slow to load much more).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from convert.infer import onnx_session

QEMU = "qemu-x86_64"
QEMU_CPU = "Haswell"  # AVX2 + FMA, no AVX-512: the saturating U8S8 path
QEMU_TIMEOUT_S = 900


def cpu_kind() -> str:
    """The integer-kernel family of this CPU: ``x86-64 VNNI``, ``x86-64 AVX2`` (saturating
    U8S8), ``x86-64`` (older), ``arm64`` or the machine name."""
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        return "arm64"
    if machine not in ("x86_64", "amd64"):
        return machine
    try:
        flags = next(
            (
                line.split(":", 1)[1].split()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("flags")
            ),
            [],
        )
    except OSError:
        flags = []
    if "avx512_vnni" in flags or "avx_vnni" in flags:
        return "x86-64 VNNI"
    return "x86-64 AVX2" if "avx2" in flags else "x86-64"


def emulated_avx2_reason() -> str | None:
    """Why the ``avx2`` path cannot or need not be emulated here, or None when it will be."""
    kind = cpu_kind()
    if not kind.startswith("x86-64"):
        return f"this host is {kind}: QEMU's user-mode x86-64 emulation is not used for it"
    if kind != "x86-64 VNNI":
        return f"this host is {kind}: the native path is the AVX2 one"
    if shutil.which(QEMU) is None:
        return f"{QEMU} is not installed (Debian package qemu-user): the AVX2 path is not checked"
    return None


def emulated_avx2(kind: str, model: bytes, x: np.ndarray, io: dict | None = None) -> dict[str, np.ndarray]:
    """Outputs of ``model`` (``kind`` onnx or tflite) on ``x`` computed by this interpreter
    under ``qemu-x86_64 -cpu Haswell``; raises RuntimeError with QEMU's message on failure."""
    with tempfile.TemporaryDirectory(prefix="pamedge-avx2-") as tmp:
        files = {n: Path(tmp) / n for n in ("model", "x.npy", "out.npz", "io.json")}
        files["model"].write_bytes(model)
        np.save(files["x.npy"], np.ascontiguousarray(x, dtype=np.float32))
        files["io.json"].write_text(json.dumps(io or {}))
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        cmd = [
            QEMU,
            "-cpu",
            QEMU_CPU,
            sys.executable,
            "-m",
            "convert.kernels",
            kind,
            *(str(files[n]) for n in ("model", "x.npy", "out.npz", "io.json")),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=QEMU_TIMEOUT_S)
        if done.returncode != 0:
            tail = [line for line in done.stderr.splitlines() if "TCG doesn't support" not in line][-3:]
            raise RuntimeError(f"{' '.join(cmd[:3])}: exit {done.returncode}: {' | '.join(tail)}")
        with np.load(files["out.npz"]) as data:
            return {k: data[k] for k in data.files}


def _probe(argv: list[str]) -> None:
    kind, model, x_path, out, io_path = argv
    x = np.load(x_path)
    if kind == "onnx":
        session = onnx_session(model)
        names = [o.name for o in session.get_outputs()]
        outputs = dict(zip(names, session.run(names, {session.get_inputs()[0].name: x})))
    else:
        from convert.infer import TfliteModel

        io = json.loads(Path(io_path).read_text())
        outputs = TfliteModel(Path(model).read_bytes(), io["input"], io["outputs"])(x)
    np.savez(out, **outputs)


if __name__ == "__main__":
    _probe(sys.argv[1:])
