"""Dataset code runs without torch; edge never loads training or torch."""

from __future__ import annotations

from tests.support.imports import loaded, modules_after


def test_dataset_modules_do_not_import_torch():
    mods = modules_after(
        "import training.annotations, training.synth, training.datasets, training.splits, "
        "training.augment, training.metrics, training.sources"
    )
    assert loaded(mods, ("torch",)) == []


def test_edge_does_not_import_training():
    mods = modules_after("import edge, edge.pipeline, edge.detect, edge.cli.detect")
    assert loaded(mods, ("training", "torch")) == []
