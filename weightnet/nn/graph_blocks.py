"""Dense block views of a batch of parameter graphs.

Between two consecutive layers a parameter graph is a complete bipartite graph, and
:func:`weightnet.graph.to_graph_batch` stores its edges in the weight's row-major
order. So the edge features of one layer of ``B`` same-architecture graphs are a view
``(B, n_out, n_in, d)`` of the flat ``(E, d)`` edge tensor, gathering the end nodes of
every edge is a broadcast, and aggregating over a node's incoming (outgoing) edges is a
dense reduction over ``n_in`` (``n_out``). This is exactly message passing along
``edge_index``, without index gathers or scatters: one Python step per layer and
architecture, never per network.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from weightnet.graph import GraphGroup, graph_groups

if TYPE_CHECKING:
    from torch_geometric.data import Batch

__all__ = ["BlockGraph"]


class BlockGraph:
    """Block structure of a parameter-graph batch: one block per (architecture run, layer).

    Args:
        groups: runs of same-layout graphs, as from :func:`weightnet.graph.graph_groups`.
    """

    def __init__(self, groups: Sequence[GraphGroup]) -> None:
        self.groups = list(groups)
        self.num_nodes = sum(g.count * g.layout.num_nodes for g in self.groups)
        self.num_edges = sum(g.count * g.layout.num_edges for g in self.groups)

    @classmethod
    def from_batch(cls, batch: Batch) -> BlockGraph:
        """The block structure of a batch built by :func:`weightnet.graph.to_graph_batch`."""
        return cls(graph_groups(batch))

    def _layers(self) -> Iterator[tuple[GraphGroup, int, int, int]]:
        for group in self.groups:
            sizes = group.layout.layer_sizes
            for layer, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
                yield group, layer, n_in, n_out

    @staticmethod
    def _per_graph(t: Tensor, start: int, count: int, per_graph: int) -> Tensor:
        """Rows ``start`` to ``start + count * per_graph`` of ``t`` as ``(count, per_graph, d)``."""
        return t[start : start + count * per_graph].view(count, per_graph, -1)

    def edge_blocks(self, edges: Tensor) -> list[Tensor]:
        """Views of flat edge features ``(E, d)`` as ``(B, n_out, n_in, d)``, block by block."""
        blocks = []
        for group, layer, n_in, n_out in self._layers():
            offsets = group.layout.edge_offsets
            flat = self._per_graph(edges, group.edge_start, group.count, group.layout.num_edges)
            block = flat[:, offsets[layer] : offsets[layer + 1]]  # (B, n_out * n_in, d)
            blocks.append(block.unflatten(1, (n_out, n_in)))  # (B, n_out, n_in, d)
        return blocks

    def flatten_edges(self, blocks: Sequence[Tensor]) -> Tensor:
        """Inverse of :meth:`edge_blocks`: ``(E, d)`` in the batch's edge order."""
        out, it = [], iter(blocks)
        for group in self.groups:
            layer_blocks = [next(it).flatten(1, 2) for _ in group.layout.layer_sizes[1:]]
            out.append(torch.cat(layer_blocks, dim=1).flatten(0, 1))  # (B * E_g, d)
        return torch.cat(out)

    def end_nodes(self, nodes: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Per block, the node features of its in-neurons ``(B, n_in, d)`` and out-neurons
        ``(B, n_out, d)`` (views of ``nodes`` ``(N, d)``)."""
        pairs = []
        for group, layer, _, _ in self._layers():
            offsets = group.layout.node_offsets
            flat = self._per_graph(nodes, group.node_start, group.count, group.layout.num_nodes)
            src = flat[:, offsets[layer] : offsets[layer + 1]]  # (B, n_in, d)
            pairs.append((src, flat[:, offsets[layer + 1] : offsets[layer + 2]]))
        return pairs

    def to_nodes(
        self, incoming: Sequence[Tensor], outgoing: Sequence[Tensor]
    ) -> tuple[Tensor, Tensor]:
        """Assemble per-block aggregates into node tensors.

        Args:
            incoming: per block, ``(B, n_out, d)``: aggregates over each out-neuron's in-edges.
            outgoing: per block, ``(B, n_in, d)``: aggregates over each in-neuron's out-edges.

        Returns:
            ``(N, d)`` twice: incoming aggregates (zero for input neurons) and outgoing
            aggregates (zero for output neurons), in node order.
        """
        ins, outs, i = [], [], 0
        for group in self.groups:
            n_layers = len(group.layout.layer_sizes) - 1
            block_in, block_out = incoming[i : i + n_layers], outgoing[i : i + n_layers]
            i += n_layers
            first, last = block_in[0], block_out[-1]
            zeros_in = first.new_zeros(group.count, group.layout.layer_sizes[0], first.shape[-1])
            zeros_out = last.new_zeros(group.count, group.layout.layer_sizes[-1], last.shape[-1])
            ins.append(torch.cat([zeros_in, *block_in], dim=1).flatten(0, 1))  # (B * N_g, d)
            outs.append(torch.cat([*block_out, zeros_out], dim=1).flatten(0, 1))
        return torch.cat(ins), torch.cat(outs)

    def __repr__(self) -> str:
        runs = ", ".join(
            f"{g.count}x{'-'.join(map(str, g.layout.layer_sizes))}" for g in self.groups
        )
        return f"BlockGraph({runs})"
