"""A plain multilayer perceptron, the readout of the invariant metanetworks."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """``num_layers`` linear layers with ReLU and dropout in between.

    Args:
        in_features: input size.
        hidden_features: width of the hidden layers.
        out_features: output size.
        num_layers: number of linear layers (at least 1).
        dropout: dropout probability after each hidden activation.

    Shapes:
        input: ``(B, in_features)``; output: ``(B, out_features)``.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int,
        num_layers: int = 2,
        dropout: float = 0.0,
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"an MLP needs at least one layer, got num_layers={num_layers}")
        sizes = [in_features] + [hidden_features] * (num_layers - 1) + [out_features]
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
            layers.append(nn.Linear(n_in, n_out))
            if i < num_layers - 1:
                layers += [nn.ReLU(), nn.Dropout(dropout)]
        self.layers = nn.Sequential(*layers)

    def reset_parameters(self) -> None:
        for layer in self.layers:
            if isinstance(layer, nn.Linear):
                layer.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
