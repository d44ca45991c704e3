"""What a run folder gives the converter: the model, its contract, calibration and held-out
windows, and the annotated held-out recordings when there are any."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from convert.graph import Exported
from convert.types import ConvertError, Output
from edge.classify import standardise
from training.datasets import NEGATIVE, Dataset

REQUIRED = ("best.pt", "config.yaml", "frontend.json", "dataset.npz", "split.json")


@dataclass
class Run:
    path: Path
    model: object  # training.models.ResNet
    ckpt: dict
    config: dict  # config.yaml as written by edge-train
    graph: Exported
    outputs: list[Output]
    dataset: Dataset
    split: dict

    @property
    def task(self) -> str:
        return self.ckpt["model_settings"]["head"]

    @property
    def scale_db(self) -> float:
        return float(self.ckpt["model_settings"]["scale_db"])

    @property
    def centre(self) -> str:
        return str(self.ckpt["model_settings"].get("centre", "window_mean"))

    def windows(self, part: str) -> np.ndarray:
        """Standardised windows of one split part (``train``, ``val``, ``test``)."""
        groups = set(self.split.get(part, []))
        idx = np.flatnonzero([r.group in groups for r in self.dataset.refs])
        return standardise(self.dataset.x[idx], self.scale_db, self.centre)

    def held_out(self) -> tuple[str, np.ndarray]:
        """The test part's windows, else the validation part's (named as the train part when a
        run that holds nothing out wrote its train recordings as validation)."""
        for part in ("test", "val"):
            x = self.windows(part)
            if len(x):
                return self.part_name(part), x
        raise ConvertError(f"{self.path / 'split.json'}: no test or val windows to compare on")

    def part_name(self, part: str) -> str:
        if part != "train" and set(self.split.get(part, [])) <= set(self.split.get("train", [])):
            return f"{part} (= train: the run holds no recording out)"
        return part

    def calibration(self, n: int, seed: int) -> np.ndarray:
        """Up to ``n`` training windows, drawn without replacement (seeded)."""
        x = self.windows("train")
        if not len(x):
            raise ConvertError(f"{self.path / 'split.json'}: the train part has no windows to calibrate on")
        idx = np.sort(np.random.default_rng(seed).permutation(len(x))[:n])
        return x[idx]


def load_run(path: str | Path) -> Run:
    from training.loop import load_model

    path = Path(path).resolve()  # split.json names recordings by absolute path
    if not path.is_dir():
        raise ConvertError(f"{path}: no such run folder")
    missing = [n for n in REQUIRED if not (path / n).is_file()]
    if missing:
        raise ConvertError(f"{path}: not a finished edge-train run: {', '.join(missing)} missing")
    model, ckpt = load_model(path)
    config = yaml.safe_load((path / "config.yaml").read_text()) or {}
    frontend = json.loads((path / "frontend.json").read_text())
    if frontend.get("hash") != ckpt["spec_hash"]:
        raise ConvertError(
            f"{path / 'frontend.json'}: hash {frontend.get('hash')} differs from best.pt's {ckpt['spec_hash']}"
        )
    classes = tuple(ckpt["classes"])
    settings = ckpt["model_settings"]
    if settings["head"] == "multi_output":
        outputs = [Output(name, tuple(cls), "softmax") for name, cls in settings["outputs"].items()]
    else:
        outputs = [Output("logits", classes, "sigmoid" if settings["head"] == "multi_label" else "softmax")]
    graph = Exported(model)
    assert graph.names == [o.name for o in outputs]
    return Run(
        path,
        model,
        ckpt,
        config,
        graph,
        outputs,
        Dataset.load(path / "dataset.npz"),
        json.loads((path / "split.json").read_text()),
    )


def negative(run: Run) -> str | None:
    """The class that is none of the others: the recipe's ``negative`` (default noise)."""
    name = run.config.get("negative") or NEGATIVE
    return name if name in run.ckpt["classes"] else None
