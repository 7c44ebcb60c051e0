"""Graph metanetworks on parameter graphs: NG-GNN (``model=gnn``) and NG-T (``model=transformer``).

Both take a WeightSpace of one spec (converted with the cached graph structure) or a
PyG batch from :func:`weightnet.graph.to_graph_batch` (any mix of architectures), embed
biases / weights / probe activations plus learned embeddings of each neuron's layer and,
for the network's input and output neurons, position (which makes them
distinguishable: they are not symmetries), run message-passing layers with edge
updates, and read out either one vector per network (invariant) or one output per
weight and bias (equivariant, mapped back to WeightSpaces).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from weightnet.graph import graph_to_weightspaces, to_graph_batch
from weightnet.nn.graph_attention import RelationalAttention
from weightnet.nn.graph_blocks import BlockGraph
from weightnet.nn.graph_conv import NGConv
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

if TYPE_CHECKING:  # imported lazily: inference (weightnet predict) runs without PyG
    from torch_geometric.data import Batch

__all__ = ["GraphMetanet", "GraphNet", "GraphTransformer"]

READOUTS = ("graph", "weights")


class GraphMetanet(nn.Module):
    """Shared embedding, readout and conversion for the parameter-graph metanets.

    Subclasses say which layer they stack (:meth:`make_layer`).

    Args:
        spec: the architecture of WeightSpace inputs; ``None`` if only graph batches
            (e.g. of mixed architectures) are passed.
        out_features: per network (``readout="graph"``) or per weight/bias
            (``readout="weights"``).
        hidden_channels: node and edge feature size.
        num_layers: number of message-passing layers.
        in_channels: channels ``C`` of the input WeightSpaces (1 for raw weights).
        kernel_numel: kernel entries per edge the model takes (``kh * kw``; default: the
            spec's largest kernel, 1 without a spec). Smaller kernels are zero-padded.
        probe_features: if ``> 0``, add each neuron's activations on this many fixed random
            inputs as node features (see :func:`weightnet.graph.probe_activations`).
        probe_seed: seed of the probe inputs.
        max_layers: size of the layer embedding (default: ``max(16, len(spec) + 1)``).
        max_io: input/output positions embedded (default: ``max(128, n_in, n_out)``).
        readout: ``"graph"``: ``(B, out_features)``, invariant; ``"weights"``: a
            WeightSpace with ``out_features`` channels, equivariant.
        dropout: dropout before the readout layers.
        output_readout: with ``readout="graph"``, the head reads the mean of the output
            neurons' states beside the mean of all nodes' (the output neurons carry the
            network's function, e.g. their probe features; ScaleGMN reads them too).

    Shapes:
        forward: WeightSpace ``(B, ...)`` or a Batch of ``B`` graphs -> ``(B, out_features)``
        (``readout="graph"``), else WeightSpace(s) with ``C = out_features``.
    """

    def __init__(
        self,
        spec: WeightSpec | None,
        out_features: int,
        hidden_channels: int = 32,
        num_layers: int = 3,
        *,
        in_channels: int = 1,
        kernel_numel: int | None = None,
        probe_features: int = 0,
        probe_seed: int = 0,
        max_layers: int | None = None,
        max_io: int | None = None,
        readout: str = "graph",
        dropout: float = 0.0,
        output_readout: bool = False,
    ) -> None:
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        self.spec, self.out_features, self.readout = spec, out_features, readout
        self.hidden_channels, self.in_channels = hidden_channels, in_channels
        self.probe_features, self.probe_seed = probe_features, probe_seed
        sizes = spec.layer_sizes if spec is not None else (0,)
        self.kernel_numel = kernel_numel or (
            max(layer.kernel_numel for layer in spec.layers) if spec is not None else 1
        )
        self.max_layers = max_layers or max(16, len(sizes))
        self.max_io = max_io or max(128, sizes[0], sizes[-1])
        self.node_embed = nn.Linear(in_channels + probe_features, hidden_channels)
        self.edge_embed = nn.Linear(self.kernel_numel * in_channels, hidden_channels)
        self.layer_embed = nn.Embedding(self.max_layers, hidden_channels)
        self.io_embed = nn.Embedding(1 + 2 * self.max_io, hidden_channels)  # 0: hidden
        self.layers = nn.ModuleList(self.make_layer(hidden_channels) for _ in range(num_layers))
        self.dropout = nn.Dropout(dropout)
        self.output_readout = output_readout
        if readout == "graph":
            pooled = hidden_channels * (2 if output_readout else 1)
            self.head = nn.Sequential(
                nn.Linear(pooled, hidden_channels),
                nn.GELU(),
                nn.Dropout(dropout),
                nn.Linear(hidden_channels, out_features),
            )
        else:
            self.node_head = nn.Linear(hidden_channels, out_features)
            self.edge_head = nn.Linear(hidden_channels, self.kernel_numel * out_features)

    def make_layer(self, channels: int) -> nn.Module:
        """One message-passing layer ``(nodes, edge blocks, graph) -> (nodes, edge blocks)``."""
        raise NotImplementedError

    def reset_parameters(self) -> None:
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    # ------------------------------------------------------------------ input
    def to_graph(self, data: WeightSpace | Batch) -> Batch:
        """The graph batch of ``data`` (a WeightSpace of ``spec`` or a ready batch)."""
        if isinstance(data, WeightSpace):
            if self.spec is None:
                raise SpecError("this model was built without a spec: pass a graph batch")
            return to_graph_batch(
                data,
                self.spec,
                kernel_size=self.kernel_numel,
                probe_features=self.probe_features,
                probe_seed=self.probe_seed,
            )
        return data

    def _embed(self, batch: Batch, graph: BlockGraph) -> tuple[Tensor, list[Tensor]]:
        x, edge_attr = batch.x, batch.edge_attr
        if x.shape[-1] != self.in_channels:
            raise SpecError(f"graph has {x.shape[-1]} channels, the model takes {self.in_channels}")
        kernel = edge_attr.shape[-1] // self.in_channels
        if kernel > self.kernel_numel:
            raise SpecError(f"kernels of {kernel} entries, the model takes {self.kernel_numel}")
        edge_attr = edge_attr.view(-1, kernel, self.in_channels)  # (E, K_batch, C)
        edge_attr = F.pad(edge_attr, (0, 0, 0, self.kernel_numel - kernel)).flatten(1)  # (E, K*C)
        if self.probe_features:
            probe = getattr(batch, "probe", None)
            if probe is None or probe.shape[-1] != self.probe_features:
                raise SpecError(
                    f"the model needs {self.probe_features} probe features per node: "
                    f"build the batch with to_graph_batch(..., probe_features={self.probe_features})"
                )
            x = torch.cat([x, probe], dim=-1)  # (N, C + P)
        layer_id, io = batch.layer_id, batch.io_position
        if int(layer_id.max()) >= self.max_layers or int(io.max()) >= self.max_io:
            raise SpecError(
                f"network too large for the model's embeddings (max_layers={self.max_layers}, "
                f"max_io={self.max_io})"
            )
        io_index = torch.where(
            io < 0, 0, torch.where(layer_id == 0, 1 + io, 1 + self.max_io + io)
        )  # (N,)
        nodes = self.node_embed(x) + self.layer_embed(layer_id) + self.io_embed(io_index)
        blocks = [self.edge_embed(block) for block in graph.edge_blocks(edge_attr)]
        return nodes, blocks  # (N, d), [(B, n_out, n_in, d)]

    # ---------------------------------------------------------------- forward
    def forward(
        self, data: WeightSpace | Batch, specs: WeightSpec | Sequence[WeightSpec] | None = None
    ) -> Tensor | WeightSpace | list[WeightSpace]:
        """Run the metanet.

        Args:
            data: a WeightSpace of ``spec`` or a batch from :func:`to_graph_batch`.
            specs: with ``readout="weights"`` and a batch input, the spec(s) to map
                outputs back to (as for :func:`graph_to_weightspaces`; default ``spec``).

        Returns:
            ``(B, out_features)`` for ``readout="graph"``; for ``readout="weights"`` a
            WeightSpace (WeightSpace input or a single spec) or one per spec.
        """
        batch = self.to_graph(data)
        graph = BlockGraph.from_batch(batch)
        nodes, blocks = self._embed(batch, graph)
        for layer in self.layers:
            nodes, blocks = layer(nodes, blocks, graph)
        if self.readout == "graph":
            pooled = _graph_mean(nodes, batch.batch, batch.num_graphs)  # (B, d)
            if self.output_readout:
                outputs = (batch.io_position >= 0) & (batch.layer_id > 0)  # (N,)
                mean_out = _graph_mean(nodes[outputs], batch.batch[outputs], batch.num_graphs)
                pooled = torch.cat([pooled, mean_out], dim=-1)  # (B, 2d)
            return self.head(self.dropout(pooled))
        node_out = self.node_head(self.dropout(nodes))  # (N, out)
        edge_out = self.edge_head(self.dropout(graph.flatten_edges(blocks)))  # (E, K * out)
        target = specs if specs is not None else self.spec
        if target is None:
            raise SpecError("readout='weights' on a graph batch needs specs")
        return graph_to_weightspaces(batch, target, x=node_out, edge_attr=edge_out)

    def extra_repr(self) -> str:
        spec = self.spec.describe() if self.spec is not None else "any"
        return f"spec={spec}, out_features={self.out_features}, readout={self.readout}"


def _graph_mean(nodes: Tensor, graph_of_node: Tensor, num_graphs: int) -> Tensor:
    """``(B, d)``: the mean of each graph's node states (zeros for a graph without nodes)."""
    counts = torch.bincount(graph_of_node, minlength=num_graphs).clamp_min(1)  # (B,)
    summed = nodes.new_zeros(num_graphs, nodes.shape[-1]).index_add_(0, graph_of_node, nodes)
    return summed / counts.unsqueeze(-1).to(nodes.dtype)


class GraphNet(GraphMetanet):
    """NG-GNN (Kofinas et al. 2024): :class:`~weightnet.nn.graph_conv.NGConv` layers
    (PNA aggregation in both directions, edge updates) on the parameter graph.

    Args:
        *args, **kwargs: ``spec, out_features, hidden_channels=32, num_layers=3, ...``,
            see :class:`GraphMetanet`.
        aggregators: PNA aggregators of every layer (see :data:`~weightnet.nn.graph_conv.AGGREGATORS`).
    """

    def __init__(self, *args, aggregators: Sequence[str] = ("mean", "max"), **kwargs) -> None:
        self.aggregators = tuple(aggregators)
        super().__init__(*args, **kwargs)

    def make_layer(self, channels: int) -> nn.Module:
        return NGConv(channels, self.aggregators)


class GraphTransformer(GraphMetanet):
    """NG-T (Kofinas et al. 2024): :class:`~weightnet.nn.graph_attention.RelationalAttention`
    layers (edge-aware attention along the graph's edges, edge updates).

    Args:
        *args, **kwargs: ``spec, out_features, hidden_channels=32, num_layers=3, ...``,
            see :class:`GraphMetanet`.
        heads: attention heads (must divide ``hidden_channels``; default: the largest
            divisor of ``hidden_channels`` up to 4).
    """

    def __init__(self, *args, heads: int | None = None, **kwargs) -> None:
        self.heads = heads
        super().__init__(*args, **kwargs)

    def make_layer(self, channels: int) -> nn.Module:
        heads = self.heads or max(h for h in (1, 2, 3, 4) if channels % h == 0)
        return RelationalAttention(channels, heads)
