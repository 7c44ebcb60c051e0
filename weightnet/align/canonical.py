"""Canonical forms: one representative per orbit of the weight-space symmetry group.

Each function returns weights computing exactly the same function as its input:

* **scale** (ReLU / LeakyReLU / identity layers): every hidden neuron's incoming
  weights and bias get unit norm; the factor is pushed into the next layer.
* **sign** (tanh / sin layers): every hidden neuron is flipped so that the
  largest-magnitude entry of its incoming weights and bias is positive.
* **phase** (sin layers, ScaleGMN's phase canonicalization): ``sin(w0 (z + b)) =
  (-1)^k sin(w0 (z + b - k pi / w0))``, so every hidden sine neuron's bias is brought
  into ``[-pi / (2 w0), pi / (2 w0)]`` and its outgoing weights are multiplied by
  ``(-1)^k``: SIRENs whose biases started anywhere (e.g. PyTorch's default
  ``U(-1/sqrt(n_in), 1/sqrt(n_in))``, many periods of ``sin(30 x)``) land in one range.
* **permutation**: hidden neurons are sorted, layer by layer, in decreasing order of
  ``||incoming|| * ||outgoing||`` (invariant to the scaling and sign groups and to the
  neighbouring layers' permutations); exact ties are broken lexicographically by the
  incoming weights and bias, already in canonical order since earlier layers are
  sorted first.

Phase goes first (it moves only biases and outgoing signs), then scale and sign
normalization, layer by layer from the input (a neuron's
factor depends on the factors already pushed into its incoming weights); they
commute with permutations, so the sort that follows sees scale-free keys.
The result is idempotent and invariant to the group up to float rounding, barring
ties (e.g. two neurons with identical weights, or near-equal keys).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from weightnet.align.neurons import incoming, outgoing
from weightnet.symmetry import SCALABLE_ACTIVATIONS, SIGN_FLIP_ACTIVATIONS, permute, rescale
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["canonical_factors", "canonical_permutations", "canonical_phases", "canonicalize"]


def canonical_factors(
    ws: WeightSpace, spec: WeightSpec, *, scale: bool = True, sign: bool = True
) -> tuple[Tensor, ...]:
    """Per-neuron factors that bring ``ws`` to its scale/sign canonical form.

    Args:
        ws: weights of ``B`` networks of ``spec`` (any channel count).
        spec: the architecture (its activations decide which group applies).
        scale: normalize ReLU-like layers to unit incoming norm (weights and bias).
        sign: make the largest-magnitude incoming entry of tanh/sin neurons positive.

    Returns:
        One ``(B, n_i)`` tensor per hidden layer, for :func:`weightnet.symmetry.rescale`
        (all ones where the layer's activation has no such symmetry or it is switched off).
    """
    factors: list[Tensor] = []
    previous: Tensor | None = None
    for i, layer in enumerate(spec.layers[:-1]):
        weight = ws.weights[i]
        if previous is not None:  # the factors of layer i-1 divide layer i's columns
            weight = weight / previous.reshape(
                *previous.shape[:1], 1, -1, *(1,) * (weight.ndim - 3)
            )
        vectors = incoming(WeightSpace((weight,), (ws.biases[i],)), 0)  # (B, n, K)
        d = torch.ones(vectors.shape[:2], dtype=ws.dtype, device=ws.device)  # (B, n)
        if scale and layer.activation in SCALABLE_ACTIVATIONS:
            norms = vectors.norm(dim=-1)
            d = torch.where(norms > 0, 1 / norms, d)
        elif sign and layer.activation in SIGN_FLIP_ACTIVATIONS:
            largest = vectors.gather(-1, vectors.abs().argmax(dim=-1, keepdim=True))[..., 0]
            d = torch.where(largest < 0, -d, d)
        factors.append(d)
        previous = d
    return tuple(factors)


def canonical_phases(ws: WeightSpace, spec: WeightSpec) -> WeightSpace:
    """Every hidden sine neuron's bias in ``[-pi/(2 w0), pi/(2 w0)]``, the same functions.

    A shift of the bias by ``k pi / w0`` multiplies the neuron's output by ``(-1)^k``,
    which the next layer's weights undo. Other layers are left as they are.

    Args:
        ws: weights of ``B`` networks of ``spec`` (any channel count; linear sine layers).
        spec: the architecture.
    """
    weights, biases = list(ws.weights), list(ws.biases)
    for i, layer in enumerate(spec.layers[:-1]):
        if layer.activation != "sin":
            continue
        period = math.pi / layer.w0
        turns = torch.round(biases[i] / period)  # (B, n, C): k
        biases[i] = biases[i] - turns * period
        signs = 1 - 2 * torch.remainder(turns, 2)  # (B, n, C): (-1)^k
        weights[i + 1] = weights[i + 1] * signs.reshape(
            signs.shape[0], 1, signs.shape[1], *(1,) * (weights[i + 1].ndim - 4), signs.shape[2]
        )  # columns of the next layer, (B, n_next, n, *kernel, C)
    return WeightSpace(tuple(weights), tuple(biases))


def _lexsort_descending(keys: Tensor) -> Tensor:
    """Per-row order sorting ``keys (B, n, K)`` by ``keys[..., 0]``, ties by ``keys[..., 1]``, ...

    Returns:
        ``(B, n)`` long: position ``j`` holds the index of the ``j``-th largest key.
    """
    batch, n, num_keys = keys.shape
    primary = keys[..., 0].sort(dim=1, descending=True).values  # (B, n)
    if not bool((primary[:, 1:] == primary[:, :-1]).any()):  # no ties: one sort is enough
        return torch.argsort(keys[..., 0], dim=1, descending=True, stable=True)
    order = torch.arange(n, device=keys.device).expand(batch, n)
    for k in reversed(range(num_keys)):  # stable sorts from the least significant key
        values = keys[..., k].gather(1, order)
        order = order.gather(1, torch.argsort(values, dim=1, descending=True, stable=True))
    return order


def canonical_permutations(
    ws: WeightSpace, spec: WeightSpec, *, scale: bool = True, sign: bool = True
) -> tuple[Tensor, ...]:
    """Permutations that sort the hidden neurons of ``ws`` into canonical order.

    The keys are computed on the scale/sign-normalized weights (switch off with
    ``scale``/``sign``), but the permutations apply to ``ws`` itself:
    ``permute(ws, canonical_permutations(ws, spec))`` is a pure reordering of ``ws``.

    Returns:
        One ``(B, n_i)`` long tensor per hidden layer, in :func:`weightnet.symmetry.permute`'s
        convention (new neuron ``j`` is old neuron ``perms[i][:, j]``).
    """
    current = rescale(ws, spec, canonical_factors(ws, spec, scale=scale, sign=sign))
    perms = [torch.arange(n, device=ws.device).expand(ws.batch_size, n) for n in spec.hidden_sizes]
    for i in range(len(spec.hidden_sizes)):
        rows = incoming(current, i)  # (B, n, K), columns already in canonical order
        key = rows.norm(dim=-1) * outgoing(current, i).norm(dim=-1)  # (B, n)
        perms[i] = _lexsort_descending(torch.cat([key[..., None], rows], dim=-1))
        step = [p if j == i else torch.arange(p.shape[1]).expand_as(p) for j, p in enumerate(perms)]
        current = permute(current, step)
    return tuple(perms)


def canonicalize(
    ws: WeightSpace,
    spec: WeightSpec,
    permutation: bool = True,
    scale: bool = True,
    sign: bool = True,
    phase: bool = False,
) -> WeightSpace:
    """The canonical form of every network in ``ws`` (same functions, exactly).

    Args:
        ws: weights of ``B`` networks of ``spec``.
        spec: the architecture.
        permutation: sort hidden neurons.
        scale: unit incoming norm for ReLU-like hidden layers.
        sign: positive largest incoming entry for tanh/sin hidden layers.
        phase: sine biases in ``[-pi/(2 w0), pi/(2 w0)]`` (:func:`canonical_phases`; off by
            default, as the canonical forms of earlier versions).

    Returns:
        The canonical weights, same shapes as ``ws``.
    """
    if phase:
        ws = canonical_phases(ws, spec)
    out = rescale(ws, spec, canonical_factors(ws, spec, scale=scale, sign=sign))
    if permutation:
        out = permute(out, canonical_permutations(out, spec, scale=False, sign=False))
    return out
