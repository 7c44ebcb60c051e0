"""Batch transforms of weight spaces used as data augmentation.

A transform is a callable ``(ws, spec) -> ws`` applied to each training batch by the
collate function. The symmetry transforms leave every network's function unchanged,
so they teach a non-equivariant metanet (``model=mlp``) the symmetries of weight space.
"""

from __future__ import annotations

import torch

from weightnet.symmetry import permute, sample_permutations
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["RandomPermutation"]


class RandomPermutation:
    """Permute the hidden neurons of each network independently at random.

    The permutations are drawn from ``generator``, or from torch's global RNG when it is
    ``None`` (seeded per worker by ``lightning.seed_everything(seed, workers=True)``).

    Args:
        p: probability that a given network is permuted (the others stay as they are).
        generator: optional dedicated random generator.
    """

    def __init__(self, p: float = 1.0, generator: torch.Generator | None = None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probability p={p} must lie in [0, 1]")
        self.p = p
        self.generator = generator

    def __call__(self, ws: WeightSpace, spec: WeightSpec) -> WeightSpace:
        perms = sample_permutations(spec, ws.batch_size, self.generator)
        if self.p < 1.0:
            keep = torch.rand(ws.batch_size, generator=self.generator) >= self.p  # (B,)
            identity = [torch.arange(p.shape[1]).expand_as(p) for p in perms]
            perms = tuple(
                torch.where(keep[:, None], same, p) for same, p in zip(identity, perms, strict=True)
            )
        return permute(ws, perms)

    def __repr__(self) -> str:
        return f"RandomPermutation(p={self.p})"
