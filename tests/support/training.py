"""A minimal edge-train recipe (synthetic upcalls) and a writer for variants of it."""

from __future__ import annotations

import yaml

from tests.support.data import DEPLOYMENTS

CONFIG = {
    "out": "run",
    "deployment": str(DEPLOYMENTS / "narw-upcall.yaml"),
    "classes": ["noise", "upcall"],
    "window_s": 2.0,
    "seed": 7,
    "data": {
        "synthetic": {"recordings": 6, "duration_s": 40, "sample_rate": 2000, "calls": {"upcall": 6}, "snr_db": [3, 12]}
    },
    "split": {"val": 0.2, "test": 0.2},
    "model": {"width": 8, "depth": 2},
    "train": {"epochs": 6, "batch_size": 32, "patience": 4, "threads": 1, "steps_per_epoch": 8, "progress": False},
}


def write_config(folder, **changes):
    folder.mkdir(parents=True, exist_ok=True)
    data = {**CONFIG, **changes}
    path = folder / "train.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
