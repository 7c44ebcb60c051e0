"""Reusable checks for weightnet's contracts: equivariance, invariance, sensitivity.

Every layer and model in weightnet is tested with these on MLP and CNN specs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from weightnet.symmetry import permute, sample_permutations
from weightnet.weightspace import LayerSpec, WeightSpace, WeightSpec

__all__ = [
    "mlp_spec",
    "cnn_spec",
    "siren_spec",
    "random_weightspace",
    "permute_io",
    "assert_equivariant",
    "assert_invariant",
    "assert_sensitive",
]


def mlp_spec(sizes=(3, 5, 4, 2), activation: str = "relu") -> WeightSpec:
    """A small MLP spec with keys ``net.{2k}.*`` (as :class:`weightnet.zoo.architectures.MLP`)."""
    layers = [
        LayerSpec(
            f"net.{2 * i}.weight",
            f"net.{2 * i}.bias",
            "linear",
            (n_out, n_in),
            activation if i < len(sizes) - 2 else "identity",
        )
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False))
    ]
    return WeightSpec(tuple(layers))


def cnn_spec(
    in_channels: int = 2,
    channels=(4, 3),
    num_classes: int = 3,
    kernel: int = 3,
    activation: str = "relu",
) -> WeightSpec:
    """A small CNN spec (convs, global average pooling, linear head) as :class:`~weightnet.zoo.architectures.CNN`."""
    layers = [
        LayerSpec(
            f"features.{2 * i}.weight",
            f"features.{2 * i}.bias",
            "conv",
            (c_out, c_in, kernel, kernel),
            activation,
            padding=kernel // 2,
        )
        for i, (c_in, c_out) in enumerate(zip([in_channels, *channels], channels, strict=False))
    ]
    layers.append(
        LayerSpec("head.weight", "head.bias", "linear", (num_classes, channels[-1]), "identity")
    )
    return WeightSpec(tuple(layers))


def siren_spec(sizes=(2, 8, 8, 1), w0: float = 30.0) -> WeightSpec:
    """A small SIREN spec with keys ``seq.{k}.*`` (as :class:`~weightnet.zoo.architectures.SIREN`)."""
    layers = [
        LayerSpec(
            f"seq.{i}.weight",
            f"seq.{i}.bias",
            "linear",
            (n_out, n_in),
            "sin" if i < len(sizes) - 2 else "identity",
            w0 if i < len(sizes) - 2 else 1.0,
        )
        for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False))
    ]
    return WeightSpec(tuple(layers))


def random_weightspace(
    spec: WeightSpec, batch_size: int = 4, channels: int = 1, seed: int = 0, scale: float = 0.5
) -> WeightSpace:
    """Gaussian weights and biases of ``batch_size`` networks with ``channels`` channels."""
    gen = torch.Generator().manual_seed(seed)
    weights = tuple(
        scale * torch.randn(batch_size, *layer.shape, channels, generator=gen)
        for layer in spec.layers
    )
    biases = tuple(
        scale * torch.randn(batch_size, layer.n_out, channels, generator=gen)
        for layer in spec.layers
    )
    return WeightSpace(weights, biases)


def permute_io(ws: WeightSpace, which: str = "input", seed: int = 0) -> WeightSpace:
    """Permute the network's *input* (or *output*) neurons: not a symmetry of the weight space.

    A metanet that is invariant to this cannot tell input pixels apart; NFN-NP's
    positional encodings and DWS/HNP layers are sensitive to it.
    """
    gen = torch.Generator().manual_seed(seed)
    weights, biases = list(ws.weights), list(ws.biases)
    if which == "input":
        n = weights[0].shape[2]
        perm = _derangement(n, gen)
        weights[0] = weights[0][:, :, perm]
    else:
        n = weights[-1].shape[1]
        perm = _derangement(n, gen)
        weights[-1] = weights[-1][:, perm]
        biases[-1] = biases[-1][:, perm]
    return WeightSpace(tuple(weights), tuple(biases))


def _derangement(n: int, gen: torch.Generator) -> Tensor:
    """A random permutation that moves at least one element (for ``n > 1``)."""
    perm = torch.randperm(n, generator=gen)
    if n > 1 and bool((perm == torch.arange(n)).all()):
        perm = torch.roll(perm, 1)
    return perm


def _as_tensors(out) -> list[Tensor]:
    if isinstance(out, WeightSpace):
        return out.tensors()
    if isinstance(out, Tensor):
        return [out]
    return [t for item in out for t in _as_tensors(item)]


def _max_diff(a, b) -> float:
    return max(
        float((x - y).abs().max()) for x, y in zip(_as_tensors(a), _as_tensors(b), strict=True)
    )


def assert_equivariant(
    fn: Callable[[WeightSpace], WeightSpace],
    spec: WeightSpec,
    ws: WeightSpace,
    seed: int = 0,
    atol: float = 1e-4,
) -> None:
    """``fn(P ws) == P fn(ws)`` for random hidden-neuron permutations ``P``, and ``fn`` is not
    trivially invariant (``fn(P ws) != fn(ws)``)."""
    perms = sample_permutations(spec, ws.batch_size, torch.Generator().manual_seed(seed))
    out = fn(ws)
    out_of_permuted = fn(permute(ws, perms))
    permuted_out = permute(out, perms)
    diff = _max_diff(out_of_permuted, permuted_out)
    assert diff <= atol, f"not equivariant: max |f(Px) - Pf(x)| = {diff:.3g} > {atol}"
    moved = _max_diff(out_of_permuted, out)
    assert moved > atol, (
        f"output did not move under a permutation (max diff {moved:.3g}): invariant, not equivariant"
    )


def assert_invariant(
    fn: Callable[[WeightSpace], Tensor],
    spec: WeightSpec,
    ws: WeightSpace,
    seed: int = 0,
    atol: float = 1e-4,
) -> None:
    """``fn(P ws) == fn(ws)`` for random hidden-neuron permutations ``P``."""
    perms = sample_permutations(spec, ws.batch_size, torch.Generator().manual_seed(seed))
    diff = _max_diff(fn(permute(ws, perms)), fn(ws))
    assert diff <= atol, f"not invariant: max |f(Px) - f(x)| = {diff:.3g} > {atol}"


def assert_sensitive(
    fn: Callable[[WeightSpace], Tensor | WeightSpace],
    spec: WeightSpec,
    ws: WeightSpace,
    *,
    io: bool = False,
    min_change: float = 1e-4,
) -> None:
    """``fn`` responds to its input: changing the weights changes the output.

    With ``io=True`` it must also respond to permuting the network's input neurons,
    a transformation outside the symmetry group (catches over-invariant models).
    """
    out = fn(ws)
    other = random_weightspace(spec, ws.batch_size, ws.channels, seed=12345)
    change = _max_diff(fn(other), out)
    assert change > min_change, f"output ignores the weights (max change {change:.3g})"
    nudged = WeightSpace(
        (ws.weights[0] + 0.5 * torch.ones_like(ws.weights[0]), *ws.weights[1:]), ws.biases
    )
    change = _max_diff(fn(nudged), out)
    assert change > min_change, (
        f"output ignores the first layer's weights (max change {change:.3g})"
    )
    if io:
        change = _max_diff(fn(permute_io(ws, "input")), out)
        assert change > min_change, (
            f"output is invariant to permuting the network's inputs (max change {change:.3g}), "
            "which is not a symmetry"
        )
