"""Flatten a weight space into one vector per network (layout order, channels innermost)."""

from __future__ import annotations

from torch import Tensor, nn

from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["FlattenWeights"]


class FlattenWeights(nn.Module):
    """``WeightSpace -> (B, num_params * channels)``; not invariant to anything.

    Args:
        spec: the architecture.
        channels: channels ``C`` of the input weight space.
    """

    def __init__(self, spec: WeightSpec, channels: int = 1):
        super().__init__()
        self.spec = spec
        self.channels = channels
        self.out_features = spec.num_params * channels

    def extra_repr(self) -> str:
        return f"spec={self.spec.describe()!r}, out_features={self.out_features}"

    def forward(self, ws: WeightSpace) -> Tensor:
        return ws.flatten()  # (B, P * C)
