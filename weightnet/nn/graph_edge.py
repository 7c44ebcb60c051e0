"""Edge updates on parameter graphs: each weight's features from its two end neurons."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from weightnet.nn.graph_aggregate import add_reduce_grad, assemble, fused_aggregators, reduce_block
from weightnet.nn.graph_blocks import BlockGraph
from weightnet.nn.matmul import matmul_nt

__all__ = ["EdgeUpdate"]


class _EdgeMLP(torch.autograd.Function):
    """``e + W_o relu(W_e e + s_i + d_o)`` on one block, then optionally its PNA reductions
    (:func:`~weightnet.nn.graph_aggregate.reduce_block`), with a hand-written backward.

    Written out because on a CPU these steps are bound by memory traffic: the node terms
    are added to the first product in place, the reductions' gradient is added to the
    incoming gradient in the same pass that copies it, no gradient is accumulated in a
    separate pass, and every product runs through :func:`~weightnet.nn.matmul.matmul_nt`.
    """

    @staticmethod
    def forward(
        ctx,
        edges: Tensor,
        src: Tensor,
        dst: Tensor,
        w_edge: Tensor,
        w_out: Tensor,
        names: tuple[str, ...],
    ) -> tuple[Tensor, ...]:
        batch, n_out, n_in, channels = edges.shape
        flat = edges.reshape(-1, channels)  # (M, d), M = B * n_out * n_in
        z = matmul_nt(flat, w_edge)  # (M, h)
        per_edge = z.view(batch, n_out, n_in, -1)  # (B, n_out, n_in, h)
        per_edge.add_(src[:, None]).add_(dst[:, :, None]).relu_()
        out = matmul_nt(z, w_out).add_(flat).view(edges.shape)  # (B, n_out, n_in, d)
        incoming, outgoing = reduce_block(out, names)
        ctx.save_for_backward(flat, z, w_edge, w_out, out, *incoming, *outgoing)
        ctx.names = names
        ctx.set_materialize_grads(False)
        return (out, *incoming, *outgoing)

    @staticmethod
    def backward(ctx, grad: Tensor | None, *grad_reduced: Tensor | None) -> tuple:
        flat, z, w_edge, w_out, out, *reduced = ctx.saved_tensors
        batch, n_out, n_in, channels = out.shape
        if grad is not None or any(g is not None for g in grad_reduced):
            grad = add_reduce_grad(grad, out, ctx.names, reduced, grad_reduced)
        else:
            grad = torch.zeros_like(out)
        grad = grad.view(-1, channels)  # (M, d), a new tensor
        grad_w_out = grad.T @ z  # (d, h)
        grad_z = matmul_nt(grad, w_out.T)  # (M, h)
        torch.ops.aten.threshold_backward.grad_input(grad_z, z, 0, grad_input=grad_z)
        grad_w_edge = grad_z.T @ flat  # (h, d)
        grad_edges = grad.add_(matmul_nt(grad_z, w_edge.T))  # (M, d)
        per_edge = grad_z.view(batch, n_out, n_in, -1)  # (B, n_out, n_in, h)
        return (
            grad_edges.view(out.shape),
            per_edge.sum(1),  # (B, n_in, h)
            per_edge.sum(2),  # (B, n_out, h)
            grad_w_edge,
            grad_w_out,
            None,
        )


class EdgeUpdate(nn.Module):
    r"""Residual edge MLP on ``[h_src, h_dst, e]`` (Neural Graphs, Kofinas et al. 2024).

    .. math::
        e_{ij} \leftarrow e_{ij} + W_2\, \mathrm{ReLU}(W_e e_{ij} + W_s h_i + W_d h_j + b)

    The MLP's first layer on the concatenation is split into its three blocks, so the
    node terms are computed once per node and broadcast to the edges; each edge then
    costs two matrix products (forward and backward written out in one autograd
    function per block).

    Args:
        channels: node and edge feature size ``d``.
        hidden_channels: the MLP's hidden size (default ``channels``).

    Shapes:
        nodes ``(N, d)``; edge blocks ``(B, n_out, n_in, d)`` as in :class:`BlockGraph`.
    """

    def __init__(self, channels: int, hidden_channels: int | None = None) -> None:
        super().__init__()
        hidden = hidden_channels or channels
        self.channels, self.hidden_channels = channels, hidden
        self.edge = nn.Linear(channels, hidden, bias=False)
        self.ends = nn.Linear(channels, 2 * hidden)  # [W_s; W_d], with b
        self.out = nn.Linear(hidden, channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in (self.edge, self.ends, self.out):
            lin.reset_parameters()

    def forward(self, nodes: Tensor, blocks: Sequence[Tensor], graph: BlockGraph) -> list[Tensor]:
        """Update every edge block from its end nodes; returns the new blocks."""
        return self.update_and_aggregate(nodes, blocks, graph)[0]

    def update_and_aggregate(
        self,
        nodes: Tensor,
        blocks: Sequence[Tensor],
        graph: BlockGraph,
        aggregators: Sequence[str] = (),
    ) -> tuple[list[Tensor], list[tuple[list[Tensor], list[Tensor]]]]:
        """Update every edge block and aggregate the new blocks in both directions.

        Args:
            nodes: ``(N, d)``.
            blocks: edge blocks ``(B, n_out, n_in, d)``.
            graph: their block structure.
            aggregators: names from :data:`~weightnet.nn.graph_aggregate.AGGREGATORS`.

        Returns:
            The new blocks and, per block, the per-aggregator reductions over each
            out-neuron's in-edges ``(B, n_out, d)`` and each in-neuron's out-edges
            ``(B, n_in, d)`` (as :func:`~weightnet.nn.graph_aggregate.aggregate_block`).
        """
        names = fused_aggregators(aggregators)
        out, reductions = [], []
        for block, (src, dst) in zip(blocks, graph.end_nodes(self.ends(nodes)), strict=True):
            s = src[..., : self.hidden_channels]  # (B, n_in, h)
            d = dst[..., self.hidden_channels :]  # (B, n_out, h)
            new, *reduced = _EdgeMLP.apply(block, s, d, self.edge.weight, self.out.weight, names)
            out.append(new)
            reductions.append(assemble(new, aggregators, reduced))
        return out, reductions

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channels}, hidden={self.hidden_channels})"
