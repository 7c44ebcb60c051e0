"""PNA aggregation of one dense edge block, in both directions, with a cheap backward.

An edge block ``(B, n_out, n_in, d)`` (see :class:`~weightnet.nn.graph_blocks.BlockGraph`)
is reduced over ``n_in`` (each out-neuron's incoming edges) and over ``n_out`` (each
in-neuron's outgoing edges). Autograd's backward of ``amax`` / ``amin`` builds the
gradient through boolean-to-float conversions and a tie count, several passes over the
block each; here the gradient of all aggregators of both directions is assembled in one
block-sized tensor: the broadcast mean gradients, plus each extremum's gradient where
the block attains it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "AGGREGATORS",
    "aggregate_block",
    "assemble",
    "fused_aggregators",
    "reduce_block",
    "add_reduce_grad",
]

#: Aggregations over a neuron's incoming / outgoing edges (PNA, Corso et al. 2020).
AGGREGATORS = ("mean", "max", "min", "std")
_FUSED = ("mean", "max", "min")


def _fused_reduce(block: Tensor, dim: int, name: str) -> Tensor:
    if name == "mean":
        return block.sum(dim) / block.shape[dim]
    return block.amax(dim) if name == "max" else block.amin(dim)


def fused_aggregators(aggregators: Sequence[str]) -> tuple[str, ...]:
    """The aggregators among ``aggregators`` that :func:`reduce_block` computes."""
    return tuple(dict.fromkeys(name for name in aggregators if name in _FUSED))


def reduce_block(block: Tensor, names: Sequence[str]) -> tuple[list[Tensor], list[Tensor]]:
    """Mean / max / min of ``block`` ``(B, n_out, n_in, d)`` over ``n_in`` and over ``n_out``.

    No autograd; :func:`add_reduce_grad` is the backward. Returns per name ``(B, n_out, d)``
    and ``(B, n_in, d)``.
    """
    return [_fused_reduce(block, 2, name) for name in names], [
        _fused_reduce(block, 1, name) for name in names
    ]


def add_reduce_grad(
    grad: Tensor | None,
    block: Tensor,
    names: Sequence[str],
    reduced: Sequence[Tensor],
    grads: Sequence[Tensor | None],
) -> Tensor:
    """Backward of :func:`reduce_block`, added to ``grad``.

    Args:
        grad: ``(B, n_out, n_in, d)`` gradient to add to (not modified), or ``None``.
        block: the reduced block.
        names: as given to :func:`reduce_block`.
        reduced: its outputs, incoming then outgoing (``2 * len(names)`` tensors).
        grads: their gradients (``None``: no gradient), same order.

    Returns:
        A new contiguous ``(B, n_out, n_in, d)`` tensor: ``grad`` plus the reductions' gradient. The
        gradient of a maximum (minimum) goes to every entry that attains it.
    """
    _, n_out, n_in, _ = block.shape
    dims = [2] * len(names) + [1] * len(names)
    means = [
        (g / (n_in if dim == 2 else n_out)).unsqueeze(dim)  # (B, n_out, 1, d) or (B, 1, n_in, d)
        for g, dim, name in zip(grads, dims, [*names, *names], strict=True)
        if name == "mean" and g is not None
    ]
    terms = ([] if grad is None else [grad]) + means
    out = block.new_empty(block.shape)  # contiguous, whatever the strides of grad
    if not terms:
        out.zero_()
    elif len(terms) == 1:
        out.copy_(terms[0])
    else:
        torch.add(terms[0], terms[1], out=out)
        for term in terms[2:]:
            out.add_(term)
    mask = None
    for g, dim, name, value in zip(grads, dims, [*names, *names], reduced, strict=True):
        if name != "mean" and g is not None:
            # 1.0 where the block attains its extremum (a float compare: no bool tensors)
            mask = torch.empty_like(out) if mask is None else mask
            compare = torch.ge if name == "max" else torch.le
            compare(block, value.unsqueeze(dim), out=mask)
            out.addcmul_(mask, g.unsqueeze(dim))
    return out


class _Aggregate(torch.autograd.Function):
    """Mean / max / min of ``block`` over dims 2 and 1; outputs in/out per aggregator."""

    @staticmethod
    def forward(ctx, block: Tensor, names: tuple[str, ...]) -> tuple[Tensor, ...]:
        incoming, outgoing = reduce_block(block, names)
        ctx.save_for_backward(block, *incoming, *outgoing)
        ctx.set_materialize_grads(False)
        ctx.names = names
        return (*incoming, *outgoing)

    @staticmethod
    def backward(ctx, *grads: Tensor | None) -> tuple[Tensor | None, None]:
        block, *reduced = ctx.saved_tensors
        return add_reduce_grad(None, block, ctx.names, reduced, grads), None


def aggregate_block(block: Tensor, aggregators: Sequence[str]) -> tuple[list[Tensor], list[Tensor]]:
    """Aggregate an edge block over each out-neuron's in-edges and each in-neuron's out-edges.

    Args:
        block: ``(B, n_out, n_in, d)`` edge features.
        aggregators: names from :data:`AGGREGATORS`, in output order.

    Returns:
        Per aggregator, ``(B, n_out, d)`` (over ``n_in``) and ``(B, n_in, d)`` (over
        ``n_out``). ``std`` is :math:`\\sqrt{\\mathrm{var} + 10^{-5}}`. The gradient of a
        maximum (minimum) goes to every entry that attains it.
    """
    fused = fused_aggregators(aggregators)
    return assemble(block, aggregators, _Aggregate.apply(block, fused) if fused else ())


def assemble(
    block: Tensor, aggregators: Sequence[str], fused: Sequence[Tensor]
) -> tuple[list[Tensor], list[Tensor]]:
    """Per-aggregator outputs in ``aggregators`` order from the outputs ``fused``
    (incoming then outgoing, in :func:`fused_aggregators` order) of :func:`reduce_block`;
    ``std`` is computed here (with autograd)."""
    names = fused_aggregators(aggregators)
    reduced: dict[tuple[str, int], Tensor] = {}
    for k, name in enumerate(names):
        reduced[name, 2], reduced[name, 1] = fused[k], fused[len(names) + k]
    if "std" in aggregators:
        for dim in (2, 1):
            reduced["std", dim] = torch.sqrt(block.var(dim, correction=0) + 1e-5)
    return [reduced[name, 2] for name in aggregators], [reduced[name, 1] for name in aggregators]
