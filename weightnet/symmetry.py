"""Group actions on weight spaces that leave the network's function unchanged.

* hidden-neuron permutations (every architecture; conv channels are neurons);
* positive per-neuron scaling, for positively homogeneous activations (ReLU, LeakyReLU);
* sign flips, for odd activations (tanh, sin).

A permutation ``P_i`` of layer ``i``'s outputs acts as ``W_i <- P_i W_i P_{i-1}^T``,
``b_i <- P_i b_i``; a diagonal ``D_i`` acts as ``W_i <- D_i W_i D_{i-1}^{-1}``,
``b_i <- D_i b_i``. Input and output neurons are never moved.
All actions work on any channel count ``C`` and on conv layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = [
    "SCALABLE_ACTIVATIONS",
    "SIGN_FLIP_ACTIVATIONS",
    "sample_permutations",
    "permute",
    "invert_permutations",
    "sample_scales",
    "sample_signs",
    "rescale",
    "random_symmetry",
]

#: Activations with ``f(s x) = s f(x)`` for ``s > 0``.
SCALABLE_ACTIVATIONS = frozenset({"relu", "leaky_relu", "identity"})
#: Odd activations, ``f(-x) = -f(x)``.
SIGN_FLIP_ACTIVATIONS = frozenset({"tanh", "sin", "identity"})


def _permute_axis(t: Tensor, perm: Tensor, axis: int) -> Tensor:
    """Reorder axis ``axis`` of ``t`` (batch first) by a per-sample permutation ``perm (B, n)``."""
    moved = t.movedim(axis, 1)  # (B, n, ...)
    rows = torch.arange(t.shape[0], device=t.device)[:, None]
    return moved[rows, perm].movedim(1, axis)


def sample_permutations(
    spec: WeightSpec, batch_size: int, generator: torch.Generator | None = None
) -> tuple[Tensor, ...]:
    """One random permutation per hidden layer and network: tuple of ``(B, n_i)`` long tensors."""
    return tuple(
        torch.argsort(torch.rand(batch_size, n, generator=generator), dim=1)
        for n in spec.hidden_sizes
    )


def invert_permutations(perms: Sequence[Tensor]) -> tuple[Tensor, ...]:
    """The inverse of each ``(B, n)`` permutation."""
    return tuple(torch.argsort(p, dim=1) for p in perms)


def permute(ws: WeightSpace, perms: Sequence[Tensor]) -> WeightSpace:
    """Apply hidden-neuron permutations: new neuron ``j`` of layer ``i`` is old ``perms[i][:, j]``."""
    if len(perms) != len(ws) - 1:
        raise SpecError(f"{len(perms)} permutations for {len(ws) - 1} hidden layers")
    weights, biases = list(ws.weights), list(ws.biases)
    for i, perm in enumerate(perms):
        perm = perm.to(ws.device)
        weights[i] = _permute_axis(weights[i], perm, 1)  # rows (outputs) of layer i
        biases[i] = _permute_axis(biases[i], perm, 1)
        weights[i + 1] = _permute_axis(weights[i + 1], perm, 2)  # columns (inputs) of layer i+1
    return WeightSpace(tuple(weights), tuple(biases))


def sample_scales(
    spec: WeightSpec,
    batch_size: int,
    generator: torch.Generator | None = None,
    low: float = 0.25,
    high: float = 4.0,
) -> tuple[Tensor, ...]:
    """Log-uniform positive factors in ``[low, high]``, one per hidden neuron: ``(B, n_i)`` each."""
    lo, hi = torch.log(torch.tensor(low)), torch.log(torch.tensor(high))
    return tuple(
        torch.exp(lo + (hi - lo) * torch.rand(batch_size, n, generator=generator))
        for n in spec.hidden_sizes
    )


def sample_signs(
    spec: WeightSpec, batch_size: int, generator: torch.Generator | None = None
) -> tuple[Tensor, ...]:
    """Random ``+-1`` per hidden neuron: ``(B, n_i)`` each."""
    return tuple(
        torch.randint(0, 2, (batch_size, n), generator=generator).float() * 2 - 1
        for n in spec.hidden_sizes
    )


def _check_diagonal(spec: WeightSpec, factors: Sequence[Tensor]) -> None:
    for layer, d in zip(spec.layers[:-1], factors, strict=True):
        if bool((d == 1).all()):  # the identity is a symmetry of every layer
            continue
        positive = bool((d > 0).all())
        if positive and layer.activation in SCALABLE_ACTIVATIONS:
            continue
        if bool((d.abs() == 1).all()) and layer.activation in SIGN_FLIP_ACTIVATIONS:
            continue
        what = (
            "positive scaling"
            if positive
            else "sign flips"
            if bool((d.abs() == 1).all())
            else "this scaling"
        )
        raise SpecError(
            f"{what} of {layer.weight_key} changes the function of a {layer.activation} layer"
        )


def rescale(ws: WeightSpace, spec: WeightSpec, factors: Sequence[Tensor]) -> WeightSpace:
    """Scale hidden neuron ``j`` of layer ``i`` by ``factors[i][:, j]`` and undo it in layer ``i+1``.

    Positive factors need a positively homogeneous activation, ``+-1`` factors an odd one;
    anything else raises :class:`SpecError` since it would change the function.
    """
    if len(factors) != len(ws) - 1:
        raise SpecError(f"{len(factors)} factor sets for {len(ws) - 1} hidden layers")
    _check_diagonal(spec, factors)
    weights, biases = list(ws.weights), list(ws.biases)
    for i, d in enumerate(factors):
        d = d.to(device=ws.device, dtype=ws.dtype)
        out_shape = (d.shape[0], d.shape[1]) + (1,) * (weights[i].ndim - 2)
        in_shape = (d.shape[0], 1, d.shape[1]) + (1,) * (weights[i + 1].ndim - 3)
        weights[i] = weights[i] * d.reshape(out_shape)
        biases[i] = biases[i] * d[..., None]
        weights[i + 1] = weights[i + 1] / d.reshape(in_shape)
    return WeightSpace(tuple(weights), tuple(biases))


def random_symmetry(
    ws: WeightSpace,
    spec: WeightSpec,
    generator: torch.Generator | None = None,
    *,
    permutations: bool = True,
    scaling: bool = True,
    signs: bool = True,
    scale_range: tuple[float, float] = (0.25, 4.0),
) -> WeightSpace:
    """Apply a random element of the network's symmetry group to every network in ``ws``.

    Permutes hidden neurons, and, neuron by neuron where the layer's activation allows,
    scales by a positive factor (ReLU-like) or flips the sign (odd activations).
    """
    batch = ws.batch_size
    if scaling or signs:
        factors = []
        for layer, scales, flips in zip(
            spec.layers[:-1],
            sample_scales(spec, batch, generator, *scale_range),
            sample_signs(spec, batch, generator),
            strict=True,
        ):
            d = torch.ones_like(scales)
            if scaling and layer.activation in SCALABLE_ACTIVATIONS:
                d = scales
            elif signs and layer.activation in SIGN_FLIP_ACTIVATIONS:
                d = flips
            factors.append(d)
        ws = rescale(ws, spec, factors)
    if permutations:
        ws = permute(ws, sample_permutations(spec, batch, generator))
    return ws
