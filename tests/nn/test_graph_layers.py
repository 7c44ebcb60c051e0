import pytest
import torch
from torch import nn

from weightnet.graph import graph_to_weightspaces, to_graph_batch
from weightnet.nn import graph_edge
from weightnet.nn.graph_aggregate import aggregate_block
from weightnet.nn.graph_attention import RelationalAttention
from weightnet.nn.graph_blocks import BlockGraph
from weightnet.nn.graph_conv import NGConv
from weightnet.nn.graph_edge import EdgeUpdate
from weightnet.testing import (
    assert_equivariant,
    assert_sensitive,
    cnn_spec,
    mlp_spec,
    random_weightspace,
)

D = 4
SPECS = {"mlp": mlp_spec((3, 5, 4, 2)), "cnn": cnn_spec(in_channels=2, channels=(4, 3))}


class _EdgeOnly(nn.Module):
    """Adapts EdgeUpdate to the (nodes, blocks, graph) -> (nodes, blocks) interface."""

    def __init__(self) -> None:
        super().__init__()
        self.update = EdgeUpdate(D)

    def forward(self, nodes, blocks, graph):
        return nodes, self.update(nodes, blocks, graph)


LAYERS = {
    "ngconv": lambda: NGConv(D, aggregators=("mean", "max", "min", "std")),
    "attention": lambda: RelationalAttention(D, heads=2),
    "edge_update": _EdgeOnly,
}


def _as_weightspace_fn(layer, spec):
    """WeightSpace with D channels -> graph -> layer -> WeightSpace with D channels."""
    kernel = max(lay.kernel_numel for lay in spec.layers)
    torch.manual_seed(1)
    embed, unembed = nn.Linear(kernel * D, D), nn.Linear(D, kernel * D)

    def fn(ws):
        batch = to_graph_batch(ws, spec)
        graph = BlockGraph.from_batch(batch)
        blocks = [embed(block) for block in graph.edge_blocks(batch.edge_attr)]
        nodes, blocks = layer(batch.x, blocks, graph)
        edges = unembed(graph.flatten_edges(blocks))  # (E, K * D)
        return graph_to_weightspaces(batch, spec, x=nodes, edge_attr=edges)

    return fn


@pytest.mark.parametrize("spec_name", sorted(SPECS))
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_equivariant_and_sensitive(name, spec_name):
    spec = SPECS[spec_name]
    torch.manual_seed(0)
    fn = _as_weightspace_fn(LAYERS[name](), spec)
    ws = random_weightspace(spec, 2, channels=D, seed=3)
    with torch.no_grad():
        assert_equivariant(fn, spec, ws)
        assert_sensitive(fn, spec, ws)


def test_block_views_round_trip_mixed():
    specs = [mlp_spec((3, 5, 2)), SPECS["cnn"], mlp_spec((3, 5, 2))]
    pairs = [(s, random_weightspace(s, 2, seed=i)) for i, s in enumerate(specs)]
    batch = to_graph_batch(pairs)
    graph = BlockGraph.from_batch(batch)
    assert graph.num_nodes == batch.num_nodes and graph.num_edges == batch.num_edges
    blocks = graph.edge_blocks(batch.edge_attr)
    assert [tuple(b.shape) for b in blocks[:2]] == [(2, 5, 3, 9), (2, 2, 5, 9)]
    assert torch.equal(graph.flatten_edges(blocks), batch.edge_attr)
    # block (b, o, i) is the edge from in-neuron i to out-neuron o
    src, dst = graph.end_nodes(torch.arange(batch.num_nodes).unsqueeze(1))[0]
    ei = batch.edge_index[:, :15].view(2, 5, 3)
    assert torch.equal(ei[0], src[0, :, 0].expand(5, 3))
    assert torch.equal(ei[1], dst[0, :, 0, None].expand(5, 3))
    # incoming sums: out-neuron o gets the sum over its in-edges; input neurons get zero
    incoming = [b.sum(2) for b in blocks]
    outgoing = [b.sum(1) for b in blocks]
    agg_in, agg_out = graph.to_nodes(incoming, outgoing)
    ref_in = torch.zeros_like(agg_in).index_add_(0, batch.edge_index[1], batch.edge_attr)
    ref_out = torch.zeros_like(agg_out).index_add_(0, batch.edge_index[0], batch.edge_attr)
    assert torch.allclose(agg_in, ref_in, atol=1e-6)
    assert torch.allclose(agg_out, ref_out, atol=1e-6)


def test_ngconv_rejects_unknown_aggregator():
    with pytest.raises(ValueError, match="unknown aggregators"):
        NGConv(D, aggregators=("median",))


@pytest.mark.parametrize("spec_name", sorted(SPECS))
def test_edge_update_matches_edge_list_reference(spec_name):
    """EdgeUpdate's blocks (and their gradients) equal the MLP applied edge by edge."""
    spec = SPECS[spec_name]
    torch.manual_seed(0)
    update = EdgeUpdate(D).double()
    batch = to_graph_batch(
        random_weightspace(spec, 2, channels=D, seed=5).map(torch.Tensor.double), spec
    )
    graph = BlockGraph.from_batch(batch)
    nodes = batch.x.clone().requires_grad_()
    edges = batch.edge_attr[:, :D].clone().requires_grad_()  # (E, D): first kernel entry
    ours = graph.flatten_edges(update(nodes, graph.edge_blocks(edges), graph))
    src, dst = batch.edge_index
    hidden = torch.relu(
        update.edge(edges) + update.ends(nodes)[src, :D] + update.ends(nodes)[dst, D:]
    )
    ref = edges + update.out(hidden)
    torch.testing.assert_close(ours, ref)
    weights = torch.randn_like(ref)
    grads = torch.autograd.grad((ours * weights).sum(), (nodes, edges, *update.parameters()))
    grads_ref = torch.autograd.grad((ref * weights).sum(), (nodes, edges, *update.parameters()))
    for grad, grad_ref in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(grad, grad_ref)


def test_update_and_aggregate_matches_separate_steps():
    """The fused edge update + PNA reductions equal EdgeUpdate then aggregate_block
    (values and gradients), and pass gradcheck."""
    spec = SPECS["mlp"]
    torch.manual_seed(0)
    update = EdgeUpdate(D).double()
    ws = random_weightspace(spec, 2, channels=D, seed=6).map(torch.Tensor.double)
    batch = to_graph_batch(ws, spec)
    graph = BlockGraph.from_batch(batch)
    aggregators = ("mean", "max", "min", "std")

    def fused(nodes, edges):
        blocks, reductions = update.update_and_aggregate(
            nodes, graph.edge_blocks(edges), graph, aggregators
        )
        return graph.flatten_edges(blocks), *(t for r in reductions for ts in r for t in ts)

    def separate(nodes, edges):
        blocks = update(nodes, graph.edge_blocks(edges), graph)
        reductions = [aggregate_block(block, aggregators) for block in blocks]
        return graph.flatten_edges(blocks), *(t for r in reductions for ts in r for t in ts)

    nodes = batch.x.clone().requires_grad_()
    edges = batch.edge_attr.clone().requires_grad_()
    ours, ref = fused(nodes, edges), separate(nodes, edges)
    weights = [torch.randn_like(t) for t in ref]
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b)
    inputs = (nodes, edges, *update.parameters())
    grads = torch.autograd.grad(
        sum((a * w).sum() for a, w in zip(ours, weights, strict=True)), inputs
    )
    grads_ref = torch.autograd.grad(
        sum((a * w).sum() for a, w in zip(ref, weights, strict=True)), inputs
    )
    for a, b in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(a, b)
    # only the aggregates used (the last layer of a graph-level model)
    assert torch.autograd.gradcheck(lambda n, e: fused(n, e)[1:], (nodes, edges))


def test_edge_update_in_chunks_equals_one_chunk(monkeypatch):
    """Blocks processed a few graphs at a time give the same values and gradients."""
    spec = SPECS["mlp"]
    torch.manual_seed(0)
    update = EdgeUpdate(D).double()
    batch = to_graph_batch(
        random_weightspace(spec, 5, channels=D, seed=7).map(torch.Tensor.double), spec
    )
    graph = BlockGraph.from_batch(batch)
    aggregators = ("mean", "max", "min")

    def run():
        nodes = batch.x.clone().requires_grad_()
        edges = batch.edge_attr.clone().requires_grad_()
        blocks, reductions = update.update_and_aggregate(
            nodes, graph.edge_blocks(edges), graph, aggregators
        )
        outputs = [graph.flatten_edges(blocks), *(t for r in reductions for ts in r for t in ts)]
        loss = sum((t * torch.linspace(-1, 1, t.numel()).view_as(t)).sum() for t in outputs)
        return outputs, torch.autograd.grad(loss, (nodes, edges, *update.parameters()))

    whole = run()
    monkeypatch.setattr(graph_edge, "CHUNK_FLOATS", 2 * D)  # below one graph: one per chunk
    chunked = run()
    for a, b in zip([*whole[0], *whole[1]], [*chunked[0], *chunked[1]], strict=True):
        torch.testing.assert_close(a, b)
