"""Splits grouped by recording (or site/deployment): never by window.

Windows of one recording share its noise, its animals and its calibration; a split that puts
some on each side measures memory, not generalisation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np


def group_split(
    groups: Sequence[str],
    *,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    strata: Sequence[str] | None = None,
) -> list[np.ndarray]:
    """Indices of each part (train, val, test, ...), whole groups at a time.

    Groups are shuffled by ``seed`` and dealt out until each part holds about its fraction of
    the groups; each part with a non-zero fraction gets at least one group when there are
    enough groups.  With ``strata`` (one per window, e.g. its label), each group belongs to
    its most frequent stratum and each stratum's groups are dealt out separately, so recordings
    with calls and background recordings both reach every part."""
    groups = np.asarray(groups)
    if strata is not None:
        strata = np.asarray(strata)
        of_group = {}
        for g in sorted(set(groups.tolist())):
            values, counts = np.unique(strata[groups == g], return_counts=True)
            of_group[g] = values[np.argmax(counts)]
        names = sorted(set(of_group.values()))
        parts = [np.zeros(0, int)] * len(fractions)
        for k, name in enumerate(names):
            keep = np.flatnonzero(np.array([of_group[g] == name for g in groups.tolist()]))
            sub = group_split(groups[keep], fractions=fractions, seed=seed + k)
            parts = [np.sort(np.concatenate((p, keep[s]))) for p, s in zip(parts, sub)]
        return parts
    unique = sorted(set(groups.tolist()))
    rng = np.random.default_rng(seed)
    order = [unique[i] for i in rng.permutation(len(unique))]
    fr = np.asarray(fractions, dtype=float)
    if np.any(fr < 0) or fr.sum() <= 0:
        raise ValueError(f"fractions={list(fractions)} must be >= 0 and not all zero")
    target = fr / fr.sum() * len(order)
    counts = np.floor(target).astype(int)
    for i in np.argsort(-fr, kind="stable"):  # a non-zero part gets a group while any remain
        if fr[i] > 0 and counts[i] == 0 and counts.sum() < len(order):
            counts[i] = 1
    while counts.sum() < len(order):
        counts[int(np.argmax(target - counts))] += 1
    while counts.sum() > len(order):
        counts[int(np.argmax(counts - target))] -= 1
    bounds = np.concatenate(([0], np.cumsum(counts)))
    parts = []
    for k in range(len(fr)):
        chosen = set(order[bounds[k] : bounds[k + 1]])
        parts.append(np.flatnonzero(np.isin(groups, list(chosen))) if chosen else np.zeros(0, int))
    return parts


def leave_one_group_out(groups: Sequence[str]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(held-out group, train indices, test indices)`` for each group."""
    groups = np.asarray(groups)
    return [(g, np.flatnonzero(groups != g), np.flatnonzero(groups == g)) for g in sorted(set(groups.tolist()))]


def stable_group(name: str) -> str:
    """A short stable id for a group name (for logs and cards)."""
    return hashlib.sha256(name.encode()).hexdigest()[:8]
