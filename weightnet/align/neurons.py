"""Per-neuron feature vectors of a hidden layer: what a neuron reads and what it writes.

Both canonical forms and weight matching compare hidden neurons through these;
a conv channel is one neuron whose kernel entries are extra coordinates.
"""

from __future__ import annotations

import torch
from torch import Tensor

from weightnet.weightspace import WeightSpace

__all__ = ["incoming", "outgoing"]


def incoming(ws: WeightSpace, layer: int) -> Tensor:
    """Incoming weights and bias of each neuron of ``layer``.

    Returns:
        ``(B, n_out, n_in * kernel_numel * C + C)``: row ``j`` is neuron ``j``'s weights
        (in-neurons major, then kernel entries, then channels) followed by its bias.
    """
    weight, bias = ws.weights[layer], ws.biases[layer]
    rows = weight.reshape(*weight.shape[:2], -1)  # (B, n_out, n_in * k * C)
    return torch.cat([rows, bias], dim=-1)  # (B, n_out, n_in * k * C + C)


def outgoing(ws: WeightSpace, layer: int) -> Tensor:
    """Outgoing weights of each neuron of hidden ``layer`` (its column in layer ``layer + 1``).

    Returns:
        ``(B, n_out, n_next * kernel_numel * C)``.
    """
    weight = ws.weights[layer + 1]  # (B, n_next, n_out, *kernel, C)
    batch, n_hidden = weight.shape[0], weight.shape[2]
    return weight.movedim(2, 1).reshape(batch, n_hidden, -1)  # (B, n_out, n_next * k * C)
