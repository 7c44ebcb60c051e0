"""Canonical forms, weight matching (Git Re-Basin) and loss barriers.

Everything here is algorithmic (no training): each function returns networks that
compute exactly the same function as its input, only moved within the symmetry group.
The learned aligner (Deep-Align style) is :mod:`weightnet.align.learned`; it is not
imported here because it needs the metanetworks of :mod:`weightnet.models`. Names load
lazily (PEP 562), so that ``import weightnet.align.cli`` (every ``weightnet`` command)
does not import scipy.
"""

import importlib

__all__ = [
    "BarrierResult",
    "Canonicalize",
    "MatchResult",
    "align_to_nearest",
    "canonical_factors",
    "canonical_permutations",
    "canonicalize",
    "loss_barrier",
    "rank_matching",
    "weight_matching",
]

_SOURCES = {
    "BarrierResult": "barrier",
    "loss_barrier": "barrier",
    "canonical_factors": "canonical",
    "canonical_permutations": "canonical",
    "canonicalize": "canonical",
    "MatchResult": "matching",
    "rank_matching": "matching",
    "weight_matching": "matching",
    "align_to_nearest": "nearest",
    "Canonicalize": "transform",
}


def __getattr__(name: str):
    if name in _SOURCES:
        return getattr(importlib.import_module(f"weightnet.align.{_SOURCES[name]}"), name)
    raise AttributeError(f"module 'weightnet.align' has no attribute {name!r}")
