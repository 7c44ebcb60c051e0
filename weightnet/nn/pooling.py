r"""Invariant pooling of a weight space (NFN's NPPool / HNPPool).

Every tensor is averaged over its permutable axes; axes that the group does not move
(conv kernel positions, and under ``fixed_io`` the network's input and output
neurons) are kept as features.
"""

from __future__ import annotations

from torch import Tensor, nn

from weightnet.nn.layout import NeuronSetLayout
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["InvariantPool"]


class InvariantPool(nn.Module):
    r"""Pool a weight space into a vector that is invariant to neuron permutations.

    Args:
        spec: the architecture.
        channels: channels ``C`` of the input weight space.
        fixed_io: keep the input/output neuron axes (HNPPool) instead of averaging them (NPPool).

    Shapes:
        input: ``WeightSpace`` with ``channels`` channels, batch ``B``.
        output: ``(B, out_features)``.
    """

    def __init__(self, spec: WeightSpec, channels: int, fixed_io: bool = True):
        super().__init__()
        self.spec = spec
        self.channels = channels
        self.fixed_io = fixed_io
        self.layout = NeuronSetLayout(spec, fixed_io=fixed_io)
        self.out_features = self.layout.global_features(channels)

    def extra_repr(self) -> str:
        return (
            f"spec={self.spec.describe()!r}, channels={self.channels}, fixed_io={self.fixed_io}, "
            f"out_features={self.out_features}"
        )

    def forward(self, ws: WeightSpace) -> Tensor:
        return self.layout.pool_global(self.layout.fold(ws))  # (B, out_features)
