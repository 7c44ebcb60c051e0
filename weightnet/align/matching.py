"""Align one network's hidden neurons to another's by permutation.

* :func:`weight_matching`: Git Re-Basin weight matching (Ainsworth et al. 2023, Alg. 1).
  Maximize ``sum_l <W_l^A, P_l W_l^B P_{l-1}^T> + <b_l^A, P_l b_l^B>`` over the hidden
  permutations ``P_l`` by coordinate descent: each step solves one layer's linear
  assignment (``scipy.optimize.linear_sum_assignment``) with the other layers fixed,
  visiting layers in a seeded random order until a full sweep improves nothing. By
  default it starts twice (from the identity, and from a forward pass that matches
  incoming weights only) and keeps the better local optimum.
  Conv channels are neurons: similarities sum over kernel entries.
* :func:`rank_matching`: a cheap baseline; neurons of equal rank in the two networks'
  canonical orders (:func:`weightnet.align.canonical.canonical_permutations`) are matched.

Both return the permutations and ``permute(other, perms)``, which computes exactly the
function of ``other``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from weightnet.align.canonical import canonical_permutations
from weightnet.align.neurons import incoming, outgoing
from weightnet.symmetry import invert_permutations, permute
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = ["MatchResult", "weight_matching", "rank_matching"]


@dataclass(frozen=True)
class MatchResult:
    """Outcome of aligning ``other`` to ``reference``.

    Attributes:
        permutations: one ``(B, n_i)`` long tensor per hidden layer, in
            :func:`weightnet.symmetry.permute`'s convention.
        aligned: ``permute(other, permutations)``.
        sweeps: coordinate-descent sweeps over all layers, summed over starts (0 for
            non-iterative methods).
    """

    permutations: tuple[Tensor, ...]
    aligned: WeightSpace
    sweeps: int = 0


def _identity(spec: WeightSpec, batch: int) -> list[Tensor]:
    return [torch.arange(n).expand(batch, n).clone() for n in spec.hidden_sizes]


def _broadcast(reference: WeightSpace, other: WeightSpace, spec: WeightSpec) -> WeightSpace:
    reference.check_spec(spec)
    other.check_spec(spec)
    if reference.batch_size == other.batch_size:
        return reference
    if reference.batch_size == 1:
        return reference.map(lambda t: t.expand(other.batch_size, *t.shape[1:]))
    raise SpecError(
        f"reference batch {reference.batch_size} does not match other batch {other.batch_size}"
    )


def _similarity(
    reference: WeightSpace, moved: WeightSpace, layer: int, *, outgoing_too: bool
) -> Tensor:
    """``(B, n, n)``: entry ``[j, k]`` scores reference neuron ``j`` against moved neuron ``k``."""
    scores = incoming(reference, layer) @ incoming(moved, layer).transpose(1, 2)
    if outgoing_too:
        scores = scores + outgoing(reference, layer) @ outgoing(moved, layer).transpose(1, 2)
    return scores


def _improve(
    perms: list[Tensor], layer: int, reference: WeightSpace, moving: WeightSpace, outgoing_too: bool
) -> bool:
    """Solve ``layer``'s assignment with the other layers fixed; True if any network improved."""
    fixed = [
        p if i != layer else torch.arange(p.shape[1]).expand_as(p) for i, p in enumerate(perms)
    ]
    scores = _similarity(reference, permute(moving, fixed), layer, outgoing_too=outgoing_too)
    scores = scores.cpu().numpy()  # (B, n, n)
    rows = np.arange(scores.shape[1])
    improved = False
    for b, score in enumerate(scores):
        _, best = linear_sum_assignment(score, maximize=True)
        gain = score[rows, best].sum() - score[rows, perms[layer][b].numpy()].sum()
        if gain > 1e-12 * max(1.0, np.abs(score).max()):
            perms[layer][b] = torch.from_numpy(best)
            improved = True
    return improved


def _descend(
    perms: list[Tensor], reference: WeightSpace, moving: WeightSpace, max_sweeps: int, seed: int
) -> int:
    """Coordinate descent from ``perms`` (updated in place); returns the sweeps run."""
    generator = torch.Generator().manual_seed(seed)
    sweeps, improved = 0, True
    while improved and sweeps < max_sweeps:
        sweeps, improved = sweeps + 1, False
        for layer in torch.randperm(len(perms), generator=generator).tolist():
            improved |= _improve(perms, layer, reference, moving, outgoing_too=True)
    return sweeps


def weight_matching(
    spec: WeightSpec,
    reference: WeightSpace,
    other: WeightSpace,
    *,
    max_sweeps: int = 100,
    seed: int = 0,
    init: str = "best",
) -> MatchResult:
    """Git Re-Basin weight matching of ``other`` onto ``reference``, network by network.

    Args:
        spec: the common architecture (MLP or CNN; conv channels are neurons).
        reference: ``B`` networks (or one, matched against every network of ``other``).
        other: ``B`` networks to permute.
        max_sweeps: at most this many sweeps over the layers (per start).
        seed: seeds the random layer order of the sweeps.
        init: where the coordinate descent starts. ``"identity"``: no permutation, as in
            the paper. ``"forward"``: one pass from the input layer on, matching each layer
            on its incoming weights and bias only (the network's inputs are fixed, so the
            first layer is matched exactly, and a planted permutation is found).
            ``"best"``: both, keeping per network the result with the larger similarity
            ``sum_l <W_l^A, W_l^B'> + <b_l^A, b_l^B'>`` (the descent finds local optima).

    Returns:
        The permutations, ``permute(other, perms)`` and the sweeps run (summed over starts).
    """
    starts = {"best": ("forward", "identity"), "forward": ("forward",), "identity": ("identity",)}
    if init not in starts:
        raise SpecError(f"unknown init {init!r}; choose best, forward or identity")
    reference = _broadcast(reference, other, spec).to(torch.float64)
    moving = other.to(torch.float64)
    best_perms, best_score, total_sweeps = None, None, 0
    for start in starts[init]:
        perms = _identity(spec, other.batch_size)
        if start == "forward":
            for layer in range(len(perms)):
                _improve(perms, layer, reference, moving, outgoing_too=False)
        total_sweeps += _descend(perms, reference, moving, max_sweeps, seed)
        score = (reference.flatten() * permute(moving, perms).flatten()).sum(dim=1)  # (B,)
        if best_perms is None:
            best_perms, best_score = perms, score
            continue
        better = score > best_score  # (B,)
        best_perms = [
            torch.where(better[:, None], p, q) for p, q in zip(perms, best_perms, strict=True)
        ]
        best_score = torch.maximum(score, best_score)
    perms_t = tuple(best_perms)
    return MatchResult(perms_t, permute(other, perms_t), total_sweeps)


def rank_matching(spec: WeightSpec, reference: WeightSpace, other: WeightSpace) -> MatchResult:
    """Match neurons of equal rank in the canonical orders of ``reference`` and ``other``.

    Neuron ``j`` of the result is the neuron of ``other`` whose canonical rank equals the
    rank of ``reference``'s neuron ``j``.
    """
    reference = _broadcast(reference, other, spec)
    ranks_ref = invert_permutations(canonical_permutations(reference, spec))
    sorted_other = canonical_permutations(other, spec)
    perms = tuple(
        order.gather(1, rank.to(order.device))
        for order, rank in zip(sorted_other, ranks_ref, strict=True)
    )
    return MatchResult(perms, permute(other, perms))
