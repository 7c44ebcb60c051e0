"""Metanetworks that compute a fixed feature vector from the weights, then an MLP."""

from __future__ import annotations

from torch import Tensor, nn

from weightnet.nn.mlp import MLP
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["FeatureMLP"]


class FeatureMLP(nn.Module):
    """``featurizer`` (a module with ``out_features``), then an MLP.

    Args:
        spec: the architecture of the input networks.
        featurizer: ``WeightSpace -> (B, featurizer.out_features)``.
        out_features: size of the prediction.
        hidden_channels: width of the MLP's hidden layers.
        num_layers: number of hidden layers.
        dropout: dropout after each hidden layer.

    Shapes:
        input: ``WeightSpace`` of ``spec``, batch ``B``; output: ``(B, out_features)``.
    """

    def __init__(
        self,
        spec: WeightSpec,
        featurizer: nn.Module,
        out_features: int = 1,
        hidden_channels: int = 32,
        num_layers: int = 3,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.spec = spec
        self.featurizer = featurizer
        self.mlp = MLP(
            featurizer.out_features, hidden_channels, out_features, num_layers + 1, dropout
        )

    def reset_parameters(self) -> None:
        self.mlp.reset_parameters()

    def forward(self, ws: WeightSpace) -> Tensor:
        return self.mlp(self.featurizer(ws))
