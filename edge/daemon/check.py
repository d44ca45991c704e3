"""``edge-run --check``: every problem with a deployment, its run settings, device profile,
live capture device, model bundle and sync settings, found without starting anything."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from edge.errors import PamedgeError

if TYPE_CHECKING:
    from edge.config import DeploymentConfig
    from edge.daemon.config import LiveSettings


def _writable_dir(path: Path) -> bool:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK)


def check(path: str | Path) -> list[str]:
    """Problems found, each one line naming the file and key; empty when all is well."""
    from edge.config import check_deployment

    config, problems = check_deployment(path)
    if config is None:
        return problems
    path = config.source
    table = config.table_path()
    if table is not None:
        try:
            from edge.calibration import HydrophoneTable

            HydrophoneTable.load(table)
        except PamedgeError as exc:
            problems.append(f"{path}: calibration.table: {exc}")
    run = config.run
    if run.device is not None:
        try:
            from edge.devices import load_profile

            load_profile(run.path(run.device) if run.device.endswith((".yaml", ".yml")) else run.device)
        except PamedgeError as exc:
            problems.append(f"{path}: run: device: {exc}")
    log = config.log_path()
    if not _writable_dir(log.parent):
        problems.append(f"{path}: run: log: {log.parent} is not a writable folder")
    if run.watch is None and run.live is None:
        pass  # only --replay or --watch on the command line can feed it
    elif run.watch is not None and not _writable_dir(run.path(run.watch)):
        problems.append(
            f"{path}: run: watch: {run.path(run.watch)} is not a writable folder (retention deletes processed files)"
        )
    if run.live is not None and run.watch is None:
        problems.append(f"{path}: run: live: needs run.watch, the folder capture writes into")
    if run.live is not None:
        problems += _check_live(run.live, path)
    if config.model is not None:
        problems += _check_model(config, path)
    if config.sync is not None:
        s = config.sync
        key = s.path(s.key_file)
        if not key.is_file():
            problems.append(f"{path}: sync: key_file: {key} does not exist")
        else:
            try:
                from edge.sync.config import read_key

                read_key(key)
            except PamedgeError as exc:
                problems.append(f"{path}: sync: key_file: {exc}")
        if s.path(s.log).resolve() != log.resolve():
            problems.append(
                f"{path}: sync: log: {s.path(s.log)} differs from run.log {log}: "
                "edge-sync send would not see edge-run's records"
            )
    return problems


def _check_live(live: LiveSettings, path: str | Path) -> list[str]:
    """sounddevice and PortAudio are installed, and the device captures what ``live`` asks."""
    from edge.daemon.sources import LIVE_HINT

    try:
        import sounddevice
    except (ImportError, OSError) as exc:  # OSError: the module is there, PortAudio is not
        return [f"{path}: run: live: {LIVE_HINT} ({exc})"]
    device = "the default input" if live.device is None else f"device {live.device!r}"
    try:
        sounddevice.check_input_settings(
            device=live.device, channels=live.channels, dtype="int16", samplerate=live.sample_rate
        )
    except Exception as exc:  # PortAudioError, or ValueError for a device there is not
        return [
            f"{path}: run: live: {device} cannot capture {live.channels} channel(s) at {live.sample_rate} Hz: {exc}"
        ]
    return []


def _check_model(config: DeploymentConfig, path: str | Path) -> list[str]:
    """The deployment's model bundle loads, its backend is installed, and it matches the
    deployment's frontend."""
    from edge.classify import load_classifier
    from edge.selftest import golden_test

    try:
        classifier = load_classifier(config)
        # INT8 kernels differ by CPU (AVX2's saturating sums, VNNI, ARM's dot products): the
        # bundle's golden windows through this CPU's kernels, as edge-selftest runs them, so a
        # buoy that would score differently from the validated model says so before it records.
        result = golden_test(classifier.bundle, classifier.backend)
    except PamedgeError as exc:
        return [f"{path}: model: {exc}"]
    if result.passed:
        return []
    worst, deviation = max(result.deviation.items(), key=lambda item: item[1])
    return [
        f"{path}: model: {result.identity} deviates {deviation:.4f} from its golden windows "
        f"on this CPU's {result.backend} kernels ({worst}; tolerance {result.tolerance:g}): its scores here "
        f"are not the validated model's (edge-selftest {result.bundle} --backend {result.backend})"
    ]
