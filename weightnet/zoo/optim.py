"""Per-network SGD and Adam on a ``(B, P)`` matrix of flat parameter vectors.

Each row is one network with its own algorithm, learning rate and L2 coefficient.
The update of a row is the update ``torch.optim.SGD`` / ``torch.optim.Adam`` (with
``weight_decay``, i.e. L2 added to the gradient) would make for that network alone.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["VectorizedOptimizer"]


class VectorizedOptimizer:
    """SGD or Adam per row of ``params``, updated in place.

    Args:
        params: ``(B, P)`` flat parameters, one network per row.
        use_adam: ``(B,)`` bool: Adam for ``True`` rows, plain SGD for the others.
        lr: ``(B,)`` learning rates.
        weight_decay: ``(B,)`` L2 coefficients (``weight_decay * w`` is added to the gradient).
        betas: Adam's moment decay rates.
        eps: Adam's denominator term.
    """

    def __init__(
        self,
        params: Tensor,
        use_adam: Tensor,
        lr: Tensor,
        weight_decay: Tensor,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = params
        self.use_adam = use_adam.to(torch.bool)
        self.lr = lr.to(params).reshape(-1, 1)  # (B, 1)
        self.weight_decay = weight_decay.to(params).reshape(-1, 1)  # (B, 1)
        self.betas, self.eps = betas, eps
        self.num_steps = 0
        self.any_adam = bool(self.use_adam.any())
        self.all_adam = bool(self.use_adam.all())
        if self.any_adam:
            self.exp_avg = torch.zeros_like(params)
            self.exp_avg_sq = torch.zeros_like(params)
            self._denom = torch.empty_like(params)  # reused: no (B, P) allocation per step

    @torch.no_grad()
    def step(self, grad: Tensor) -> None:
        """Apply one update given the ``(B, P)`` gradient of the loss (``grad`` is overwritten)."""
        self.num_steps += 1
        grad.addcmul_(self.params, self.weight_decay)
        if not self.any_adam:
            self.params.addcmul_(grad, self.lr, value=-1.0)
            return
        beta1, beta2 = self.betas
        self.exp_avg.lerp_(grad, 1.0 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
        bias1 = 1.0 - beta1**self.num_steps
        bias2_sqrt = math.sqrt(1.0 - beta2**self.num_steps)
        # lr m / (bias1 (sqrt(v) / bias2_sqrt + eps)) = m / ((sqrt(v) + eps bias2_sqrt) / c),
        # c = lr bias2_sqrt / bias1 per row: two passes fewer than the textbook order
        denom = torch.sqrt(self.exp_avg_sq, out=self._denom).add_(self.eps * bias2_sqrt)  # (B, P)
        denom.div_(self.lr * (bias2_sqrt / bias1))
        if self.all_adam:
            self.params.addcdiv_(self.exp_avg, denom, value=-1.0)
            return
        direction = torch.where(self.use_adam[:, None], self.exp_avg / denom, grad * self.lr)
        self.params.sub_(direction)
