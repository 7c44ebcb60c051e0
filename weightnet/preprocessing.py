"""Input preprocessing folded into a network's first layer, exactly.

A network trained on inputs ``u = a * x + c`` (``a``, ``c`` per input feature: raw pixel
values, ``x / 16``, standardized pixels, ...) computes ``f(u)``. Its first linear layer
``W u + b`` equals ``(W diag(a)) x + (W c + b)``, so the same function of ``x`` is the
network with ``W' = W diag(a)`` and ``b' = b + W c``: no retraining, no approximation but
float rounding. That is how a metanet trained on networks of one input frame (the digits
zoos read ``x = raw / 16``) reads networks trained on another.

For the 8x8 digits, :func:`digits_preprocessing` names the frames people use: ``x/16``
(the zoos'), ``raw`` (pixel values 0-16), ``standardized`` (scikit-learn's
``StandardScaler`` fitted on the zoos' training images) or a number ``s`` (``s * raw``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor

from weightnet.errors import WeightnetError
from weightnet.weightspace import WeightSpec

__all__ = ["DIGITS_FRAMES", "digits_preprocessing", "fold_input_affine"]

#: The named input frames of :func:`digits_preprocessing`.
DIGITS_FRAMES = ("x/16", "raw", "standardized")


def fold_input_affine(
    state_dict: Mapping[str, Tensor], spec: WeightSpec, scale: Tensor, shift: Tensor
) -> dict[str, Tensor]:
    """The state_dict computing ``f(scale * x + shift)`` from ``x``, where ``state_dict`` is ``f``.

    Args:
        state_dict: a network whose first layer is linear.
        spec: its architecture.
        scale: ``(n_in,)`` per input feature, or one for all.
        shift: ``(n_in,)`` per input feature, or one for all.

    Raises:
        WeightnetError: the first layer is not linear, or the sizes differ.
    """
    first = spec.layers[0]
    if first.kind != "linear":
        raise WeightnetError(f"only a linear first layer takes an input scaling ({first.kind})")
    scale, shift = (torch.as_tensor(v, dtype=torch.float64).reshape(-1) for v in (scale, shift))
    for values in (scale, shift):
        if len(values) not in (1, first.n_in):
            raise WeightnetError(
                f"an input scaling of {len(values)} features for a network of {first.n_in} inputs"
            )
    scale, shift = scale.expand(first.n_in), shift.expand(first.n_in)
    weight = state_dict[first.weight_key]
    bias = state_dict[first.bias_key]
    wide = weight.double()  # (n_out, n_in): fold in float64, round once
    folded = dict(state_dict)
    folded[first.weight_key] = (wide * scale).to(weight.dtype)
    folded[first.bias_key] = (bias.double() + wide @ shift).to(bias.dtype)
    return folded


def digits_preprocessing(frame: str, target_scale: float) -> tuple[Tensor, Tensor]:
    """``(scale, shift)`` mapping the zoos' inputs ``x = target_scale * raw`` to ``frame``'s.

    Per pixel (64) for ``standardized``, one number each for the others. A network trained in ``frame`` reads ``u = scale * x + shift``; fold them with
    :func:`fold_input_affine` to read ``x``.

    Args:
        frame: ``x/16``, ``raw``, ``standardized`` or a number ``s`` (inputs ``s * raw``).
        target_scale: the raw-pixel factor of the frame to map to (the metanet's, 1/16).

    Raises:
        WeightnetError: an unknown frame.
    """
    if frame == "standardized":
        from sklearn.datasets import load_digits

        from weightnet.zoo.digits import load_digits_data

        raw = load_digits().data  # (1797, 64), 0..16
        train = raw[load_digits_data(0).train_indices]
        mean, std = train.mean(axis=0), train.std(axis=0)
        std = np.where(std == 0, 1.0, std)  # as StandardScaler: constant pixels keep scale 1
        # u = (raw - mean) / std with raw = x / target_scale
        return (
            torch.from_numpy(1.0 / (std * target_scale)),
            torch.from_numpy(-mean / std),
        )
    factors = {"x/16": 1.0 / 16.0, "raw": 1.0}
    try:
        factor = factors[frame] if frame in factors else float(frame)
    except ValueError:
        raise WeightnetError(
            f"--input-scale {frame!r}: give {', '.join(DIGITS_FRAMES)} or a number s "
            "(inputs s * raw pixel values)"
        ) from None
    return torch.tensor(factor / target_scale), torch.tensor(0.0)
