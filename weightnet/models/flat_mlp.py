"""The naive baseline: flatten all weights and feed an MLP (not permutation invariant)."""

from __future__ import annotations

from torch import Tensor, nn

from weightnet.nn.mlp import MLP
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["FlatMLP"]


class FlatMLP(nn.Module):
    """Flattened weights -> MLP with ``num_layers`` hidden layers of ``hidden_channels`` units.

    Not invariant to neuron permutations: train it with permutation augmentation.

    Args:
        spec: the architecture of the input networks.
        out_features: size of the prediction.
        hidden_channels: width of the hidden layers.
        num_layers: number of hidden layers.
        dropout: dropout after each hidden layer.
        in_channels: channels of the input weight space.

    Shapes:
        input: ``WeightSpace`` of ``spec`` with ``in_channels`` channels, batch ``B``.
        output: ``(B, out_features)``.
    """

    def __init__(
        self,
        spec: WeightSpec,
        out_features: int = 1,
        hidden_channels: int = 32,
        num_layers: int = 3,
        dropout: float = 0.0,
        in_channels: int = 1,
    ):
        super().__init__()
        self.spec = spec
        self.mlp = MLP(
            spec.num_params * in_channels, hidden_channels, out_features, num_layers + 1, dropout
        )

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, ws: WeightSpace) -> Tensor:
        return self.mlp(ws.flatten())  # (B, P * C) -> (B, out_features)
