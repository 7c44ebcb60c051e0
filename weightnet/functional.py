"""Run a whole batch of networks at once, straight from a :class:`WeightSpace`.

One batched matrix product per linear layer and one grouped convolution per conv layer:
no Python loop over networks. Used by the zoo trainer, INR rendering, loss
barriers and the symmetry tests.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from weightnet.weightspace import LayerSpec, SpecError, WeightSpace, WeightSpec

__all__ = ["activate", "forward", "layer_forward", "sigmoid_tanh"]


class _SigmoidTanh(torch.autograd.Function):
    """``tanh(x) = 2 sigmoid(2x) - 1`` with ``tanh``'s own backward, ``(1 - y^2) grad``."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:
        y = torch.sigmoid(x * 2).mul_(2).sub_(1)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        (y,) = ctx.saved_tensors
        return torch.ops.aten.tanh_backward(grad, y)


def sigmoid_tanh(x: Tensor) -> Tensor:
    """``tanh`` through ``sigmoid``: within 2e-7 of ``torch.tanh``, several times faster on CPU.

    PyTorch's CPU ``tanh`` kernel is not vectorized (about 10x slower than ``sigmoid``);
    the zoo trainer, which spends most of a tanh network's step in it, uses this instead.
    """
    return _SigmoidTanh.apply(x)


def activate(x: Tensor, layer: LayerSpec, fast_tanh: bool = False) -> Tensor:
    """Apply ``layer``'s activation to its pre-activations ``x``.

    ``fast_tanh`` computes tanh with :func:`sigmoid_tanh` (training); the default is
    ``torch.tanh``, bit for bit what ``nn.Tanh`` computes (evaluation, recorded metrics).
    """
    name = layer.activation
    if name == "relu":
        return torch.relu(x)
    if name == "leaky_relu":
        return F.leaky_relu(x, 0.01)
    if name == "tanh":
        return sigmoid_tanh(x) if fast_tanh else torch.tanh(x)
    if name == "sin":
        return torch.sin(layer.w0 * x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "gelu":
        return F.gelu(x)
    return x


def layer_forward(layer: LayerSpec, weight: Tensor, bias: Tensor, h: Tensor) -> Tensor:
    """Pre-activations of one layer for a batch of networks.

    Args:
        weight: ``(B, n_out, n_in, *kernel)``.
        bias: ``(B, n_out)``.
        h: ``(B, N, n_in)`` for linear layers, ``(B, N, n_in, H, W)`` for conv layers.
    """
    if layer.kind == "linear":
        # baddbmm: one fused call, about twice as fast on CPU as einsum plus a bias add
        return torch.baddbmm(bias[:, None, :], h, weight.transpose(1, 2))  # (B, N, n_out)
    batch, n = h.shape[:2]
    x = rearrange(h, "b n c h w -> n (b c) h w")
    kernels = rearrange(weight, "b o i kh kw -> (b o) i kh kw")
    out = F.conv2d(
        x, kernels, rearrange(bias, "b o -> (b o)"), layer.stride, layer.padding, groups=batch
    )
    return rearrange(out, "n (b o) h w -> b n o h w", b=batch)  # (B, N, n_out, H', W')


def forward(spec: WeightSpec, ws: WeightSpace, x: Tensor, fast_tanh: bool = False) -> Tensor:
    """Outputs of every network in ``ws`` on inputs ``x``.

    Args:
        spec: the architecture.
        ws: single-channel weights, batch ``B``.
        x: inputs shared by all networks, ``(N, *input_shape)``, or per network,
            ``(B, N, *input_shape)``; ``input_shape`` is ``(n_in,)`` for MLPs and
            ``(C, H, W)`` for CNNs.
        fast_tanh: tanh layers use :func:`sigmoid_tanh` (see :func:`activate`).

    Returns:
        ``(B, N, n_out)``.
    """
    if ws.channels != 1:
        raise SpecError(f"only single-channel weight spaces are networks (C={ws.channels})")
    batch = ws.batch_size
    input_ndim = 1 if spec.layers[0].kind == "linear" else 3
    if x.ndim == input_ndim + 1:
        x = x.unsqueeze(0).expand(batch, *x.shape)
    h = x
    for layer, weight, bias in zip(spec.layers, ws.weights, ws.biases, strict=True):
        if layer.kind == "linear" and h.ndim == 5:
            h = h.mean(dim=(-2, -1))  # global average pooling: (B, N, C)
        # squeeze, not [..., 0]: its backward is a view, where select's fills a zero tensor
        h = activate(
            layer_forward(layer, weight.squeeze(-1), bias.squeeze(-1), h), layer, fast_tanh
        )
    if h.ndim == 5:
        h = h.mean(dim=(-2, -1))
    return h
