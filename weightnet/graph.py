"""Parameter graphs: WeightSpaces <-> torch_geometric batches, with an exact round trip.

One node per neuron (network inputs, hidden neurons, outputs; a conv channel is a
neuron), node feature = the neuron's bias (0 for input neurons), one edge per weight
from the in-neuron to the out-neuron, edge feature = the weight (a conv kernel
flattened and zero-padded to the largest kernel in the batch). The linear layer after
global average pooling is an ordinary layer: one edge per (channel, output) pair.

Within a graph, nodes are ordered layer by layer (inputs first) and edges layer by
layer in the weight's row-major ``(n_out, n_in)`` order, so both directions are a
reshape. The edge index of an architecture is built once (cached by layer sizes) and
tiled with node offsets for the whole batch: no per-network ``Data`` objects.

Batch fields (all tensors; ``N`` nodes, ``E`` edges, ``G`` graphs in the batch):

* ``x`` ``(N, C)``: biases; ``edge_attr`` ``(E, K * C)``: weights, ``K`` = padded kernel size,
  laid out ``(k c)``; ``edge_index`` ``(2, E)``: ``[in-neuron, out-neuron]``;
* ``layer_id`` ``(N,)``: ``0`` for inputs, ``l`` for the outputs of layer ``l``;
* ``io_position`` ``(N,)``: position of an input/output neuron, ``-1`` for hidden neurons;
* ``arch_id`` ``(G,)``: which ``(spec, ws)`` pair each graph came from;
* ``probe`` ``(N, P)`` (only with ``probe_features=P``): each neuron's activation on
  ``P`` fixed random inputs (see :func:`probe_activations`);
* ``batch`` ``(N,)`` and ``ptr`` ``(G + 1,)`` as in any PyG batch.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from weightnet.probes import neuron_activations, probe_inputs
from weightnet.weightspace import SpecError, WeightSpace, WeightSpec

if TYPE_CHECKING:  # imported lazily, so that inference (pyg=False) never imports PyG
    from torch_geometric.data import Batch

__all__ = [
    "GraphLayout",
    "GraphGroup",
    "graph_layout",
    "graph_groups",
    "to_graph_batch",
    "graph_to_weightspaces",
    "probe_activations",
]

_NODE_KEYS = ("x", "layer_id", "io_position")
_EDGE_KEYS = ("edge_index", "edge_attr")


@dataclass(frozen=True)
class GraphLayout:
    """The static structure of one architecture's parameter graph.

    Attributes:
        layer_sizes: neuron counts ``(n_0, ..., n_L)``.
        edge_index: ``(2, E)`` long, ``[in-neuron, out-neuron]``, layer by layer, row-major.
        layer_id: ``(N,)`` long, the layer of each node.
        io_position: ``(N,)`` long, position of input/output neurons, ``-1`` for hidden ones.
        node_offsets: first node of each layer, ``L + 2`` entries (last = ``N``).
        edge_offsets: first edge of each weight matrix, ``L + 1`` entries (last = ``E``).
    """

    layer_sizes: tuple[int, ...]
    edge_index: Tensor
    layer_id: Tensor
    io_position: Tensor
    node_offsets: tuple[int, ...]
    edge_offsets: tuple[int, ...]

    @property
    def num_nodes(self) -> int:
        return self.node_offsets[-1]

    @property
    def num_edges(self) -> int:
        return self.edge_offsets[-1]


@functools.lru_cache(maxsize=256)
def _layout_for_sizes(layer_sizes: tuple[int, ...]) -> GraphLayout:
    sizes = torch.tensor(layer_sizes)
    node_offsets = [0, *torch.cumsum(sizes, 0).tolist()]
    blocks = []
    for layer, (n_in, n_out) in enumerate(zip(layer_sizes, layer_sizes[1:], strict=False)):
        dst, src = torch.meshgrid(torch.arange(n_out), torch.arange(n_in), indexing="ij")
        blocks.append(
            torch.stack(
                [src.reshape(-1) + node_offsets[layer], dst.reshape(-1) + node_offsets[layer + 1]]
            )  # (2, n_out * n_in)
        )
    edge_counts = [a * b for a, b in zip(layer_sizes, layer_sizes[1:], strict=False)]
    io_position = torch.full((node_offsets[-1],), -1, dtype=torch.long)
    io_position[: layer_sizes[0]] = torch.arange(layer_sizes[0])
    io_position[node_offsets[-2] :] = torch.arange(layer_sizes[-1])
    return GraphLayout(
        layer_sizes=layer_sizes,
        edge_index=torch.cat(blocks, dim=1),
        layer_id=torch.repeat_interleave(torch.arange(len(layer_sizes)), sizes),
        io_position=io_position,
        node_offsets=tuple(node_offsets),
        edge_offsets=(0, *torch.cumsum(torch.tensor(edge_counts), 0).tolist()),
    )


def graph_layout(spec: WeightSpec) -> GraphLayout:
    """The (cached) graph structure of ``spec``; it depends only on the layer sizes."""
    return _layout_for_sizes(tuple(spec.layer_sizes))


@dataclass(frozen=True)
class GraphGroup:
    """A run of consecutive graphs of one layout inside a batch.

    Attributes:
        layout: their graph structure.
        count: number of graphs.
        node_start: index of the run's first node in the batch.
        edge_start: index of the run's first edge in the batch.
    """

    layout: GraphLayout
    count: int
    node_start: int
    edge_start: int


def graph_groups(batch: Batch) -> list[GraphGroup]:
    """Split a batch from :func:`to_graph_batch` into runs of graphs with the same layout.

    Reads each graph's layer sizes off ``layer_id`` and ``batch`` (vectorized, one
    transfer of a ``(G, L)`` count table to the host), so it works for any batch built by
    :func:`to_graph_batch`, mixed architectures included.
    """
    num_graphs, num_ids = batch.num_graphs, int(batch.layer_id.max()) + 1
    keys = batch.batch * num_ids + batch.layer_id  # (N,)
    sizes = torch.bincount(keys, minlength=num_graphs * num_ids).view(num_graphs, num_ids)
    rows, runs = torch.unique_consecutive(sizes, dim=0, return_counts=True)
    groups, node_start, edge_start = [], 0, 0
    for row, count in zip(rows.tolist(), runs.tolist(), strict=True):
        layout = _layout_for_sizes(tuple(n for n in row if n > 0))
        groups.append(GraphGroup(layout, count, node_start, edge_start))
        node_start += count * layout.num_nodes
        edge_start += count * layout.num_edges
    if edge_start != batch.edge_index.shape[1]:
        raise SpecError(
            f"batch has {batch.edge_index.shape[1]} edges, its layer sizes imply {edge_start}: "
            "not a batch built by weightnet.graph.to_graph_batch"
        )
    return groups


def _as_pairs(
    data: WeightSpace | Sequence[tuple[WeightSpec, WeightSpace]], spec: WeightSpec | None
) -> list[tuple[WeightSpec, WeightSpace]]:
    if isinstance(data, WeightSpace):
        if spec is None:
            raise SpecError("to_graph_batch: a WeightSpace needs its spec")
        return [(spec, data)]
    pairs = list(data)
    if not pairs:
        raise SpecError("to_graph_batch: no networks given")
    return pairs


def _max_kernel(specs: Sequence[WeightSpec]) -> int:
    return max(layer.kernel_numel for spec in specs for layer in spec.layers)


def to_graph_batch(
    data: WeightSpace | Sequence[tuple[WeightSpec, WeightSpace]],
    spec: WeightSpec | None = None,
    *,
    kernel_size: int | None = None,
    probe_features: int = 0,
    probe_seed: int = 0,
    pyg: bool = True,
) -> Batch:
    """Build one PyG batch of parameter graphs, vectorized per architecture.

    Args:
        data: a WeightSpace of ``spec``, or ``(spec, ws)`` pairs of possibly different
            architectures (graphs are ordered pair by pair; ``arch_id`` says which pair).
        spec: the architecture when ``data`` is a WeightSpace.
        kernel_size: pad edge features to this many kernel entries (default: the largest
            kernel in the batch; ``1`` for MLPs).
        probe_features: if ``> 0``, add ``probe`` node features: activations on this many
            fixed random inputs (single-channel weights only).
        probe_seed: seed of the probe inputs.
        pyg: ``False`` returns the same fields in a plain namespace (with ``num_graphs``)
            without importing torch_geometric (fast start for inference); the graph
            metanets read either.

    Returns:
        A :class:`torch_geometric.data.Batch` (see the module docstring for its fields);
        ``to_data_list()`` and ``global_*_pool(x, batch)`` work on it.
    """
    pairs = _as_pairs(data, spec)
    max_kernel = _max_kernel([s for s, _ in pairs])
    kernel = max_kernel if kernel_size is None else int(kernel_size)
    if kernel < max_kernel:
        raise SpecError(f"kernel_size={kernel} is smaller than the largest kernel ({max_kernel})")
    first = pairs[0][1]
    channels, device = first.channels, first.device
    layouts = []
    for arch, (sp, ws) in enumerate(pairs):
        ws.check_spec(sp)
        if ws.channels != channels:
            raise SpecError(f"pair {arch} has {ws.channels} channels, pair 0 has {channels}")
        layouts.append(graph_layout(sp))
    counts = [ws.batch_size for _, ws in pairs]
    num_graphs = sum(counts)
    num_nodes = sum(b * lay.num_nodes for b, lay in zip(counts, layouts, strict=True))
    num_edges = sum(b * lay.num_edges for b, lay in zip(counts, layouts, strict=True))
    # preallocate every field and write each architecture's block in place
    x = first.biases[0].new_zeros(num_nodes, channels)
    pad = any(layer.kernel_numel < kernel for sp, _ in pairs for layer in sp.layers)
    edge_attr = (first.weights[0].new_zeros if pad else first.weights[0].new_empty)(
        num_edges, kernel * channels
    )
    long = dict(dtype=torch.long, device=device)
    edge_index = torch.empty(2, num_edges, **long)
    layer_id, io_position = torch.empty(num_nodes, **long), torch.empty(num_nodes, **long)
    graph_of_node = torch.empty(num_nodes, **long)
    probe = first.biases[0].new_empty(num_nodes, probe_features) if probe_features > 0 else None
    graph_start = node_start = edge_start = 0
    for (sp, ws), layout, batch in zip(pairs, layouts, counts, strict=True):
        n_g, e_g = layout.num_nodes, layout.num_edges
        node_end, edge_end = node_start + batch * n_g, edge_start + batch * e_g
        nodes = x[node_start:node_end].view(batch, n_g, channels)  # (B, N_g, C)
        for i, bias in enumerate(ws.biases):
            nodes[:, layout.node_offsets[i + 1] : layout.node_offsets[i + 2]] = bias
        edges = edge_attr[edge_start:edge_end].view(batch, e_g, kernel, channels)
        for i, w in enumerate(ws.weights):
            flat = w.reshape(batch, w.shape[1] * w.shape[2], -1, channels)  # (B, o*i, k, C)
            edges[:, layout.edge_offsets[i] : layout.edge_offsets[i + 1], : flat.shape[2]] = flat
        offsets = node_start + n_g * torch.arange(batch, **long)  # (B,)
        tiled = edge_index[:, edge_start:edge_end].view(2, batch, e_g)
        torch.add(layout.edge_index.to(device)[:, None], offsets[None, :, None], out=tiled)
        layer_id[node_start:node_end].view(batch, n_g)[:] = layout.layer_id.to(device)
        io_position[node_start:node_end].view(batch, n_g)[:] = layout.io_position.to(device)
        graph_of_node[node_start:node_end].view(batch, n_g)[:] = graph_start + torch.arange(
            batch, **long
        ).unsqueeze(1)
        if probe is not None:
            probe[node_start:node_end] = probe_activations(
                sp, ws, probe_features, probe_seed
            ).flatten(0, 1)  # (B * N_g, P)
        graph_start, node_start, edge_start = graph_start + batch, node_end, edge_end
    per_arch = torch.tensor(counts)
    nodes_per_graph = torch.tensor([lay.num_nodes for lay in layouts]).repeat_interleave(per_arch)
    edges_per_graph = torch.tensor([lay.num_edges for lay in layouts]).repeat_interleave(per_arch)
    node_ptr = F.pad(torch.cumsum(nodes_per_graph, 0), (1, 0))  # (G + 1,)
    edge_ptr = F.pad(torch.cumsum(edges_per_graph, 0), (1, 0))
    fields = {
        "x": x,
        "edge_index": edge_index,
        "edge_attr": edge_attr,
        "layer_id": layer_id,
        "io_position": io_position,
        "arch_id": torch.arange(len(pairs)).repeat_interleave(per_arch).to(device),
    }
    if probe is not None:
        fields["probe"] = probe
    if not pyg:
        return SimpleNamespace(
            batch=graph_of_node, ptr=node_ptr.to(device), num_graphs=num_graphs, **fields
        )
    from torch_geometric.data import Batch

    out = Batch(batch=graph_of_node, ptr=node_ptr.to(device), **fields)
    slices = {key: node_ptr for key in _NODE_KEYS} | {key: edge_ptr for key in _EDGE_KEYS}
    slices["arch_id"] = torch.arange(num_graphs + 1)
    if probe is not None:
        slices["probe"] = node_ptr
    incs = {key: torch.zeros(num_graphs, dtype=torch.long) for key in slices}
    incs["edge_index"] = node_ptr[:-1]
    out._num_graphs = num_graphs
    out._slice_dict = slices
    out._inc_dict = incs
    return out


def graph_to_weightspaces(
    batch: Batch,
    specs: WeightSpec | Sequence[WeightSpec],
    *,
    x: Tensor | None = None,
    edge_attr: Tensor | None = None,
) -> WeightSpace | list[WeightSpace]:
    """Inverse of :func:`to_graph_batch`: exact, also for mixed architectures.

    Args:
        batch: a batch built by :func:`to_graph_batch`.
        specs: the spec of every graph (one WeightSpec) or one spec per ``arch_id``
            (the pairs' specs, in order).
        x: node features ``(N, C)`` to read biases from instead of ``batch.x``
            (e.g. a model's node outputs).
        edge_attr: edge features ``(E, K * C)`` to read weights from instead of
            ``batch.edge_attr`` (e.g. a model's edge outputs; ``C`` from ``x``).

    Returns:
        A WeightSpace (single spec) or a list with one WeightSpace per spec.
    """
    x = batch.x if x is None else x
    edge_attr = batch.edge_attr if edge_attr is None else edge_attr
    single = isinstance(specs, WeightSpec)
    spec_list = [specs] if single else list(specs)
    channels = x.shape[-1]
    if edge_attr.shape[-1] % channels:
        raise SpecError(f"edge features of size {edge_attr.shape[-1]} for {channels} channels")
    kernel = edge_attr.shape[-1] // channels
    if single:
        counts = [batch.num_graphs]
    else:
        counts = torch.bincount(batch.arch_id, minlength=len(spec_list)).tolist()
        if len(counts) != len(spec_list):
            raise SpecError(f"batch has {len(counts)} architectures, {len(spec_list)} specs given")
    out, node_start, edge_start = [], 0, 0
    for sp, count in zip(spec_list, counts, strict=True):
        layout = graph_layout(sp)
        node_end = node_start + count * layout.num_nodes
        edge_end = edge_start + count * layout.num_edges
        if node_end > x.shape[0] or edge_end > edge_attr.shape[0]:
            raise SpecError(f"batch too small for {count} networks of {sp.describe()}")
        nodes = x[node_start:node_end].reshape(count, layout.num_nodes, channels)  # (B, N_g, C)
        edges = edge_attr[edge_start:edge_end].reshape(count, layout.num_edges, kernel, channels)
        weights, biases = [], []
        for i, layer in enumerate(sp.layers):
            if layer.kernel_numel > kernel:
                raise SpecError(f"{layer.weight_key}: kernel {layer.kernel} > padded size {kernel}")
            biases.append(nodes[:, layout.node_offsets[i + 1] : layout.node_offsets[i + 2]])
            block = edges[
                :, layout.edge_offsets[i] : layout.edge_offsets[i + 1], : layer.kernel_numel
            ]
            weights.append(block.reshape(count, *layer.shape, channels))  # (B, o, i, *k, C)
        out.append(WeightSpace(tuple(weights), tuple(biases)))
        node_start, edge_start = node_end, edge_end
    if node_start != x.shape[0] or edge_start != edge_attr.shape[0]:
        raise SpecError(
            f"specs cover {node_start} nodes / {edge_start} edges, batch has "
            f"{x.shape[0]} / {edge_attr.shape[0]}"
        )
    return out[0] if single else out


def probe_activations(
    spec: WeightSpec,
    ws: WeightSpace,
    num_probes: int,
    seed: int = 0,
    image_size: int = 8,
    domain: str = "normal",
) -> Tensor:
    """Every neuron's activation on ``num_probes`` fixed inputs, in graph node order.

    Input neurons get the input value, every other neuron its post-activation output
    (a conv channel: the spatial mean of its feature map). Permuting hidden neurons
    permutes these features the same way, so they are equivariant node features.

    Args:
        spec: the architecture (single-channel ``ws``, raw weights).
        ws: ``B`` networks.
        num_probes: number of probe inputs ``P``.
        seed: seed of the probe inputs (same seed, same inputs for every network).
        image_size: height and width of the probe images for CNNs.
        domain: where the probe inputs come from (:func:`weightnet.probes.probe_inputs`;
            standard normal by default).

    Returns:
        ``(B, N_g, P)``, nodes in graph order.
    """
    if ws.channels != 1:
        raise SpecError(f"probe features need single-channel weights (C={ws.channels})")
    inputs = probe_inputs(spec, num_probes, seed, domain, image_size)  # (P, *in)
    h = inputs.to(ws.device, ws.dtype).unsqueeze(0).expand(ws.batch_size, *inputs.shape)
    first = (h if h.ndim == 3 else h.mean(dim=(-2, -1))).transpose(1, 2)  # (B, n_0, P)
    return torch.cat([first, *neuron_activations(spec, ws, inputs)], dim=1)  # (B, N_g, P)
