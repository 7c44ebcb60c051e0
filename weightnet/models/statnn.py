"""StatNN (Unterthiner et al. 2020): per-tensor weight statistics -> MLP."""

from __future__ import annotations

from torch import Tensor, nn

from weightnet.nn.mlp import MLP
from weightnet.nn.statistics import LayerStatistics
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["StatNN"]


class StatNN(nn.Module):
    """Statistics of every weight and bias tensor, then an MLP. Invariant to permutations.

    Args:
        spec: the architecture of the input networks.
        out_features: size of the prediction.
        hidden_channels: width of the MLP's hidden layers.
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
        self.statistics = LayerStatistics(spec, in_channels)
        self.mlp = MLP(
            self.statistics.out_features, hidden_channels, out_features, num_layers + 1, dropout
        )

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, ws: WeightSpace) -> Tensor:
        return self.mlp(self.statistics(ws))
