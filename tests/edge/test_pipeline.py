"""The one streaming chain (edge.pipeline.Chain): every driver gets the same records from it,
it stops where asked, times its stages, and no other module runs a loop of its own."""

from __future__ import annotations

import ast

import numpy as np
import pytest
import soundfile as sf

from edge.config import load_deployment
from edge.pipeline import Chain, prepare, process_recording, records
from tests.support.data import DEPLOYMENTS, ROOT

SR = 2000


@pytest.fixture(scope="module")
def config():
    return load_deployment(DEPLOYMENTS / "narw-upcall.yaml")


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """Two minutes of noise with eight 1-s upcalls (60 -> 220 Hz)."""
    rng = np.random.default_rng(11)
    x = rng.normal(0, 2e-3, 120 * SR)
    t = np.arange(SR) / SR
    chirp = np.sin(2 * np.pi * (60 * t + 80 * t**2)) * np.hanning(SR) * 0.05
    for s in np.linspace(5, 110, 8):
        x[int(s * SR) : int(s * SR) + SR] += chirp
    path = tmp_path_factory.mktemp("chain") / "calls.wav"
    sf.write(str(path), x.astype(np.float32), SR, subtype="PCM_16")
    return path


def test_chain_gives_process_recordings_records_and_times_each_stage(config, recording):
    whole = process_recording(recording, config, None, block_s=7.0)
    assert len(whole.rois) >= 6
    prep = prepare(recording, config, None, block_s=7.0)
    times: dict[str, float] = {}
    out = Chain(prep, config, times=times).run()
    assert out.completed
    assert out.rois == whole.rois
    detections, levels = records(prep, config, out.rois, out.periods, str(recording))
    assert repr(detections) == repr(whole.detections) and levels == whole.levels  # ROI-only scores are NaN
    assert set(times) == {"decode", "frontend", "roi", "levels"}  # no classifier: no inference time
    assert all(v > 0 for v in times.values())


def test_stop_leaves_the_stages_open_and_owned_keeps_the_chunk(config, recording):
    prep = prepare(recording, config, None, block_s=5.0)
    whole = Chain(prep, config).run().rois
    blocks = []
    stopped = Chain(prep, config).run(stop=lambda chain: blocks.append(1) or len(blocks) == 6)  # after 30 s
    assert not stopped.completed
    assert 0 < len(stopped.rois) < len(whole) and stopped.rois == whole[: len(stopped.rois)]
    hop = prep.spec.hop
    c0, c1 = round(40 * SR / hop), round(80 * SR / hop)
    owned = Chain(prep, config, owned=(c0, c1)).run()
    assert owned.rois == [r for r in whole if c0 <= r.start_frame < c1] and owned.rois
    chain = Chain(prep, config)
    first, last = chain.levels.period_of(np.array([c0, c1 - 1]))
    assert [p[0] for p in owned.periods] == list(range(first, last + 1))


def _calls(tree: ast.AST, attr: str) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == attr for n in ast.walk(tree)
    )


def test_only_the_chain_streams_recordings_through_the_stages():
    """A second loop over a recording's blocks that feeds the frontend (the three copies this
    replaced) must not come back: only the chain and the display spectrogram (plots, which
    averages frames into columns and runs no stage) push blocks through a frontend.  The
    soundscape stage reads the recording on its own, at the recording's rate and with its own
    1-s Welch segments on UTC minutes, by design independent of the detector's frontend."""
    allowed = {"edge/pipeline.py", "edge/plots/spectrogram.py", "edge/soundscape/welch.py"}
    offenders = []
    for package in ("edge", "training", "convert", "shore"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if rel not in allowed and _calls(tree, "blocks") and _calls(tree, "push"):
                offenders.append(rel)
    assert offenders == []
