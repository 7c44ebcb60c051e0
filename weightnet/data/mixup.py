r"""Weight-space MixUp for classification (Shamsian et al. 2024, "Improved generalization of
weight space networks via augmentations").

Every training network :math:`\theta_i` of a batch is mixed with a random partner
:math:`\theta_j` of the same batch,

.. math::

    \tilde\theta_i = \lambda_i \theta_i + (1 - \lambda_i)\, \pi(\theta_j), \qquad
    \tilde y_i = \lambda_i\, e_{y_i} + (1 - \lambda_i)\, e_{y_j}, \qquad
    \lambda_i \sim \mathrm{Beta}(\alpha, \alpha),

with soft labels :math:`\tilde y`. Two networks of different initializations are
not comparable entry by entry, so with ``align`` the partner is first brought to the same
arrangement, :math:`\pi`: odd (sin, tanh) neurons of both are put in their sign canonical
form, then the partner's hidden neurons are permuted onto the network's by weight matching
(:func:`weightnet.align.weight_matching`); both steps keep each function exactly. Mixing
raw or per-layer normalized weights is the same (the normalization is affine per tensor).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["WeightMixUp"]


class WeightMixUp:
    """Mix each training network with a random partner of its batch; soft labels.

    Args:
        num_classes: classes of the integer labels (the soft labels have this many columns).
        alpha: the Beta distribution's parameter (0: off, the batch is returned unchanged).
        align: align the partner to the network first (sign canonical form, weight
            matching); else mix the weights as they are.
        generator: optional dedicated random generator (default: torch's global RNG).

    Shapes:
        ``(ws with B networks, labels (B,))`` -> ``(mixed ws, soft labels (B, num_classes))``.
    """

    def __init__(
        self,
        num_classes: int,
        alpha: float = 0.2,
        align: bool = True,
        generator: torch.Generator | None = None,
    ) -> None:
        if alpha < 0:
            raise ValueError(f"mixup alpha={alpha} must be non-negative")
        if num_classes < 2:
            raise ValueError(f"mixup needs at least 2 classes, got {num_classes}")
        self.num_classes, self.alpha, self.align = int(num_classes), float(alpha), bool(align)
        self.generator = generator

    def __repr__(self) -> str:
        return (
            f"WeightMixUp(num_classes={self.num_classes}, alpha={self.alpha}, align={self.align})"
        )

    def __call__(
        self, ws: WeightSpace, labels: Tensor, spec: WeightSpec
    ) -> tuple[WeightSpace, Tensor]:
        if self.alpha == 0.0:
            return ws, labels
        batch = ws.batch_size
        partner = torch.randperm(batch, generator=self.generator)  # (B,)
        seed = int(torch.randint(2**31 - 1, (), generator=self.generator))
        lam = torch.from_numpy(np.random.default_rng(seed).beta(self.alpha, self.alpha, batch))
        other = ws[partner]
        if self.align:
            ws, other = _aligned(ws, other, spec)
        mixed = WeightSpace(
            tuple(_mix(a, b, lam) for a, b in zip(ws.weights, other.weights, strict=True)),
            tuple(_mix(a, b, lam) for a, b in zip(ws.biases, other.biases, strict=True)),
        )
        onehot = torch.nn.functional.one_hot(labels.long(), self.num_classes).to(ws.dtype)
        lam = lam.to(ws.dtype)
        soft = lam[:, None] * onehot + (1 - lam[:, None]) * onehot[partner]  # (B, classes)
        return mixed, soft


def _mix(a: Tensor, b: Tensor, lam: Tensor) -> Tensor:
    """``lam a + (1 - lam) b`` with ``lam (B,)`` broadcast over the other axes."""
    weight = lam.reshape(-1, *(1,) * (a.ndim - 1)).to(a)
    return torch.lerp(b, a, weight)


def _aligned(
    ws: WeightSpace, other: WeightSpace, spec: WeightSpec
) -> tuple[WeightSpace, WeightSpace]:
    """Both networks in their sign canonical form, ``other`` weight-matched onto ``ws``."""
    from weightnet.align.canonical import canonicalize
    from weightnet.align.matching import weight_matching

    ws = canonicalize(ws, spec, permutation=False, scale=False, sign=True)
    other = canonicalize(other, spec, permutation=False, scale=False, sign=True)
    return ws, weight_matching(spec, ws, other, init="forward").aligned
