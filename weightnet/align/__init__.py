"""Canonical forms, weight matching (Git Re-Basin) and loss barriers.

Everything here is algorithmic (no training): each function returns networks that
compute exactly the same function as its input, only moved within the symmetry group.
The learned aligner (Deep-Align style) is :mod:`weightnet.align.learned`; it is not
imported here because it needs the metanetworks of :mod:`weightnet.models`.
"""

from weightnet.align.barrier import BarrierResult, loss_barrier
from weightnet.align.canonical import (
    canonical_factors,
    canonical_permutations,
    canonicalize,
)
from weightnet.align.matching import MatchResult, rank_matching, weight_matching
from weightnet.align.transform import Canonicalize

__all__ = [
    "BarrierResult",
    "Canonicalize",
    "MatchResult",
    "canonical_factors",
    "canonical_permutations",
    "canonicalize",
    "loss_barrier",
    "rank_matching",
    "weight_matching",
]
