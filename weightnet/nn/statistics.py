r"""Per-tensor weight statistics (Unterthiner et al. 2020, "Predicting Neural Network
Accuracy from Weights").

For each weight and bias tensor and each channel: mean, variance and the 0, 25, 50, 75
and 100 % quantiles over all its entries. These are invariant to every permutation of
the entries, in particular to neuron permutations (and also to io permutations).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["QUANTILES", "LayerStatistics"]

QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)


class LayerStatistics(nn.Module):
    r"""Mean, variance and quantiles of every tensor of a weight space.

    Args:
        spec: the architecture.
        channels: channels ``C`` of the input weight space.

    Shapes:
        input: ``WeightSpace`` with ``channels`` channels, batch ``B``.
        output: ``(B, 2 * num_layers * 7 * C)``, ordered layer, (weight, bias), channel, statistic.
    """

    def __init__(self, spec: WeightSpec, channels: int = 1):
        super().__init__()
        self.spec = spec
        self.channels = channels
        self.register_buffer("quantiles", torch.tensor(QUANTILES), persistent=False)
        self.out_features = 2 * len(spec) * (2 + len(QUANTILES)) * channels

    def extra_repr(self) -> str:
        return f"spec={self.spec.describe()!r}, channels={self.channels}, out_features={self.out_features}"

    def forward(self, ws: WeightSpace) -> Tensor:
        feats = []
        for t in ws.tensors():
            flat = t.reshape(t.shape[0], -1, t.shape[-1])  # (B, N, C)
            q = torch.quantile(flat, self.quantiles.to(flat.dtype), dim=1)  # (5, B, C)
            stats = [flat.mean(1), flat.var(1, unbiased=False), *q]  # 7 x (B, C)
            feats.append(torch.stack(stats, dim=-1).flatten(1))  # (B, C * 7)
        return torch.cat(feats, dim=-1)
