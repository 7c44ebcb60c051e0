"""Edge updates on parameter graphs: each weight's features from its two end neurons."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from weightnet.nn.gemm import matmul
from weightnet.nn.graph_aggregate import add_reduce_grad, assemble, fused_aggregators, reduce_block
from weightnet.nn.graph_blocks import BlockGraph

__all__ = ["EdgeUpdate"]


#: Edge features (floats) per chunk: a chunk's intermediates stay in the CPU's cache.
CHUNK_FLOATS = 2**19


def _chunks(batch: int, per_graph: int) -> list[tuple[int, int]]:
    """Graph ranges ``[b0, b1)`` of about :data:`CHUNK_FLOATS` floats each (``per_graph``
    floats per graph)."""
    step = max(1, CHUNK_FLOATS // max(1, per_graph))
    return [(b0, min(b0 + step, batch)) for b0 in range(0, batch, step)]


class _EdgeMLP(torch.autograd.Function):
    """``e + W_o relu(W_e e + s_i + d_o)`` on one block, then optionally its PNA reductions
    (:func:`~weightnet.nn.graph_aggregate.reduce_block`), with a hand-written backward.

    On a CPU these steps are bound by memory traffic, so the block is processed in
    chunks of a few graphs (:data:`CHUNK_FLOATS`): all intermediates of a chunk stay in
    the cache, and main memory sees only the block, the hidden activations and the
    output (forward), and the incoming gradient and the edges' gradient (backward).
    Every product runs through :func:`~weightnet.nn.gemm.matmul` (oneDNN on the CPU).
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
        per_graph = n_out * n_in
        flat = edges.reshape(-1, channels)  # (M, d), M = B * n_out * n_in
        z = flat.new_empty(flat.shape[0], w_edge.shape[0])  # (M, h)
        out = torch.empty_like(flat)  # (M, d)
        incoming, outgoing = [], []
        for b0, b1 in _chunks(batch, per_graph * channels):
            rows = slice(b0 * per_graph, b1 * per_graph)
            hidden = matmul(flat[rows], w_edge.T)  # (M_c, h)
            per_edge = hidden.view(b1 - b0, n_out, n_in, -1)  # (B_c, n_out, n_in, h)
            per_edge.add_(src[b0:b1, None]).add_(dst[b0:b1, :, None]).relu_()
            z[rows] = hidden
            chunk = matmul(hidden, w_out.T).add_(flat[rows])  # (M_c, d)
            out[rows] = chunk
            reduced_in, reduced_out = reduce_block(chunk.view(b1 - b0, n_out, n_in, -1), names)
            incoming.append(reduced_in)
            outgoing.append(reduced_out)
        incoming = [torch.cat(parts) for parts in zip(*incoming, strict=True)]  # (B, n_out, d)
        outgoing = [torch.cat(parts) for parts in zip(*outgoing, strict=True)]  # (B, n_in, d)
        out = out.view(edges.shape)  # (B, n_out, n_in, d)
        ctx.save_for_backward(flat, z, w_edge, w_out, out, *incoming, *outgoing)
        ctx.names = names
        ctx.set_materialize_grads(False)
        return (out, *incoming, *outgoing)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor | None, *grad_reduced: Tensor | None) -> tuple:
        flat, z, w_edge, w_out, out, *reduced = ctx.saved_tensors
        batch, n_out, n_in, channels = out.shape
        per_graph = n_out * n_in
        grad_edges = torch.empty_like(flat)  # (M, d)
        grad_w_out, grad_w_edge = torch.zeros_like(w_out), torch.zeros_like(w_edge)
        grad_src = z.new_empty(batch, n_in, z.shape[1])
        grad_dst = z.new_empty(batch, n_out, z.shape[1])
        for b0, b1 in _chunks(batch, per_graph * channels):
            rows = slice(b0 * per_graph, b1 * per_graph)
            chunk_grads = [None if g is None else g[b0:b1] for g in grad_reduced]
            g = add_reduce_grad(
                None if grad is None else grad[b0:b1],
                out[b0:b1],
                ctx.names,
                [r[b0:b1] for r in reduced],
                chunk_grads,
            ).view(-1, channels)  # (M_c, d), a new tensor
            hidden = z[rows]  # (M_c, h)
            grad_w_out.addmm_(g.T, hidden)
            grad_z = matmul(g, w_out)  # (M_c, h)
            torch.ops.aten.threshold_backward.grad_input(grad_z, hidden, 0, grad_input=grad_z)
            grad_w_edge.addmm_(grad_z.T, flat[rows])
            grad_edges[rows] = g.add_(matmul(grad_z, w_edge))
            per_edge = grad_z.view(b1 - b0, n_out, n_in, -1)  # (B_c, n_out, n_in, h)
            torch.sum(per_edge, 1, out=grad_src[b0:b1])
            torch.sum(per_edge, 2, out=grad_dst[b0:b1])
        return (
            grad_edges.view(out.shape),
            grad_src,  # (B, n_in, h)
            grad_dst,  # (B, n_out, h)
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
