"""The ResNet family: heads, configurable size, one activation module per use."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from edge.errors import ConfigError
from training.models import NetworkSettings, ResNet, loss_fn

torch.set_num_threads(1)


@pytest.mark.parametrize("width,depth", [(4, 1), (8, 3)])
def test_single_and_multilabel_heads(width, depth):
    x = torch.randn(3, 62, 65) + 80
    for head in ("single", "multi_label"):
        s = NetworkSettings(width=width, depth=depth, head=head)
        out = ResNet(s, 4)(x)
        assert out.shape == (3, 4)
        target = torch.tensor([0, 1, 3]) if head == "single" else torch.zeros(3, 4)
        assert torch.isfinite(loss_fn(s, out, target))


def test_generalised_cross_entropy_is_bounded_and_tends_to_cross_entropy():
    """(1 - p_label ** q) / q per window, by hand; never above 1 / q however wrong the label
    (cross-entropy grows without bound); a soft target weighs each class's term; q -> 0 gives
    cross-entropy; members average their own losses."""
    s = NetworkSettings(width=4, depth=1)
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 9.0]])
    target = torch.tensor([0, 0])  # the second window labelled wrongly, confidently
    p = torch.softmax(logits, dim=-1)
    expected = ((1 - p[0, 0] ** 0.7) / 0.7 + (1 - p[1, 0] ** 0.7) / 0.7) / 2
    assert torch.allclose(loss_fn(s, logits, target, 0.7), expected)
    assert loss_fn(s, logits[1:], target[1:], 0.7) < 1 / 0.7 < loss_fn(s, logits[1:], target[1:])
    soft = torch.tensor([[0.25, 0.75, 0.0], [1.0, 0.0, 0.0]])
    by_hand = (0.25 * (1 - p[0, 0] ** 0.5) + 0.75 * (1 - p[0, 1] ** 0.5)) / 0.5
    assert torch.allclose(loss_fn(s, logits[:1], soft[:1], 0.5), by_hand)
    assert torch.allclose(loss_fn(s, logits, target, 1e-3), loss_fn(s, logits, target), rtol=1e-2)
    members = replace(s, members=2)
    stacked = torch.stack([logits, -logits])
    assert torch.allclose(
        loss_fn(members, stacked, target, 0.7), (loss_fn(s, logits, target, 0.7) + loss_fn(s, -logits, target, 0.7)) / 2
    )


def test_multi_output_has_two_named_heads():
    s = NetworkSettings(
        width=4,
        depth=2,
        head="multi_output",
        outputs={"hf_call": ["none", "a", "b"], "whistle": ["none", "up", "down", "flat"]},
    )
    out = ResNet(s)(torch.randn(2, 40, 30))
    assert set(out) == {"hf_call", "whistle"}
    assert out["hf_call"].shape == (2, 3) and out["whistle"].shape == (2, 4)
    loss = loss_fn(s, out, {"hf_call": torch.tensor([0, 2]), "whistle": torch.tensor([1, 3])})
    loss.backward()


def test_each_activation_module_is_used_once():
    model = ResNet(NetworkSettings(width=4, depth=3), 2)
    calls = {}
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.register_forward_hook(lambda m, i, o: calls.__setitem__(id(m), calls.get(id(m), 0) + 1))
    model(torch.randn(1, 32, 16))
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == len(calls) == 1 + 2 * 3
    assert set(calls.values()) == {1}


def test_input_level_does_not_matter():
    model = ResNet(NetworkSettings(width=4, depth=1), 2).eval()
    x = torch.randn(2, 20, 10)
    assert torch.allclose(model(x), model(x + 40.0), atol=1e-5)


def test_settings_validated():
    with pytest.raises(ConfigError, match="head='softmax'"):
        NetworkSettings(head="softmax")
    with pytest.raises(ConfigError, match="multi_output needs outputs"):
        NetworkSettings(head="multi_output", outputs={"a": [1]})
    with pytest.raises(ConfigError, match="members=0 must be"):
        NetworkSettings(members=0)
    with pytest.raises(ConfigError, match="members > 1 is for single and multi_label heads"):
        NetworkSettings(head="multi_output", outputs={"a": ["none", "x"], "b": ["none", "y"]}, members=2)


def test_members_learn_apart_and_answer_together():
    torch.manual_seed(0)
    s = NetworkSettings(width=4, depth=2, members=3)
    model = ResNet(s, 2)
    assert len(model.members) == 3
    first = [next(m.parameters()) for m in model.members]
    assert not torch.equal(first[0], first[1])  # each its own initial weights
    x, target = torch.randn(5, 30, 20), torch.tensor([0, 1, 1, 0, 1])
    stacked = model.train()(x)
    assert stacked.shape == (3, 5, 2)
    one = NetworkSettings(width=4, depth=2)
    expected = torch.stack([loss_fn(one, m, target) for m in stacked]).mean()
    assert torch.allclose(loss_fn(s, stacked, target), expected)
    loss_fn(s, stacked, target).backward()
    assert all(next(m.parameters()).grad is not None for m in model.members)
    model.eval()
    with torch.no_grad():
        each = torch.stack([m.network(model.standardise(x)) for m in model.members])
        assert torch.allclose(model(x), each.mean(dim=0), atol=1e-6)


@pytest.mark.parametrize("centre", ["window_mean", "bin_median"])
def test_the_models_own_standardisation_is_edges(centre):
    """The training model's first step equals edge.classify.standardise (what the device runs
    before the INT8 file): the exported graph on edge-standardised windows gives its logits."""
    import numpy as np

    from convert.graph import Exported
    from edge.classify import standardise

    torch.manual_seed(3)
    model = ResNet(NetworkSettings(width=4, depth=2, centre=centre), 2).eval()
    x = (torch.randn(5, 62, 65) * 6 + torch.linspace(60, 90, 65)).float()  # a coloured floor
    with torch.no_grad():
        reference = model(x).numpy()
        graph = Exported(model)
        got = graph(torch.from_numpy(standardise(x.numpy(), 20.0, centre))).numpy()
    np.testing.assert_allclose(got, reference, atol=1e-5)


def test_bin_median_removes_the_backgrounds_colour():
    import numpy as np

    from edge.classify import standardise

    rng = np.random.default_rng(0)
    floor = np.linspace(50, 90, 65, dtype=np.float32)  # dB per bin: one day's noise colour
    x = floor + rng.normal(0, 1, (4, 62, 65)).astype(np.float32)
    tilted = x + np.linspace(-10, 10, 65, dtype=np.float32)  # another day's
    a, b = standardise(x, 20.0, "bin_median"), standardise(tilted, 20.0, "bin_median")
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert not np.allclose(standardise(x, 20.0), standardise(tilted, 20.0), atol=0.1)
    with pytest.raises(ValueError, match="centre 'loudest'"):
        standardise(x, 20.0, "loudest")


def test_frequency_bands_tell_the_head_where_a_sound_lies():
    """With freq_bands the pooled features are per band of the last feature map: the same
    tone high or low in the window gives band features that differ by where it is, which the
    whole-map average cannot tell apart (a translation of the map)."""
    from training.models import band_pool

    h = torch.zeros(1, 2, 4, 8)
    h[0, :, :, 1] = 1.0  # a low sound ...
    low = band_pool(h, 4)
    high = band_pool(torch.flip(h, dims=[3]), 4)  # ... and the same, high
    assert low.shape == (1, 8)
    assert torch.equal(band_pool(h, 1), band_pool(torch.flip(h, dims=[3]), 1))  # whole map: one answer
    assert not torch.equal(low, high)
    assert low[0, 0] == 0.5 and high[0, 3] == 0.5  # channel-major: channel 0's bands first
    # uneven bins: adaptive pooling's edges, bands overlapping by a bin
    h = torch.arange(9, dtype=torch.float32).reshape(1, 1, 1, 9)
    torch.testing.assert_close(band_pool(h, 4), nn.functional.adaptive_avg_pool2d(h, (1, 4)).flatten(1))
    with pytest.raises(ValueError, match="fewer than freq_bands=4"):
        band_pool(torch.zeros(1, 1, 2, 3), 4)


@pytest.mark.parametrize("members, bands, time_pool", [(1, 3, "mean"), (2, 3, "mean"), (1, 1, "max"), (1, 3, "max")])
def test_frequency_bands_in_the_model_and_its_export(members, bands, time_pool):
    import numpy as np

    from convert.graph import Exported

    torch.manual_seed(4)
    settings = NetworkSettings(width=4, depth=3, freq_bands=bands, members=members, time_pool=time_pool)
    model = ResNet(settings, 5).eval()
    x = torch.randn(2, 62, 65) * 6 + 70  # 65 bins: 9 in the last map, 3 bands of 3
    with torch.no_grad():
        reference = model(x)
        assert reference.shape == (2, 5)
        got = Exported(model)(model.standardise(x).squeeze(1))
    np.testing.assert_allclose(got.numpy(), reference.numpy(), atol=1e-5)
    with pytest.raises(ConfigError, match="freq_bands=0 must be"):
        NetworkSettings(freq_bands=0)


def test_max_over_time_keeps_a_short_call_as_strong_as_a_long_one():
    """time_pool: max takes each band's strongest moment: a sound lasting one frame of the
    last map gives the feature a sound lasting all of them gives, where the mean dilutes it by
    its share of the window (a short faint upcall in a 2 s window)."""
    from training.models import band_pool

    short, long = torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)
    short[0, 0, 3, :2] = 1.0  # one time step, the lowest band
    long[0, 0, :, :2] = 1.0
    assert torch.equal(band_pool(short, 4, "max"), band_pool(long, 4, "max"))
    assert band_pool(short, 4, "max")[0, 0] == 1.0 and band_pool(short, 4, "max")[0, 1:].abs().sum() == 0
    assert band_pool(short, 4, "mean")[0, 0] == pytest.approx(band_pool(long, 4, "mean")[0, 0] / 8)
    # bands first, then time: the max of band means, not the mean of per-bin maxima
    h = torch.zeros(1, 1, 2, 2)
    h[0, 0, 0, 0] = h[0, 0, 1, 1] = 1.0
    assert band_pool(h, 1, "max")[0, 0] == 0.5
    with pytest.raises(ConfigError, match="time_pool='median' is not one of mean, max"):
        NetworkSettings(time_pool="median")
