"""NG-GNN message passing with edge updates on parameter graphs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from weightnet.nn.graph_aggregate import AGGREGATORS
from weightnet.nn.graph_blocks import BlockGraph
from weightnet.nn.graph_edge import EdgeUpdate

__all__ = ["NGConv", "AGGREGATORS"]


class NGConv(nn.Module):
    r"""One NG-GNN layer (Neural Graphs, Kofinas et al. 2024) with PNA aggregation.

    Edges first: :class:`EdgeUpdate` on ``[h_src, h_dst, e]``. Then every neuron
    aggregates the updated features of its incoming edges *and* of its outgoing edges
    (information flows both ways through the network) with several aggregators, each
    also multiplied by the PNA amplification scaler :math:`\log(\deg + 1) / \delta`:

    .. math::
        h_i \leftarrow \mathrm{LN}\Big(h_i + \phi\big([h_i,\ \bigoplus_{j \to i} e_{ji},\
        \bigoplus_{i \to k} e_{ik}]\big)\Big)

    Permuting hidden neurons permutes nodes and edges alike: the layer is equivariant.

    Args:
        channels: node and edge feature size ``d``.
        aggregators: names from :data:`AGGREGATORS`.
        amplify: add the amplification-scaled copies of the aggregates.
        avg_degree: PNA's :math:`\delta = \log(\text{avg\_degree} + 1)`.

    Shapes:
        nodes ``(N, d)``; edge blocks ``(B, n_out, n_in, d)`` as in :class:`BlockGraph`.
    """

    def __init__(
        self,
        channels: int,
        aggregators: Sequence[str] = ("mean", "max"),
        amplify: bool = True,
        avg_degree: float = 32.0,
    ) -> None:
        super().__init__()
        unknown = set(aggregators) - set(AGGREGATORS)
        if unknown:
            raise ValueError(f"unknown aggregators {sorted(unknown)} (known: {AGGREGATORS})")
        self.channels, self.aggregators, self.amplify = channels, tuple(aggregators), amplify
        self.delta = math.log(avg_degree + 1)
        per_direction = len(self.aggregators) * (2 if amplify else 1) * channels
        self.edge_update = EdgeUpdate(channels)
        self.node_mlp = nn.Sequential(
            nn.Linear(channels + 2 * per_direction, channels),
            nn.GELU(),
            nn.Linear(channels, channels),
        )
        self.norm = nn.LayerNorm(channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.edge_update.reset_parameters()
        for module in (*self.node_mlp, self.norm):
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def _project(self, reduced: list[Tensor], weight: Tensor, degree: int) -> Tensor:
        """``[agg, scale * agg] @ weight.T`` as ``agg @ (W_1 + scale * W_2).T``."""
        agg = torch.cat(reduced, dim=-1)  # (B, n, A * d)
        if self.amplify:
            plain, amplified = weight.chunk(2, dim=1)  # (d, A * d) each
            weight = plain + amplified * (math.log(degree + 1) / self.delta)
        return agg @ weight.T  # (B, n, d)

    def forward(
        self, nodes: Tensor, blocks: Sequence[Tensor], graph: BlockGraph
    ) -> tuple[Tensor, list[Tensor]]:
        """Returns updated nodes ``(N, d)`` and edge blocks."""
        blocks, reductions = self.edge_update.update_and_aggregate(
            nodes, blocks, graph, self.aggregators
        )
        # node_mlp's first layer on [h, agg_in, agg_out], applied block by block to the
        # aggregates (fewer columns than the node-level concatenation)
        first = self.node_mlp[0]
        per_direction = (first.in_features - self.channels) // 2
        w_node, w_in, w_out = first.weight.split([self.channels, per_direction, per_direction], 1)
        incoming, outgoing = [], []
        for block, (reduced_in, reduced_out) in zip(blocks, reductions, strict=True):
            incoming.append(self._project(reduced_in, w_in, block.shape[2]))  # (B, n_out, d)
            outgoing.append(self._project(reduced_out, w_out, block.shape[1]))  # (B, n_in, d)
        from_in, from_out = graph.to_nodes(incoming, outgoing)  # (N, d) each
        hidden = torch.addmm(first.bias, nodes, w_node.T) + from_in + from_out  # (N, d)
        nodes = self.norm(nodes + self.node_mlp[2](self.node_mlp[1](hidden)))
        return nodes, blocks

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.channels}, aggregators={list(self.aggregators)}, "
            f"amplify={self.amplify})"
        )
