"""Channelwise operations on a weight space: nonlinearities and dropout.

They act on every entry independently, so they commute with every neuron permutation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from weightnet.weightspace import WeightSpace

__all__ = [
    "ACTIVATION_FUNCTIONS",
    "WeightSpaceActivation",
    "WeightSpaceDropout",
    "activation_function",
]

ACTIVATION_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": F.relu,
    "gelu": F.gelu,
    "silu": F.silu,
    "tanh": torch.tanh,
}


def activation_function(name: str) -> Callable[[Tensor], Tensor]:
    """The nonlinearity called ``name`` (``relu``, ``gelu``, ``silu`` or ``tanh``)."""
    if name not in ACTIVATION_FUNCTIONS:
        raise ValueError(
            f"unknown activation {name!r}, expected one of {sorted(ACTIVATION_FUNCTIONS)}"
        )
    return ACTIVATION_FUNCTIONS[name]


class WeightSpaceActivation(nn.Module):
    """Apply a nonlinearity to every entry of every tensor.

    Args:
        name: one of ``relu``, ``gelu``, ``silu``, ``tanh``.
    """

    def __init__(self, name: str = "relu"):
        super().__init__()
        self.name = name
        self.fn = activation_function(name)

    def extra_repr(self) -> str:
        return self.name

    def forward(self, ws: WeightSpace) -> WeightSpace:
        return ws.map(self.fn)


class WeightSpaceDropout(nn.Module):
    """Elementwise dropout on every tensor (identity in eval mode).

    Args:
        p: drop probability.
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def forward(self, ws: WeightSpace) -> WeightSpace:
        if not self.training or self.p == 0:
            return ws
        return ws.map(lambda t: F.dropout(t, self.p, training=True))
