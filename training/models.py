"""A small ResNet family with single-label, multi-label and multi-output heads.

Every activation is its own module (a ReLU reused twice breaks full-integer INT8
partitions).  Input: edge features ``(batch, n_frames, n_features)`` in dB; the model
standardises each window itself (minus its mean or each bin's median, over ``scale_db``: the
model-input contract of edge.classify.standardise), so the device feeds the frontend's output
unchanged.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from training.config import HEADS, NetworkSettings  # noqa: F401  (re-exported)


class Block(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.act1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )
        self.act2 = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
        return self.act2(y + self.skip(x))


class ResNet(nn.Module):
    """``forward`` returns logits ``(batch, n_classes)``, or a dict of them per named head.

    With ``settings.members`` > 1 it holds that many networks over one standardised input: in
    training it returns their logits stacked ``(members, batch, n_classes)`` (each learns on
    its own, :func:`loss_fn`), in evaluation (and in an exported file) their mean."""

    def __init__(self, settings: NetworkSettings, n_classes: int | None = None) -> None:
        super().__init__()
        self.settings = settings
        if settings.members > 1:
            one = replace(settings, members=1)
            self.members = nn.ModuleList(ResNet(one, n_classes) for _ in range(settings.members))
            return
        w = settings.width
        self.stem = nn.Sequential(nn.Conv2d(1, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w))
        self.stem_act = nn.ReLU()
        blocks, c = [], w
        for i in range(settings.depth):
            blocks.append(Block(c, w * 2**i, 2))
            c = w * 2**i
        self.blocks = nn.Sequential(*blocks)
        c *= settings.freq_bands
        if settings.head == "multi_output":
            self.heads = nn.ModuleDict({name: nn.Linear(c, len(cls)) for name, cls in settings.outputs.items()})
        else:
            if not n_classes:
                raise ValueError("n_classes is needed for single and multi_label heads")
            self.head = nn.Linear(c, n_classes)

    @staticmethod
    def map_bins(settings: NetworkSettings, n_features: int) -> int:
        """Frequency bins of the last feature map for ``n_features`` input bins (each stage's
        stride 2, padding 1: the bins halved, rounded up)."""
        bins = n_features
        for _ in range(settings.depth):
            bins = -(-bins // 2)
        return bins

    def forward(self, x: torch.Tensor):
        x = self.standardise(x)
        if self.settings.members > 1:
            logits = torch.stack([m.network(x) for m in self.members])
            return logits if self.training else logits.mean(dim=0)
        return self.network(x)

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        """edge.classify.standardise, in torch: ``(batch, 1, n_frames, n_features)``."""
        x = x.unsqueeze(1)
        if self.settings.centre == "bin_median":
            return (x - x.median(dim=2, keepdim=True).values) / self.settings.scale_db
        return (x - x.mean(dim=(2, 3), keepdim=True)) / self.settings.scale_db

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        """The head's input from standardised windows ``(batch, 1, n_frames, n_features)``: the
        last feature map pooled as the settings say (the exported graph pools through this too)."""
        return band_pool(self.blocks(self.stem_act(self.stem(x))), self.settings.freq_bands, self.settings.time_pool)

    def network(self, x: torch.Tensor):
        z = self.pooled(x)
        if self.settings.head == "multi_output":
            return {name: head(z) for name, head in self.heads.items()}
        return self.head(z)


def band_pool(h: torch.Tensor, bands: int, time_pool: str = "mean") -> torch.Tensor:
    """Feature map ``(batch, channels, frames, bins)`` averaged over each of ``bands`` runs of
    bins (uneven when the bins do not divide: adaptive pooling's edges) and pooled over time
    (``time_pool``: its mean, or its maximum), flattened channel-major: ``(batch, channels *
    bands)``.  Plain average and max pools over slices, which onnxruntime and the TFLite
    converter quantise (ReduceMean stays float)."""
    frames, bins = h.shape[2:]
    if bands == 1 and time_pool == "mean":  # one pool, no slices: the exported graph of one band
        return nn.functional.avg_pool2d(h, (frames, bins)).flatten(1)
    if bins < bands:
        raise ValueError(f"the last feature map has {bins} frequency bins, fewer than freq_bands={bands}")
    edges = [(i * bins // bands, -(-(i + 1) * bins // bands)) for i in range(bands)]
    if time_pool == "max":  # each band's bins averaged per frame, then the band's strongest frame
        parts = [
            nn.functional.max_pool2d(nn.functional.avg_pool2d(h[..., a:b], (1, b - a)), (frames, 1)) for a, b in edges
        ]
    else:
        parts = [nn.functional.avg_pool2d(h[..., a:b], (frames, b - a)) for a, b in edges]
    return torch.cat(parts, dim=3).flatten(1)


def loss_fn(settings: NetworkSettings, logits, target, gce_q: float = 0.0) -> torch.Tensor:
    """Cross-entropy (single, and per head summed for multi-output) or BCE (multi-label); for
    members' stacked logits, the mean of each member's own loss.  ``gce_q`` > 0: a single
    head's generalised cross-entropy (``train.loss: gce``), targets as class indices or
    (mixup) as probabilities."""
    if settings.members > 1 and logits.dim() == 3:  # training: (members, batch, classes)
        one = replace(settings, members=1)
        return torch.stack([loss_fn(one, m, target, gce_q) for m in logits]).mean()
    if settings.head == "multi_output":
        return sum(nn.functional.cross_entropy(logits[k], target[k]) for k in logits)
    if settings.head == "multi_label":
        return nn.functional.binary_cross_entropy_with_logits(logits, target.float())
    if gce_q > 0:
        soft = target if target.is_floating_point() else nn.functional.one_hot(target, logits.shape[-1]).float()
        p = torch.softmax(logits, dim=-1)
        return ((soft * (1 - p.clamp_min(1e-12) ** gce_q)).sum(dim=-1) / gce_q).mean()
    return nn.functional.cross_entropy(logits, target)
