"""Edge updates on parameter graphs: each weight's features from its two end neurons."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from weightnet.nn.graph_blocks import BlockGraph
from weightnet.nn.matmul import matmul_nt

__all__ = ["EdgeUpdate"]


class _EdgeMLP(torch.autograd.Function):
    """``e + W_o relu(W_e e + s_i + d_o)`` on one block, with a hand-written backward.

    Autograd would keep the broadcast node terms as a separate edge-sized tensor, copy it
    into the product and accumulate the residual gradient in a separate pass; here the
    node terms are written once, the first product is added to them in place, and every
    product runs through :func:`~weightnet.nn.matmul.matmul_nt`.
    """

    @staticmethod
    def forward(
        ctx, edges: Tensor, src: Tensor, dst: Tensor, w_edge: Tensor, w_out: Tensor
    ) -> Tensor:
        batch, n_out, n_in, channels = edges.shape
        flat = edges.reshape(-1, channels)  # (M, d), M = B * n_out * n_in
        z = torch.add(src[:, None], dst[:, :, None]).view(flat.shape[0], -1)  # (M, h)
        z.add_(matmul_nt(flat, w_edge)).relu_()
        out = matmul_nt(z, w_out).add_(flat)  # (M, d)
        ctx.save_for_backward(flat, z, w_edge, w_out)
        return out.view(edges.shape)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, ...]:
        flat, z, w_edge, w_out = ctx.saved_tensors
        batch, n_out, n_in, channels = grad.shape
        grad = grad.reshape(-1, channels)  # (M, d)
        grad_w_out = grad.T @ z  # (d, h)
        grad_z = matmul_nt(grad, w_out.T)  # (M, h)
        torch.ops.aten.threshold_backward.grad_input(grad_z, z, 0, grad_input=grad_z)
        grad_w_edge = grad_z.T @ flat  # (h, d)
        grad_edges = matmul_nt(grad_z, w_edge.T).add_(grad)  # (M, d)
        per_edge = grad_z.view(batch, n_out, n_in, -1)  # (B, n_out, n_in, h)
        return (
            grad_edges.view(batch, n_out, n_in, channels),
            per_edge.sum(1),  # (B, n_in, h)
            per_edge.sum(2),  # (B, n_out, h)
            grad_w_edge,
            grad_w_out,
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
        out = []
        for block, (src, dst) in zip(blocks, graph.end_nodes(self.ends(nodes)), strict=True):
            s = src[..., : self.hidden_channels]  # (B, n_in, h)
            d = dst[..., self.hidden_channels :]  # (B, n_out, h)
            out.append(_EdgeMLP.apply(block, s, d, self.edge.weight, self.out.weight))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channels}, hidden={self.hidden_channels})"
