"""Batch transforms of weight spaces used as data augmentation.

A transform is a callable ``(ws, spec) -> ws`` applied to each training batch by the
collate function, on the raw (unnormalized) weights. The symmetry transforms
(:class:`RandomPermutation`, :class:`RandomSignFlip`) leave every network's function
unchanged, so they teach a non-equivariant metanet (``model=mlp``) the symmetries of
weight space; :class:`GaussianNoise` and :class:`WeightDropout` perturb the function a
little (Shamsian et al. 2024, "Improved generalization of weight space networks via
augmentations"). Each is the identity at strength 0, so configs can switch them off.
"""

from __future__ import annotations

import torch

from weightnet.symmetry import (
    SIGN_FLIP_ACTIVATIONS,
    permute,
    rescale,
    sample_permutations,
    sample_signs,
)
from weightnet.weightspace import WeightSpace, WeightSpec

__all__ = ["GaussianNoise", "RandomPermutation", "RandomSignFlip", "WeightDropout"]


class _RandomTransform:
    """A transform with a probability ``p`` and an optional dedicated ``generator``."""

    def __init__(self, p: float, generator: torch.Generator | None) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probability p={p} must lie in [0, 1]")
        self.p = p
        self.generator = generator

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomPermutation(_RandomTransform):
    """Permute the hidden neurons of each network independently at random.

    The permutations are drawn from ``generator``, or from torch's global RNG when it is
    ``None`` (seeded per worker by ``lightning.seed_everything(seed, workers=True)``).

    Args:
        p: probability that a given network is permuted (the others stay as they are).
        generator: optional dedicated random generator.
    """

    def __init__(self, p: float = 1.0, generator: torch.Generator | None = None) -> None:
        super().__init__(p, generator)

    def __call__(self, ws: WeightSpace, spec: WeightSpec) -> WeightSpace:
        perms = sample_permutations(spec, ws.batch_size, self.generator)
        if self.p < 1.0:
            keep = torch.rand(ws.batch_size, generator=self.generator) >= self.p  # (B,)
            identity = [torch.arange(p.shape[1]).expand_as(p) for p in perms]
            perms = tuple(
                torch.where(keep[:, None], same, p) for same, p in zip(identity, perms, strict=True)
            )
        return permute(ws, perms)


class RandomSignFlip(_RandomTransform):
    """Flip the signs of random hidden neurons of odd activations (sin, tanh): a symmetry.

    A flipped neuron has its incoming weights, its bias and its outgoing weights negated
    (:func:`weightnet.symmetry.rescale` with :func:`~weightnet.symmetry.sample_signs`
    factors), so the network computes the same function. Layers with other activations
    are left alone.

    Args:
        p: probability that a given network gets random signs (the others stay as they are).
        generator: optional dedicated random generator (default: torch's global RNG).
    """

    def __init__(self, p: float = 1.0, generator: torch.Generator | None = None) -> None:
        super().__init__(p, generator)

    def __call__(self, ws: WeightSpace, spec: WeightSpec) -> WeightSpace:
        if self.p == 0.0:
            return ws
        signs = sample_signs(spec, ws.batch_size, self.generator)
        keep = torch.rand(ws.batch_size, generator=self.generator) >= self.p  # (B,)
        factors = [
            torch.where(keep[:, None] | (layer.activation not in SIGN_FLIP_ACTIVATIONS), 1.0, d)
            for layer, d in zip(spec.layers[:-1], signs, strict=True)
        ]  # (B, n_i) each
        return rescale(ws, spec, factors)


class GaussianNoise:
    """Add Gaussian noise to every weight and bias, scaled to each tensor's spread.

    The noise of a tensor of one network has standard deviation ``std`` times that
    tensor's root mean square, so layers of very different scales (a SIREN's first layer
    and its ``1/w0``-scaled hidden layers) are perturbed alike.

    Args:
        std: relative noise level (0: the identity).
        generator: optional dedicated random generator.
    """

    def __init__(self, std: float = 0.01, generator: torch.Generator | None = None) -> None:
        if std < 0:
            raise ValueError(f"noise std={std} must be non-negative")
        self.std = std
        self.generator = generator

    def __call__(self, ws: WeightSpace, spec: WeightSpec) -> WeightSpace:
        if self.std == 0.0:
            return ws

        def noisy(t: torch.Tensor) -> torch.Tensor:
            rms = t.flatten(1).square().mean(dim=1).sqrt()  # (B,)
            noise = torch.randn(t.shape, generator=self.generator, dtype=t.dtype)
            return t + self.std * rms.reshape(-1, *(1,) * (t.ndim - 1)) * noise.to(t.device)

        return ws.map(noisy)

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std})"


class WeightDropout(_RandomTransform):
    """Set each weight (not bias) to zero with probability ``p``, without rescaling the rest.

    Args:
        p: drop probability (0: the identity).
        generator: optional dedicated random generator.
    """

    def __init__(self, p: float = 0.05, generator: torch.Generator | None = None) -> None:
        super().__init__(p, generator)

    def __call__(self, ws: WeightSpace, spec: WeightSpec) -> WeightSpace:
        if self.p == 0.0:
            return ws
        weights = tuple(
            w * (torch.rand(w.shape, generator=self.generator) >= self.p).to(w) for w in ws.weights
        )
        return WeightSpace(weights, ws.biases)
