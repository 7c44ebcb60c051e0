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
        \alpha_{ij} = \mathrm{softmax}_j \frac{q_i^\top (k_j + k^e_{ji})}{\sqrt{d_h}}, \qquad
        m_i = \sum_j \alpha_{ij} (v_j + v^e_{ji})

    followed by a pre-norm feed-forward block and :class:`EdgeUpdate`. Attention is
    restricted to the graph's edges and computed densely per layer block.

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
        self.edge_kv = nn.Linear(channels, 2 * channels)
        self.out = nn.Linear(2 * channels, channels)
        self.norm_ffn = nn.LayerNorm(channels)
        self.ffn = nn.Sequential(
            nn.Linear(channels, ffn_ratio * channels),
            nn.GELU(),
            nn.Linear(ffn_ratio * channels, channels),
        )
        self.edge_update = EdgeUpdate(channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in (self.norm_attn, self.qkv, self.edge_kv, self.out, self.norm_ffn):
            module.reset_parameters()
        for module in self.ffn:
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
        self.edge_update.reset_parameters()

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, ek: Tensor, ev: Tensor, dim: int) -> Tensor:
        """Attention of the query side over ``dim`` (2: out-neurons over in-neurons,
        1: in-neurons over out-neurons); all inputs already broadcast to the block."""
        heads = (self.heads, self.channels // self.heads)
        scores = (q * (k + ek)).unflatten(-1, heads).sum(-1)  # (B, n_out, n_in, H)
        attn = torch.softmax(scores / math.sqrt(heads[1]), dim=dim)
        values = (v + ev).unflatten(-1, heads)  # (B, n_out, n_in, H, d_h)
        return (attn[..., None] * values).sum(dim).flatten(-2)  # (B, n, d)

    def forward(
        self, nodes: Tensor, blocks: Sequence[Tensor], graph: BlockGraph
    ) -> tuple[Tensor, list[Tensor]]:
        """Returns updated nodes ``(N, d)`` and edge blocks."""
        incoming, outgoing = [], []
        qkv = self.qkv(self.norm_attn(nodes))  # (N, 6d)
        for block, (src, dst) in zip(blocks, graph.end_nodes(qkv), strict=True):
            ek, ev = self.edge_kv(block).chunk(2, dim=-1)  # (B, n_out, n_in, d) each
            src = src[:, None].chunk(6, dim=-1)  # (B, 1, n_in, d) each
            dst = dst[:, :, None].chunk(6, dim=-1)  # (B, n_out, 1, d) each
            incoming.append(self._attend(dst[0], src[1], src[2], ek, ev, dim=2))
            outgoing.append(self._attend(src[3], dst[4], dst[5], ek, ev, dim=1))
        agg_in, agg_out = graph.to_nodes(incoming, outgoing)
        nodes = nodes + self.out(torch.cat([agg_in, agg_out], dim=-1))
        nodes = nodes + self.ffn(self.norm_ffn(nodes))
        return nodes, self.edge_update(nodes, blocks, graph)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.channels}, heads={self.heads})"
