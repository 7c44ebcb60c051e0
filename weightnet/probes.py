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
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from weightnet.functional import activate, layer_forward
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

__all__ = ["PROBE_DOMAINS", "ProbeChannels", "neuron_activations", "probe_inputs", "resolve_domain"]

PROBE_DOMAINS = ("auto", "normal", "uniform", "grid")


def _check_domain(domain: str) -> None:
    if domain not in PROBE_DOMAINS:
        raise SpecError(f"unknown probe domain {domain!r}; choose from {', '.join(PROBE_DOMAINS)}")


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
    """Append every neuron's probe activations to a weight space as ``P`` more channels.

    The collate function calls it with the raw and the normalized weights of a batch: the
    activations are computed on the raw weights (the networks' own functions) and appended
    to the normalized ones, bias tensors getting each neuron's ``P`` activations and weight
    tensors ``P`` zero channels (so every tensor keeps one channel count). A metanet then
    reads ``1 + P`` input channels.

    Args:
        num_probes: ``P``.
        seed: seed of the probe inputs.
        domain: see :func:`probe_inputs` (``"auto"``: uniform coordinates for SIRENs).
    """

    def __init__(self, num_probes: int, seed: int = 0, domain: str = "auto") -> None:
        if num_probes < 1:
            raise SpecError(f"probe features: give at least one probe, not {num_probes}")
        _check_domain(domain)
        self.num_probes, self.seed, self.domain = int(num_probes), int(seed), domain
        self._inputs: dict[WeightSpec, Tensor] = {}

    def __repr__(self) -> str:
        return (
            f"ProbeChannels(num_probes={self.num_probes}, seed={self.seed}, domain={self.domain!r})"
        )

    def to_dict(self) -> dict:
        """JSON-ready settings (saved with checkpoints and metanet files)."""
        return {"num_probes": self.num_probes, "seed": self.seed, "domain": self.domain}

    def __call__(self, raw: WeightSpace, normalized: WeightSpace, spec: WeightSpec) -> WeightSpace:
        if spec not in self._inputs:
            self._inputs[spec] = probe_inputs(spec, self.num_probes, self.seed, self.domain)
        activations = neuron_activations(spec, raw, self._inputs[spec])  # [(B, n_out, P)]
        weights = tuple(
            torch.cat([w, w.new_zeros(*w.shape[:-1], self.num_probes)], dim=-1)
            for w in normalized.weights
        )  # (B, n_out, n_in, *kernel, C + P)
        biases = tuple(
            torch.cat([b, a.to(b)], dim=-1)
            for b, a in zip(normalized.biases, activations, strict=True)
        )  # (B, n_out, C + P)
        return WeightSpace(weights, biases)
