"""Splits are by recording: no recording's windows on both sides."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from training.splits import group_split, leave_one_group_out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([f"rec{i}" for i in range(12)]), min_size=1, max_size=200), st.integers(0, 10_000))
def test_no_group_on_both_sides(groups, seed):
    parts = group_split(groups, fractions=(0.6, 0.2, 0.2), seed=seed)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(groups)))  # every window once
    seen = [set(np.asarray(groups)[p].tolist()) for p in parts]
    for i in range(len(seen)):
        for j in range(i + 1, len(seen)):
            assert not seen[i] & seen[j]


def test_each_part_gets_a_recording_and_the_seed_decides():
    groups = [f"rec{i % 5}" for i in range(100)]
    parts = group_split(groups, fractions=(0.6, 0.2, 0.2), seed=3)
    assert all(len(p) for p in parts)
    assert all(np.array_equal(a, b) for a, b in zip(parts, group_split(groups, fractions=(0.6, 0.2, 0.2), seed=3)))


def test_dataset_windows_split_by_recording(rng):
    from edge.frontend import FrontendSpec
    from training.datasets import Dataset
    from training.types import WindowRef

    refs = [WindowRef(f"r{k}.wav", f"r{k}.wav", float(i), "noise", "negative") for k in range(6) for i in range(20)]
    ds = Dataset(
        np.zeros((len(refs), 4, 3), np.float32),
        np.zeros(len(refs), np.int64),
        ("noise", "x"),
        refs,
        FrontendSpec(sample_rate=2000),
    )
    train, val, test = group_split(ds.groups, seed=1)
    sources = [{ds.refs[i].source for i in part} for part in (train, val, test)]
    assert not (sources[0] & sources[1] or sources[0] & sources[2] or sources[1] & sources[2])


def test_leave_one_group_out():
    folds = leave_one_group_out(["a", "b", "a", "c"])
    assert [(g, te.tolist()) for g, _, te in folds] == [("a", [0, 2]), ("b", [1]), ("c", [3])]
    assert all(not set(tr) & set(te) for _, tr, te in folds)


def test_strata_put_recordings_with_calls_in_every_part():
    # 3 recordings with calls, 3 background: a plain split can leave val/test without calls
    groups = [f"call{i}" for i in range(3) for _ in range(10)] + [f"bg{i}" for i in range(3) for _ in range(10)]
    strata = ["upcall" if g.startswith("call") else "noise" for g in groups]
    for seed in range(20):
        parts = group_split(groups, fractions=(0.6, 0.2, 0.2), seed=seed, strata=strata)
        assert sorted(np.concatenate(parts).tolist()) == list(range(len(groups)))
        for part in parts:
            names = {groups[i] for i in part}
            assert any(n.startswith("call") for n in names) and any(n.startswith("bg") for n in names)
        seen = [{groups[i] for i in p} for p in parts]
        assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
