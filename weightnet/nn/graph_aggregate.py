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

__all__ = ["AGGREGATORS", "aggregate_block"]

#: Aggregations over a neuron's incoming / outgoing edges (PNA, Corso et al. 2020).
AGGREGATORS = ("mean", "max", "min", "std")
_FUSED = ("mean", "max", "min")


def _fused_reduce(block: Tensor, dim: int, name: str) -> Tensor:
    if name == "mean":
        return block.sum(dim) / block.shape[dim]
    return block.amax(dim) if name == "max" else block.amin(dim)


class _Aggregate(torch.autograd.Function):
    """Mean / max / min of ``block`` over dims 2 and 1; outputs in/out per aggregator."""

    @staticmethod
    def forward(ctx, block: Tensor, names: tuple[str, ...]) -> tuple[Tensor, ...]:
        incoming = [_fused_reduce(block, 2, name) for name in names]  # each (B, n_out, d)
        outgoing = [_fused_reduce(block, 1, name) for name in names]  # each (B, n_in, d)
        reduced = zip(incoming + outgoing, names + names, strict=True)
        ctx.save_for_backward(block, *(t for t, name in reduced if name != "mean"))
        ctx.set_materialize_grads(False)
        ctx.names = names
        return (*incoming, *outgoing)

    @staticmethod
    def backward(ctx, *grads: Tensor | None) -> tuple[Tensor | None, None]:
        block, *extrema = ctx.saved_tensors
        names, (_, n_out, n_in, _) = ctx.names, block.shape
        # (gradient, reduced dim, name) of every output, in forward order
        parts = [
            (g, 2 if k < len(names) else 1, names[k % len(names)]) for k, g in enumerate(grads)
        ]
        means = [
            (g / (n_in if dim == 2 else n_out)).unsqueeze(dim)
            for g, dim, name in parts
            if name == "mean" and g is not None
        ]
        if len(means) == 2:
            grad = means[0] + means[1]  # (B, n_out, n_in, d)
        else:
            grad = block.new_zeros(block.shape)
            if means:
                grad.add_(means[0])
        mask = torch.empty_like(grad)
        for (g, dim, name), value in zip(
            [p for p in parts if p[2] != "mean"], extrema, strict=True
        ):
            if g is not None:
                # 1.0 where the block attains its extremum (float compare: no bool tensors)
                compare = torch.ge if name == "max" else torch.le
                compare(block, value.unsqueeze(dim), out=mask)
                grad.addcmul_(mask, g.unsqueeze(dim))
        return grad, None


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
    fused = tuple(dict.fromkeys(name for name in aggregators if name in _FUSED))
    reduced: dict[tuple[str, int], Tensor] = {}
    if fused:
        outputs = _Aggregate.apply(block, fused)
        for k, name in enumerate(fused):
            reduced[name, 2], reduced[name, 1] = outputs[k], outputs[len(fused) + k]
    if "std" in aggregators:
        for dim in (2, 1):
            reduced["std", dim] = torch.sqrt(block.var(dim, correction=0) + 1e-5)
    return [reduced[name, 2] for name in aggregators], [reduced[name, 1] for name in aggregators]
