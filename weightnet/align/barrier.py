"""Loss barrier along the straight line between two networks.

For networks ``A`` and ``B`` and ``alpha`` on a grid of ``[0, 1]`` (Entezari et al.
2022; Ainsworth et al. 2023)::

    barrier = max_alpha  loss((1 - alpha) A + alpha B) - ((1 - alpha) loss(A) + alpha loss(B))

All interpolated networks are evaluated at once: they are stacked as one
:class:`~weightnet.weightspace.WeightSpace` batch and run with
:func:`weightnet.functional.forward`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from weightnet.functional import forward
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = ["BarrierResult", "loss_barrier"]

_LOSSES = ("cross_entropy", "mse")


@dataclass(frozen=True)
class BarrierResult:
    """Loss barriers of ``B`` pairs of networks.

    Attributes:
        barrier: ``(B,)`` the largest gap between the loss curve and the straight
            line joining its endpoints (0 when the curve never rises above it).
        alphas: ``(K,)`` the interpolation grid, ``alphas[0] == 0`` and ``alphas[-1] == 1``.
        losses: ``(B, K)`` the loss of ``(1 - alpha) A + alpha B``.
    """

    barrier: Tensor
    alphas: Tensor
    losses: Tensor


def loss_barrier(
    spec: WeightSpec,
    net_a: WeightSpace,
    net_b: WeightSpace,
    x: Tensor,
    y: Tensor,
    *,
    num_alphas: int = 25,
    loss: str = "cross_entropy",
) -> BarrierResult:
    """The linear-interpolation loss barrier between ``net_a[k]`` and ``net_b[k]`` for each ``k``.

    Args:
        spec: the common architecture.
        net_a: ``B`` single-channel networks.
        net_b: ``B`` networks to interpolate towards.
        x: inputs ``(N, *input_shape)``.
        y: class labels ``(N,)`` for ``"cross_entropy"``, targets ``(N, n_out)`` for ``"mse"``.
        num_alphas: grid size, ``torch.linspace(0, 1, num_alphas)`` (at least 2).
        loss: ``"cross_entropy"`` (classifiers) or ``"mse"`` (mean over entries).

    Returns:
        The barriers, the grid and the loss curves.
    """
    if loss not in _LOSSES:
        raise SpecError(f"unknown loss {loss!r}; choose from {', '.join(_LOSSES)}")
    if num_alphas < 2:
        raise SpecError(f"num_alphas must be at least 2, got {num_alphas}")
    net_a.check_spec(spec)
    net_b.check_spec(spec)
    batch = net_a.batch_size
    alphas = torch.linspace(0, 1, num_alphas, dtype=net_a.dtype, device=net_a.device)

    def interpolate(a: Tensor, b: Tensor) -> Tensor:
        weight = alphas.reshape(-1, *(1,) * a.ndim)  # (K, 1, ..., 1)
        mixed = (1 - weight) * a + weight * b  # (K, B, *shape, 1)
        return mixed.reshape(num_alphas * batch, *a.shape[1:])  # (K * B, *shape, 1)

    stacked = WeightSpace(
        tuple(map(interpolate, net_a.weights, net_b.weights)),
        tuple(map(interpolate, net_a.biases, net_b.biases)),
    )
    out = forward(spec, stacked, x.to(net_a.dtype))  # (K * B, N, n_out)
    if loss == "cross_entropy":
        labels = y.long().expand(out.shape[0], -1)  # (K * B, N)
        losses = F.cross_entropy(out.transpose(1, 2), labels, reduction="none").mean(dim=1)
    else:
        losses = ((out - y.to(out.dtype)) ** 2).mean(dim=(1, 2))
    losses = losses.reshape(num_alphas, batch).T  # (B, K)
    line = (1 - alphas) * losses[:, :1] + alphas * losses[:, -1:]  # (B, K)
    return BarrierResult((losses - line).max(dim=1).values, alphas, losses)
