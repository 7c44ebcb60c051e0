"""Edge updates on parameter graphs: each weight's features from its two end neurons."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from weightnet.nn.graph_blocks import BlockGraph

__all__ = ["EdgeUpdate"]


class EdgeUpdate(nn.Module):
    r"""Residual edge MLP on ``[h_src, h_dst, e]`` (Neural Graphs, Kofinas et al. 2024).

    .. math::
        e_{ij} \leftarrow e_{ij} + W_2\, \mathrm{ReLU}(W_e e_{ij} + W_s h_i + W_d h_j + b)

    The MLP's first layer on the concatenation is split into its three blocks, so the
    node terms are computed once per node and broadcast to the edges; each edge then
    costs two fused matrix products.

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
            ends = (s[:, None] + d[:, :, None]).flatten(0, 2)  # (B * n_out * n_in, h)
            z = torch.addmm(ends, block.flatten(0, 2), self.edge.weight.T).relu_()
            out.append(torch.addmm(block.flatten(0, 2), z, self.out.weight.T).view(block.shape))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channels}, hidden={self.hidden_channels})"
