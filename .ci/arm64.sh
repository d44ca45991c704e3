#!/usr/bin/env bash
# The runtime on 64-bit ARM, emulated: Debian's arm64 Python with PyPI's aarch64 wheels (the same
# versions as .venv) under qemu-aarch64, as a Raspberry Pi 4 (Cortex-A72), a Pi 5 (Cortex-A76) and
# a Neoverse-N1 (Graviton2); the last two have the dot-product instructions INT8 kernels use.
#
#     make check-arm64          # root, apt-get (Debian), PyPI; about 2 min to set up, 5 to run
#
# Runs edge-selftest --backend all for every shipped bundle on the three CPUs, then the tests whose
# results depend on the CPU's arithmetic (frontend and streaming exactness, levels, resampling,
# ROIs, clicks, the shipped bundles) on the Cortex-A72.  Everything lives in .arm64/ (ignored by
# git).  Where the host cannot emulate (no root, no apt-get, no qemu-aarch64, no private mounts)
# it says so and exits 0, as `make system-deps` does; a failing check exits 1.
#
# Two things of this host are adjusted, both needed for emulation only: Debian's arm64 package
# index is added (dpkg --add-architecture arm64), and qemu-aarch64 is registered with binfmt_misc
# (tests start interpreters of their own).  QEMU 7.2 shows the host's x86 /proc/cpuinfo to ARM
# programs and onnxruntime's CPU probe crashes on it, so each run sees an ARM one, bind-mounted
# in a private mount namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=$ROOT/.arm64
HOST_PY=$ROOT/.venv/bin/python
PYVER=3.11

skip() { echo "check-arm64: skipped: $*"; exit 0; }
[ "$(uname -m)" = x86_64 ] || skip "this host is $(uname -m), not x86-64 (on 64-bit ARM, make test runs natively)"
[ "$(id -u)" = 0 ] || skip "needs root (binfmt_misc, a private mount of /proc/cpuinfo)"
command -v apt-get >/dev/null || skip "no apt-get: Debian's arm64 Python comes from apt"
command -v qemu-aarch64 >/dev/null || skip "no qemu-aarch64 (Debian qemu-user; make system-deps)"
[ -x "$HOST_PY" ] || skip "no .venv (make install first)"
mkdir -p "$DIR"

# --- what ARM programs read of this CPU -------------------------------------------------------------
cpuinfo() {  # $1: CPU part, $2: extra features
    for i in 0 1; do
        printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid%s\n' "$i" "$2"
        printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: %s\nCPU revision\t: 3\n\n' "$1"
    done
}
cpuinfo 0xd08 "" >"$DIR/cpuinfo-cortex-a72"
cpuinfo 0xd0b " atomics fphp asimdhp asimdrdm lrcpc dcpop asimddp" >"$DIR/cpuinfo-cortex-a76"
cpuinfo 0xd0c " atomics fphp asimdhp asimdrdm lrcpc dcpop asimddp" >"$DIR/cpuinfo-neoverse-n1"

unshare -m bash -c 'mount --bind "$1" /proc/cpuinfo' _ "$DIR/cpuinfo-cortex-a72" 2>/dev/null ||
    skip "cannot bind-mount an ARM /proc/cpuinfo in a private mount namespace"

# --- an arm64 Python from Debian's packages, unpacked (not installed) into a sysroot ----------
DEBS=(python$PYVER-minimal libpython$PYVER-minimal libpython$PYVER-stdlib libc6 zlib1g libexpat1 libffi8
    libssl3 libsqlite3-0 libbz2-1.0 liblzma5 libgcc-s1 libstdc++6 libuuid1 libncursesw6 libtinfo6
    libreadline8 libnsl2 libtirpc3 libcrypt1 libdb5.3 libgdbm6 libgssapi-krb5-2 libkrb5-3 libk5crypto3
    libkrb5support0 libcom-err2 libkeyutils1 libzstd1)
if [ ! -x "$DIR/root/usr/bin/python$PYVER" ]; then
    dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
    apt-get update -qq || skip "apt-get update failed"
    rm -rf "$DIR/debs" "$DIR/root" && mkdir -p "$DIR/debs"
    chown _apt "$DIR/debs" 2>/dev/null || true  # apt downloads as _apt where it can
    (cd "$DIR/debs" && apt-get download -qq "${DEBS[@]/%/:arm64}") || skip "could not download Debian's arm64 packages"
    for deb in "$DIR"/debs/*.deb; do dpkg-deb -x "$deb" "$DIR/root"; done
fi

# --- binfmt_misc: an aarch64 program started by a test runs under QEMU too -----------------------
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
    skip "cannot mount binfmt_misc"
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'"$(command -v qemu-aarch64)"':' \
        >/proc/sys/fs/binfmt_misc/register || skip "cannot register qemu-aarch64 with binfmt_misc"
fi
export QEMU_LD_PREFIX=$DIR/root

# --- the runtime's wheels for aarch64, at the versions .venv was tested with --------------------
PACKAGES=(numpy scipy soundfile PyYAML click tqdm soxr onnxruntime ai-edge-litert pytest hypothesis
    pyserial paho-mqtt pytest-xdist execnet pip setuptools)
pins=$("$HOST_PY" -m pip freeze --all 2>/dev/null | grep -iE "^($(IFS='|'; echo "${PACKAGES[*]}"))==" | sort)
if [ ! -f "$DIR/site/.pins" ] || [ "$(cat "$DIR/site/.pins")" != "$pins" ]; then
    rm -rf "$DIR/site"
    tags=()
    for t in manylinux_2_17 manylinux_2_27 manylinux_2_28 manylinux_2_31 manylinux2014; do tags+=(--platform "${t}_aarch64"); done
    # shellcheck disable=SC2086
    "$HOST_PY" -m pip install -q --target "$DIR/site" "${tags[@]}" --platform linux_aarch64 --python-version $PYVER \
        --implementation cp --only-binary=:all: $pins ||
        { echo "check-arm64: FAILED: PyPI has no aarch64 wheel for one of: $pins"; exit 1; }
    echo "$pins" >"$DIR/site/.pins"
fi
if [ ! -x "$DIR/venv/bin/edge-selftest" ]; then
    rm -rf "$DIR/venv"
    "$DIR/root/usr/bin/python$PYVER" -m venv --without-pip --system-site-packages "$DIR/venv"
    echo "$DIR/site" >"$DIR/venv/lib/python$PYVER/site-packages/arm64-site.pth"
    "$DIR/venv/bin/python" -m pip install -q --no-deps --no-build-isolation -e "$ROOT"
fi

on_arm() {  # $1: QEMU CPU model; the rest: the command, run in the repository
    local cpu=$1
    shift
    unshare -m bash -c 'mount --bind "$1" /proc/cpuinfo && export QEMU_CPU="$2" PATH="$3:$PATH" && shift 3 && exec "$@"' \
        _ "$DIR/cpuinfo-$cpu" "$cpu" "$DIR/venv/bin" "$@"
}

status=0
for cpu in cortex-a72 cortex-a76 neoverse-n1; do
    echo "== edge-selftest --backend all on $cpu ($(on_arm $cpu python -c 'import platform; print(platform.machine())'))"
    on_arm $cpu edge-selftest --backend all 2>&1 | grep -v "XNNPACK delegate" || status=1
done
echo "== tests on cortex-a72"
on_arm cortex-a72 python -m pytest -q -p no:cacheprovider -n 2 \
    tests/edge/test_frontend.py tests/edge/test_first_frame.py tests/edge/test_levels.py tests/edge/test_quality.py \
    tests/edge/test_resample.py tests/edge/test_roi.py tests/edge/test_clicks.py tests/edge/test_pipeline.py \
    tests/models/test_shipped.py || status=1
[ $status = 0 ] && echo "check-arm64: passed" || echo "check-arm64: FAILED"
exit $status
