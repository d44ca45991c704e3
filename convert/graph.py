"""The graph that is exported: the training ResNet without its first step.

The training model standardises each window itself; on the device that step runs in NumPy
(docs/reference/bundles.md), so the exported graph starts at the stem and ends at the logits.  A
multi-output model returns a tuple in head order, so each head becomes a named graph output.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from training.models import ResNet


class Exported(nn.Module):
    """``forward(x)``: standardised windows ``(batch, n_frames, n_features)`` -> logits
    ``(batch, n_classes)``, or one tensor per head."""

    def __init__(self, model: ResNet) -> None:
        super().__init__()
        self.model = model.eval()
        self.multi = model.settings.head == "multi_output"
        self.names = list(model.heads) if self.multi else ["logits"]
        self.head: nn.Linear | None = None
        if model.settings.members > 1:
            # the members' mean logits as one linear layer over their pooled features side by
            # side (weights / K, mean bias): the same numbers, and no float add of logits, which
            # the TFLite converter leaves unquantised
            heads = [m.head for m in model.members]
            self.head = nn.Linear(sum(h.in_features for h in heads), heads[0].out_features)
            with torch.no_grad():
                self.head.weight.copy_(torch.cat([h.weight for h in heads], dim=1) / len(heads))
                self.head.bias.copy_(torch.stack([h.bias for h in heads]).mean(dim=0))
        self.eval()

    def forward(self, x: torch.Tensor):
        m, x = self.model, x.unsqueeze(1)
        if self.head is not None:
            return self.head(torch.cat([member.pooled(x) for member in m.members], dim=1))
        z = m.pooled(x)
        if self.multi:
            return tuple(m.heads[name](z) for name in self.names)
        return m.head(z)


def torch_logits(graph: Exported, x: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """FP32 logits per output name for standardised windows ``x``."""
    outs: dict[str, list] = {n: [] for n in graph.names}
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            y = graph(torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size])))
            for n, t in zip(graph.names, y if graph.multi else (y,)):
                outs[n].append(t.numpy())
    return {n: np.concatenate(v) if v else np.zeros((0, 0), np.float32) for n, v in outs.items()}
