"""Plain PyTorch modules for the architectures of weightnet's own zoos.

Their state_dict keys are what the zoos' ``layout.csv`` files name, and
:meth:`WeightSpec.from_module` reads their activations, so a network from a zoo
can be rebuilt with nothing but PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from weightnet.weightspace import WeightSpec

__all__ = ["MLP", "CNN", "SIREN", "SineLayer", "activation_module", "build_module"]


def activation_module(name: str) -> nn.Module:
    """The ``nn.Module`` for an activation name (see :data:`weightnet.weightspace.ACTIVATIONS`)."""
    modules = {
        "relu": nn.ReLU,
        "leaky_relu": nn.LeakyReLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "gelu": nn.GELU,
        "identity": nn.Identity,
    }
    if name not in modules:
        raise ValueError(f"unknown activation {name!r}")
    return modules[name]()


class MLP(nn.Module):
    """``sizes[0] -> ... -> sizes[-1]`` with ``activation`` between layers; keys ``net.{2k}.*``."""

    def __init__(self, sizes: Sequence[int], activation: str = "relu") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(activation_module(activation))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:  # (N, sizes[0]) -> (N, sizes[-1])
        return self.net(x)


class CNN(nn.Module):
    """Small CNN Zoo style: conv layers, global average pooling, one linear head.

    Keys ``features.{2k}.*`` and ``head.*``.
    """

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int],
        num_classes: int,
        kernel_size: int = 3,
        activation: str = "relu",
        stride: int = 1,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out in zip([in_channels, *channels], channels, strict=False):
            layers += [
                nn.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2),
                activation_module(activation),
            ]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(channels[-1], num_classes)

    def forward(self, x: Tensor) -> Tensor:  # (N, C, H, W) -> (N, num_classes)
        return self.head(self.features(x).mean(dim=(-2, -1)))


class SineLayer(nn.Linear):
    """``sin(w0 * (W x + b))``; with ``w0=None`` a plain linear (the last SIREN layer)."""

    def __init__(self, n_in: int, n_out: int, w0: float | None) -> None:
        super().__init__(n_in, n_out)
        self.weightnet_w0 = 1.0 if w0 is None else float(w0)
        self.weightnet_activation = "identity" if w0 is None else "sin"

    def forward(self, x: Tensor) -> Tensor:
        out = super().forward(x)
        return (
            out if self.weightnet_activation == "identity" else torch.sin(self.weightnet_w0 * out)
        )


class SIREN(nn.Module):
    """Sitzmann et al. 2020; keys ``seq.{k}.weight``/``seq.{k}.bias`` as in the DWSNets INRs."""

    def __init__(self, sizes: Sequence[int] = (2, 32, 32, 1), w0: float = 30.0) -> None:
        super().__init__()
        n_layers = len(sizes) - 1
        self.seq = nn.Sequential(
            *(
                SineLayer(n_in, n_out, w0 if i < n_layers - 1 else None)
                for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False))
            )
        )

    def forward(self, x: Tensor) -> Tensor:  # (N, 2) -> (N, 1)
        return self.seq(x)


def build_module(spec: WeightSpec) -> nn.Module:
    """A plain module computing ``spec``'s function, keys as in :mod:`weightnet.zoo.architectures`.

    Raises ``ValueError`` for a spec these classes cannot express (mixed activations,
    non-default strides/paddings).
    """
    acts = set(spec.activations[:-1]) or {"relu"}
    if len(acts) != 1 or spec.activations[-1] != "identity":
        raise ValueError(f"no plain module for activations {spec.activations}")
    act = acts.pop()
    sizes = spec.layer_sizes
    if spec.kind == "siren":
        return SIREN(sizes, w0=spec.layers[0].w0)
    if spec.kind == "mlp":
        return MLP(sizes, act)
    convs = [layer for layer in spec.layers if layer.kind == "conv"]
    kernel, stride = convs[0].kernel[0], convs[0].stride
    if len(spec.layers) - len(convs) != 1 or any(
        layer.kernel != (kernel, kernel) or layer.stride != stride or layer.padding != kernel // 2
        for layer in convs
    ):
        raise ValueError(f"no plain module for {spec.describe()}")
    return CNN(sizes[0], sizes[1:-1], sizes[-1], kernel, act, stride)
