"""The ResNet family: heads, configurable size, one activation module per use."""

from __future__ import annotations

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


def test_multi_output_has_two_named_heads():
    s = NetworkSettings(width=4, depth=2, head="multi_output",
                      outputs={"hf_call": ["none", "a", "b"], "whistle": ["none", "up", "down", "flat"]})
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
