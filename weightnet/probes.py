"""Probe features: what every neuron of a network computes on a few fixed inputs.

Running each network on the same ``P`` probe inputs gives every neuron a vector of ``P``
activations (Kofinas et al. 2024, "Graph Neural Networks for Learning Equivariant
Representations of Neural Networks", probe features). Permuting hidden neurons permutes
these vectors the same way, and the output neurons' vectors are the network's outputs,
so they describe the *function*, not the arrangement of its weights. They must be
computed on the raw weights (the network's own function), never on normalized ones.

Probe inputs come from a *domain*: ``"normal"`` (standard normal vectors, for networks
whose inputs are features), ``"uniform"`` (uniform on ``[-1, 1]^n``, the coordinates an
INR reads) or ``"grid"`` (a regular ``s x s`` grid on ``[-1, 1]^2``, ``P = s^2``, for
image INRs); ``"auto"`` picks ``"uniform"`` for SIRENs and ``"normal"`` otherwise.

For image INRs, :class:`ProbeChannels` also offers ``"cosine"``: every neuron is run on
the whole ``side x side`` pixel grid and its activation map is summarized by its ``k x k``
lowest-frequency 2D cosine (DCT-II) coefficients, ``P = k^2``: the smooth content of each
neuron's map rather than its value at a few points (on mnist-inr, nfn_hnp at 5 epochs:
0.894 test accuracy with the 8 x 8 lowest coefficients of 28 x 28 maps, 0.759 with 64
uniform point probes, 0.852 with 64 random projections of the same maps).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from weightnet.functional import activate, layer_forward
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = [
    "PROBE_DOMAINS",
    "ProbeChannels",
    "cosine_basis",
    "neuron_activations",
    "probe_inputs",
    "resolve_domain",
]

PROBE_DOMAINS = ("auto", "normal", "uniform", "grid")
#: The domains of :class:`ProbeChannels`: the point domains and ``"cosine"``.
CHANNEL_DOMAINS = (*PROBE_DOMAINS, "cosine")


def _check_domain(domain: str, known: tuple[str, ...] = PROBE_DOMAINS) -> None:
    if domain not in known:
        raise SpecError(f"unknown probe domain {domain!r}; choose from {', '.join(known)}")


def resolve_domain(spec: WeightSpec, domain: str) -> str:
    """``domain`` with ``"auto"`` replaced by the spec's natural input domain."""
    _check_domain(domain)
    if domain == "auto":
        return "uniform" if spec.kind == "siren" else "normal"
    return domain


def probe_inputs(
    spec: WeightSpec, num_probes: int, seed: int = 0, domain: str = "auto", image_size: int = 8
) -> Tensor:
    """``(P, *input_shape)`` fixed probe inputs (same seed and domain, same inputs).

    Args:
        spec: the architecture (its first layer gives the input shape).
        num_probes: ``P``.
        seed: seed of the random domains.
        domain: see the module docstring.
        image_size: height and width of the probe images for CNNs.

    Raises:
        SpecError: unknown domain, or a grid that is not square over two inputs.
    """
    domain = resolve_domain(spec, domain)
    first = spec.layers[0]
    shape = (first.n_in,) if first.kind == "linear" else (first.n_in, image_size, image_size)
    gen = torch.Generator().manual_seed(seed)
    if domain == "normal":
        return torch.randn(num_probes, *shape, generator=gen)
    if domain == "uniform":
        return torch.rand(num_probes, *shape, generator=gen) * 2 - 1
    side = math.isqrt(num_probes)
    if shape != (2,) or side * side != num_probes:
        raise SpecError(
            f"a probe grid needs 2 inputs and a square number of probes, not {shape} and {num_probes}"
        )
    ticks = torch.linspace(-1.0, 1.0, side)
    y, x = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=1)  # (P, 2), (x, y) row by row


def cosine_basis(side: int, k: int) -> Tensor:
    """``(side^2, k^2)``: the ``k x k`` lowest 2D DCT-II basis images of a ``side x side`` grid.

    Columns are orthonormal images (row-major pixels, as :func:`probe_inputs`'s grid),
    scaled by ``1 / sqrt(side)``; column ``v * k + u`` has ``v`` cycles/2 down and ``u`` across.
    """
    if not 1 <= k <= side:
        raise SpecError(f"cosine probes: {k} x {k} coefficients of a {side} x {side} grid")
    t = torch.arange(side, dtype=torch.float64)
    freq = torch.arange(k, dtype=torch.float64)
    basis = torch.cos(math.pi * (2 * t[:, None] + 1) * freq[None, :] / (2 * side))  # (side, k)
    basis = basis / basis.norm(dim=0, keepdim=True)
    images = torch.einsum("yv,xu->yxvu", basis, basis).reshape(side * side, k * k)
    return (images / math.sqrt(side)).float()


def neuron_activations(spec: WeightSpec, ws: WeightSpace, inputs: Tensor) -> list[Tensor]:
    """Post-activation of every neuron of every layer on the probe ``inputs``.

    Args:
        spec: the architecture.
        ws: ``B`` networks, single channel, raw weights.
        inputs: ``(P, *input_shape)`` from :func:`probe_inputs`.

    Returns:
        One ``(B, n_out, P)`` tensor per layer (a conv channel: the spatial mean of its map).
    """
    if ws.channels != 1:
        raise SpecError(f"probe features need single-channel weights (C={ws.channels})")
    inputs = inputs.to(ws.device, ws.dtype)
    h = inputs.unsqueeze(0).expand(ws.batch_size, *inputs.shape)  # (B, P, *in)
    out = []
    for layer, weight, bias in zip(spec.layers, ws.weights, ws.biases, strict=True):
        if layer.kind == "linear" and h.ndim == 5:
            h = h.mean(dim=(-2, -1))  # global average pooling: (B, P, C)
        h = activate(layer_forward(layer, weight[..., 0], bias[..., 0], h), layer)
        out.append((h if h.ndim == 3 else h.mean(dim=(-2, -1))).transpose(1, 2))  # (B, n, P)
    return out


class ProbeChannels:
    """Append every neuron's probe features to a weight space as ``P`` more channels.

    The collate function calls it with the raw and the normalized weights of a batch: the
    features are computed on the raw weights (the networks' own functions) and appended
    to the normalized ones, bias tensors getting each neuron's ``P`` features and weight
    tensors ``P`` zero channels (so every tensor keeps one channel count). A metanet then
    reads ``1 + P`` input channels.

    Args:
        num_probes: ``P``: point probes, or (``"cosine"``) coefficients, a square number.
        seed: seed of the random probe inputs.
        domain: a point domain of :func:`probe_inputs`, or ``"cosine"`` (2-input networks:
            the lowest ``sqrt(P) x sqrt(P)`` cosine coefficients of each neuron's map on a
            ``grid_size x grid_size`` grid, see :func:`cosine_basis`).
        grid_size: side of the grid of ``"cosine"``.
    """

    def __init__(
        self, num_probes: int, seed: int = 0, domain: str = "auto", grid_size: int = 28
    ) -> None:
        if num_probes < 1:
            raise SpecError(f"probe features: give at least one probe, not {num_probes}")
        _check_domain(domain, CHANNEL_DOMAINS)
        if domain == "cosine" and math.isqrt(num_probes) ** 2 != num_probes:
            raise SpecError(f"cosine probe features: give a square number, not {num_probes}")
        self.num_probes, self.seed, self.domain = int(num_probes), int(seed), domain
        self.grid_size = int(grid_size)
        self._inputs: dict[WeightSpec, tuple[Tensor, Tensor | None]] = {}

    def __repr__(self) -> str:
        return (
            f"ProbeChannels(num_probes={self.num_probes}, seed={self.seed}, "
            f"domain={self.domain!r}, grid_size={self.grid_size})"
        )

    def to_dict(self) -> dict:
        """JSON-ready settings (saved with checkpoints and metanet files)."""
        return {
            "num_probes": self.num_probes,
            "seed": self.seed,
            "domain": self.domain,
            "grid_size": self.grid_size,
        }

    def _probes(self, spec: WeightSpec) -> tuple[Tensor, Tensor | None]:
        """The inputs ``(M, *in)`` every neuron runs on, and the ``(M, P)`` projection or None."""
        if spec not in self._inputs:
            if self.domain == "cosine":
                side = self.grid_size
                inputs = probe_inputs(spec, side * side, domain="grid")  # (side^2, 2)
                projection = cosine_basis(side, math.isqrt(self.num_probes))
            else:
                inputs = probe_inputs(spec, self.num_probes, self.seed, self.domain)
                projection = None
            self._inputs[spec] = (inputs, projection)
        return self._inputs[spec]

    def features(self, spec: WeightSpec, raw: WeightSpace) -> list[Tensor]:
        """Every neuron's ``P`` probe features: one ``(B, n_out, P)`` tensor per layer."""
        inputs, projection = self._probes(spec)
        activations = neuron_activations(spec, raw, inputs)  # [(B, n_out, M)]
        if projection is None:
            return activations
        return [a @ projection.to(a) for a in activations]  # (B, n_out, P) each

    def __call__(self, raw: WeightSpace, normalized: WeightSpace, spec: WeightSpec) -> WeightSpace:
        features = self.features(spec, raw)
        weights = tuple(
            torch.cat([w, w.new_zeros(*w.shape[:-1], self.num_probes)], dim=-1)
            for w in normalized.weights
        )  # (B, n_out, n_in, *kernel, C + P)
        biases = tuple(
            torch.cat([b, f.to(b)], dim=-1)
            for b, f in zip(normalized.biases, features, strict=True)
        )  # (B, n_out, C + P)
        return WeightSpace(weights, biases)
