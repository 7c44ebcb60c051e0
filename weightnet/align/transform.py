"""Canonicalization as a data transform: ``data.canonicalize=true`` in the configs."""

from __future__ import annotations

from weightnet.align.canonical import canonicalize
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["Canonicalize"]


class Canonicalize:
    """Map a :class:`~weightnet.weightspace.WeightSpace` batch to its canonical form.

    A batch transform ``(ws, spec) -> ws`` (:mod:`weightnet.data.transforms`). It removes
    the symmetries a metanet would otherwise have to learn, a preprocessing baseline to
    equivariant metanets: see :func:`weightnet.align.canonical.canonicalize`.

    Args:
        permutation: sort hidden neurons.
        scale: unit incoming norm for ReLU-like hidden layers.
        sign: positive largest incoming entry for tanh/sin hidden layers.
        phase: sine biases in ``[-pi/(2 w0), pi/(2 w0)]`` (SIRENs).
    """

    def __init__(
        self, permutation: bool = True, scale: bool = True, sign: bool = True, phase: bool = False
    ) -> None:
        self.permutation = permutation
        self.scale = scale
        self.sign = sign
        self.phase = phase

    def __call__(self, ws: WeightSpace, spec: WeightSpec) -> WeightSpace:
        return canonicalize(ws, spec, self.permutation, self.scale, self.sign, self.phase)

    def __repr__(self) -> str:
        return (
            f"Canonicalize(permutation={self.permutation}, scale={self.scale}, "
            f"sign={self.sign}, phase={self.phase})"
        )
