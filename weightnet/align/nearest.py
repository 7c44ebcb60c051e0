"""Align every network to the nearest of a few fixed reference networks.

A metanet that reads raw weights (e.g. a flat MLP) only works on networks expressed in
the "coordinates" it was trained in: networks fitted from a shared initialization
(functa-style INR zoos) are comparable entry by entry, but a permuted or sign-flipped
copy of one is not. :func:`align_to_nearest` removes that dependence exactly:

1. the network is brought to its canonical form (:func:`~weightnet.align.canonical.canonicalize`:
   sign flips, then a permutation sort), so every member of a symmetry orbit becomes the
   same weights;
2. the canonical weights are permuted onto each reference by Git Re-Basin weight matching
   (:func:`~weightnet.align.matching.weight_matching`, references in their sign-canonical
   form), and the alignment closest to its reference in Euclidean distance is kept.

Each step computes exactly the same function as its input, and the result depends only on
the symmetry orbit of the input (barring exact ties of the canonical sort or of the
assignments), so ``metanet(align_to_nearest(...))`` is invariant to hidden-neuron
permutations and sign flips.
"""

from __future__ import annotations

import torch

from weightnet.align.canonical import canonicalize
from weightnet.align.matching import weight_matching
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = ["align_to_nearest"]


def align_to_nearest(spec: WeightSpec, ws: WeightSpace, references: WeightSpace) -> WeightSpace:
    """Canonicalize ``ws`` and weight-match each network onto its nearest reference.

    Args:
        spec: the architecture of ``ws`` and ``references`` (MLP or SIREN).
        ws: ``B`` single-channel networks.
        references: ``R >= 1`` single-channel networks of ``spec``.

    Returns:
        ``B`` networks computing exactly the functions of ``ws``, permuted (and, for sign
        activations, sign-flipped) onto the reference each is nearest to.

    Raises:
        SpecError: if ``references`` is empty or the shapes do not match ``spec``.
    """
    if references.batch_size < 1:
        raise SpecError("align_to_nearest needs at least one reference network")
    threads = torch.get_num_threads()
    # tiny per-network products: threads only add waiting (100x slower on a busy CPU)
    torch.set_num_threads(1)
    try:
        return _align(spec, ws, references)
    finally:
        torch.set_num_threads(threads)


def _align(spec: WeightSpec, ws: WeightSpace, references: WeightSpace) -> WeightSpace:
    canonical = canonicalize(ws, spec)
    refs = canonicalize(references, spec, permutation=False)
    best, best_distance = None, None
    for r in range(refs.batch_size):
        aligned = weight_matching(spec, refs[r : r + 1], canonical).aligned
        distance = (aligned.flatten() - refs[r : r + 1].flatten()).square().sum(dim=1)  # (B,)
        if best is None:
            best, best_distance = aligned.flatten(), distance
            continue
        closer = distance < best_distance  # (B,)
        best = torch.where(closer[:, None], aligned.flatten(), best)  # (B, P)
        best_distance = torch.minimum(distance, best_distance)
    return WeightSpace.from_flat(spec, best)
