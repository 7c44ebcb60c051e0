"""Equivariant metanetworks: a stack of equivariant layers, then invariant pooling and an MLP.

:class:`EquivariantBody` maps a weight space to a weight space (hidden channels) and is
shared by the invariant predictors (:class:`InvariantMetanet`) and the weight editors
(:class:`~weightnet.models.editor.EquivariantEditor`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from weightnet.nn.channels import WeightSpaceActivation, WeightSpaceDropout
from weightnet.nn.mlp import MLP
from weightnet.nn.pooling import InvariantPool
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["LayerFactory", "EquivariantBody", "InvariantMetanet"]

#: ``factory(spec, in_channels, out_channels) -> layer`` (WeightSpace -> WeightSpace).
LayerFactory = Callable[[WeightSpec, int, int], nn.Module]


class EquivariantBody(nn.Module):
    """``num_layers`` x (equivariant linear layer, activation, dropout).

    Args:
        spec: the architecture of the input networks.
        layer: factory of the equivariant linear layers.
        in_channels: channels of the input weight space (1 for raw weights).
        hidden_channels: channels of every layer's output.
        num_layers: number of equivariant layers.
        dropout: elementwise dropout after each activation.
        activation: ``relu``, ``gelu``, ``silu`` or ``tanh``.

    Shapes:
        input: ``WeightSpace`` with ``in_channels`` channels; output: ``hidden_channels``.
    """

    def __init__(
        self,
        spec: WeightSpec,
        layer: LayerFactory,
        in_channels: int = 1,
        hidden_channels: int = 32,
        num_layers: int = 3,
        dropout: float = 0.0,
        activation: str = "relu",
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        self.layers = nn.ModuleList(
            layer(spec, in_channels if i == 0 else hidden_channels, hidden_channels)
            for i in range(num_layers)
        )
        self.activation = WeightSpaceActivation(activation)
        self.dropout = WeightSpaceDropout(dropout)
        self.out_channels = hidden_channels

    def reset_parameters(self) -> None:
        for layer in self.layers:
            layer.reset_parameters()

    def forward(self, ws: WeightSpace) -> WeightSpace:
        for layer in self.layers:
            ws = self.dropout(self.activation(layer(ws)))
        return ws


class InvariantMetanet(nn.Module):
    """Equivariant body, invariant pooling, MLP head: weights -> ``(B, out_features)``.

    Args:
        spec: the architecture of the input networks.
        layer: factory of the equivariant linear layers.
        fixed_io: the pooling keeps the input/output neuron axes (HNPPool) or averages
            them (NPPool).
        out_features: size of the prediction.
        hidden_channels: channels of the equivariant layers.
        num_layers: number of equivariant layers.
        dropout: dropout in the body and the head.
        in_channels: channels of the input weight space.
        head_hidden: width of the head MLP (default ``4 * hidden_channels``).
        head_layers: linear layers in the head MLP.
        activation: nonlinearity of the body.
        input_skip: the head also reads the invariant pooling of the *input* weight space
            (as NFN's appended statistics): with fixed io neurons, the input channels of the
            output neurons (e.g. their probe features, the network's function) reach the
            head without squeezing through ``hidden_channels``.

    Shapes:
        input: ``WeightSpace`` of ``spec`` with ``in_channels`` channels, batch ``B``.
        output: ``(B, out_features)``.
    """

    def __init__(
        self,
        spec: WeightSpec,
        layer: LayerFactory,
        fixed_io: bool,
        out_features: int = 1,
        hidden_channels: int = 32,
        num_layers: int = 3,
        dropout: float = 0.0,
        in_channels: int = 1,
        head_hidden: int | None = None,
        head_layers: int = 2,
        activation: str = "relu",
        input_skip: bool = False,
    ):
        super().__init__()
        self.spec = spec
        self.layer = layer
        self.body = EquivariantBody(
            spec, layer, in_channels, hidden_channels, num_layers, dropout, activation
        )
        self.pool = InvariantPool(spec, hidden_channels, fixed_io=fixed_io)
        self.input_pool = (
            InvariantPool(spec, in_channels, fixed_io=fixed_io) if input_skip else None
        )
        skip_features = self.input_pool.out_features if input_skip else 0
        self.head = MLP(
            self.pool.out_features + skip_features,
            head_hidden or 4 * hidden_channels,
            out_features,
            head_layers,
            dropout,
        )

    def reset_parameters(self) -> None:
        self.body.reset_parameters()
        self.head.reset_parameters()

    def projection(self, out_channels: int = 1) -> nn.Module:
        """A fresh equivariant layer of this model's kind, ``hidden_channels -> out_channels``."""
        return self.layer(self.spec, self.body.out_channels, out_channels)

    def forward(self, ws: WeightSpace) -> Tensor:
        pooled = self.pool(self.body(ws))  # (B, D)
        if self.input_pool is not None:
            pooled = torch.cat([pooled, self.input_pool(ws)], dim=-1)  # (B, D + D_in)
        return self.head(pooled)
