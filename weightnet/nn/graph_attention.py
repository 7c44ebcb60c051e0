"""Relational attention on parameter graphs (NG-T style)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from weightnet.nn.graph_blocks import BlockGraph
from weightnet.nn.graph_edge import EdgeUpdate

__all__ = ["RelationalAttention"]


class RelationalAttention(nn.Module):
    r"""One NG-T layer: multi-head attention along the parameter graph's edges, in both
    directions, with edge features in keys and values, then an edge update.

    A neuron attends over its in-neurons (and, with separate projections, over its
    out-neurons); the edge between them shifts the key and the value (relational
    transformer, Diao & Loynd 2023; NG-T, Kofinas et al. 2024):

    .. math::
        \alpha_{ij} = \mathrm{softmax}_j \frac{q_i^\top (k_j + W^K e_{ji})}{\sqrt{d_h}}, \qquad
        m_i = \sum_j \alpha_{ij} (v_j + W^V e_{ji} + b^V)

    computed without projecting any edge: :math:`q^\top W^K e = (W^{K\top} q)^\top e` and
    :math:`\sum_j \alpha_{ij} W^V e_{ji} = W^V \sum_j \alpha_{ij} e_{ji}`, so each edge is read
    by two batched matrix products per direction. Followed by a pre-norm feed-forward
    block and :class:`EdgeUpdate`. Attention is restricted to the graph's edges.

    Args:
        channels: node and edge feature size ``d``.
        heads: attention heads (must divide ``channels``).
        ffn_ratio: hidden size of the feed-forward block, in multiples of ``d``.

    Shapes:
        nodes ``(N, d)``; edge blocks ``(B, n_out, n_in, d)`` as in :class:`BlockGraph`.
    """

    def __init__(self, channels: int, heads: int = 4, ffn_ratio: int = 2) -> None:
        super().__init__()
        if channels % heads:
            raise ValueError(f"heads={heads} must divide channels={channels}")
        self.channels, self.heads = channels, heads
        self.norm_attn = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 6 * channels)  # forward and backward q, k, v
        self.edge_key = nn.Linear(channels, 2 * channels, bias=False)  # forward, backward W^K
        self.edge_value = nn.Linear(channels, 2 * channels)  # forward, backward W^V, b^V
        self.out = nn.Linear(2 * channels, channels)
        self.norm_ffn = nn.LayerNorm(channels)
        self.ffn = nn.Sequential(
            nn.Linear(channels, ffn_ratio * channels),
            nn.GELU(),
            nn.Linear(ffn_ratio * channels, channels),
        )
        self.edge_update = EdgeUpdate(channels)
        head_of_channel = torch.arange(channels) // (channels // heads)
        self.register_buffer(
            "head_mask", head_of_channel == torch.arange(heads)[:, None], persistent=False
        )  # (H, d)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in (self.norm_attn, self.qkv, self.edge_key, self.edge_value, self.out):
            module.reset_parameters()
        self.norm_ffn.reset_parameters()
        for module in self.ffn:
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
        self.edge_update.reset_parameters()

    def _attend(self, block: Tensor, q: Tensor, k: Tensor, v: Tensor, direction: int) -> Tensor:
        """Attention of out-neurons over in-neurons (``direction=0``) or of in-neurons over
        out-neurons (``direction=1``) along ``block`` ``(B, n_out, n_in, d)``. ``q`` ``(B, n, d)``
        is the querying side, ``k, v`` ``(B, m, d)`` the attended side."""
        heads, d_h, d = self.heads, self.channels // self.heads, self.channels
        edges = "bnmd" if direction == 0 else "bmnd"  # n: querying side, m: attended side
        rows = slice(direction * d, (direction + 1) * d)
        head_mask = self.head_mask.to(q.dtype)  # (H, d): channel c belongs to head h
        q_edge = (q[:, :, None] * head_mask) @ self.edge_key.weight[rows]  # (B, n, H, d)
        scores = torch.einsum(f"{edges},bnhd->bnmh", block, q_edge)  # (B, n, m, H)
        scores = scores + torch.einsum(
            "bnhc,bmhc->bnmh", q.unflatten(-1, (heads, d_h)), k.unflatten(-1, (heads, d_h))
        )
        attn = torch.softmax(scores / math.sqrt(d_h), dim=2)  # (B, n, m, H)
        pooled = torch.einsum(f"bnmh,{edges}->bnhd", attn, block)  # (B, n, H, d)
        out = ((pooled @ self.edge_value.weight[rows].T) * head_mask).sum(2)  # (B, n, d)
        attended = torch.einsum("bnmh,bmhc->bnhc", attn, v.unflatten(-1, (heads, d_h)))
        return out + attended.flatten(-2) + self.edge_value.bias[rows]  # (B, n, d)

    def forward(
        self, nodes: Tensor, blocks: Sequence[Tensor], graph: BlockGraph
    ) -> tuple[Tensor, list[Tensor]]:
        """Returns updated nodes ``(N, d)`` and edge blocks."""
        incoming, outgoing = [], []
        qkv = self.qkv(self.norm_attn(nodes))  # (N, 6d)
        for block, (src, dst) in zip(blocks, graph.end_nodes(qkv), strict=True):
            src, dst = src.chunk(6, dim=-1), dst.chunk(6, dim=-1)  # (B, n_in | n_out, d) each
            incoming.append(self._attend(block, dst[0], src[1], src[2], 0))
            outgoing.append(self._attend(block, src[3], dst[4], dst[5], 1))
        agg_in, agg_out = graph.to_nodes(incoming, outgoing)
        nodes = nodes + self.out(torch.cat([agg_in, agg_out], dim=-1))
        nodes = nodes + self.ffn(self.norm_ffn(nodes))
        return nodes, self.edge_update(nodes, blocks, graph)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channels}, heads={self.heads})"
