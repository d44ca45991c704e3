"""Check each install route of the README's table of boards: do PyPI's wheels exist for it?

    python .ci/install_routes.py      # make check-routes; needs PyPI, downloads about 200 MB

For each route (board, Python, platform tags) every binary package pamedge's runtime and the
route's backend need is fetched with ``pip download --only-binary :all: --no-deps`` into a
temporary folder.  A supported route must resolve completely; the table prints each package's
wheel, and the exit status is 1 when a supported route misses one.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

AARCH64 = [
    "manylinux_2_35_aarch64",
    "manylinux_2_28_aarch64",
    "manylinux_2_27_aarch64",
    "manylinux_2_17_aarch64",
    "manylinux2014_aarch64",
]
ARMV7 = ["manylinux_2_36_armv7l", "manylinux_2_31_armv7l", "manylinux2014_armv7l", "linux_armv7l"]
X86_64 = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"]
RUNTIME = ["numpy", "scipy", "soundfile"]
ORT = "onnxruntime==1.31.1"
ORT_PY310 = "onnxruntime==1.23.2"
LITERT = "ai-edge-litert==2.3.0"

# (route, python, platforms, packages, supported)
ROUTES = [
    ("x86-64 Linux workstation", "3.11", X86_64, [*RUNTIME, ORT, LITERT], True),
    ("Raspberry Pi OS 64-bit (Bookworm, Pi 4/5/Zero 2 W)", "3.11", AARCH64, [*RUNTIME, ORT, LITERT], True),
    ("Jetson JetPack 6 (Ubuntu 22.04, Orin)", "3.10", AARCH64, [*RUNTIME, ORT_PY310, LITERT], True),
    ("Raspberry Pi OS 32-bit (armv7l)", "3.11", ARMV7, [*RUNTIME, "tflite-runtime==2.14.0"], False),
]


def fetch(package: str, python: str, platforms: list[str], into: Path) -> str:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "-q",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--python-version",
        python,
        "-d",
        str(into),
        *(a for p in platforms for a in ("--platform", p)),
        package,
    ]
    before = set(into.iterdir())
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        return ""
    new = set(into.iterdir()) - before
    return next(iter(new)).name if new else "(already fetched)"


def main() -> int:
    missing_supported = 0
    with tempfile.TemporaryDirectory(prefix="pamedge-routes-") as tmp:
        for route, python, platforms, packages, supported in ROUTES:
            print(f"{route} (Python {python}){'' if supported else ' [not supported: shown for the record]'}")
            folder = Path(tmp) / route.replace(" ", "_").replace("/", "_")
            folder.mkdir()
            for package in packages:
                wheel = fetch(package, python, platforms, folder)
                print(f"  {'ok  ' if wheel else 'MISS'} {package:<24} {wheel or 'no wheel on PyPI'}")
                if not wheel and supported:
                    missing_supported += 1
    return 1 if missing_supported else 0


if __name__ == "__main__":
    sys.exit(main())
