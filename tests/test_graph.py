import pytest
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.nn import global_add_pool

from weightnet.functional import forward
from weightnet.graph import (
    graph_groups,
    graph_layout,
    graph_to_weightspaces,
    probe_activations,
    to_graph_batch,
)
from weightnet.symmetry import permute, sample_permutations
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace, siren_spec
from weightnet.weightspace import SpecError, WeightSpace

SPECS = {
    "mlp": mlp_spec((3, 5, 4, 2)),
    "cnn": cnn_spec(in_channels=2, channels=(4, 3), num_classes=3, kernel=3),
    "siren": siren_spec((2, 8, 8, 1)),
}


def _mixed():
    specs = [mlp_spec((3, 5, 4, 2)), mlp_spec((3, 6, 2)), SPECS["cnn"], mlp_spec((3, 5, 4, 2))]
    return [(s, random_weightspace(s, 2 + i, seed=i)) for i, s in enumerate(specs)]


def _equal(a: WeightSpace, b: WeightSpace) -> bool:
    return all(
        x.shape == y.shape and torch.equal(x, y)
        for x, y in zip(a.tensors(), b.tensors(), strict=True)
    )


@pytest.mark.parametrize("name", sorted(SPECS))
def test_round_trip_exact_and_same_function(name):
    spec = SPECS[name]
    ws = random_weightspace(spec, 3, seed=1)
    batch = to_graph_batch(ws, spec)
    back = graph_to_weightspaces(batch, spec)
    assert _equal(back, ws)
    x = torch.randn(5, 2, 6, 6) if name == "cnn" else torch.randn(5, spec.layer_sizes[0])
    assert torch.equal(forward(spec, back, x), forward(spec, ws, x))


def test_round_trip_multichannel_and_padded_kernel():
    spec = SPECS["mlp"]
    ws = random_weightspace(spec, 2, channels=3, seed=2)
    batch = to_graph_batch(ws, spec, kernel_size=9)
    assert batch.edge_attr.shape[1] == 9 * 3
    assert torch.equal(batch.edge_attr.view(-1, 9, 3)[:, 1:], torch.zeros(batch.num_edges, 8, 3))
    assert _equal(graph_to_weightspaces(batch, spec), ws)


def test_counts_and_fields_mlp():
    spec = mlp_spec((3, 5, 4, 2))
    batch = to_graph_batch(random_weightspace(spec, 4), spec)
    assert batch.num_graphs == 4
    assert batch.num_nodes == 4 * (3 + 5 + 4 + 2)
    assert batch.edge_index.shape == (2, 4 * (15 + 20 + 8))
    assert batch.x.shape == (56, 1) and batch.edge_attr.shape == (172, 1)
    assert batch.layer_id[:14].tolist() == [0] * 3 + [1] * 5 + [2] * 4 + [3] * 2
    assert batch.io_position[:14].tolist() == [0, 1, 2] + [-1] * 9 + [0, 1]
    assert torch.equal(batch.x[:3], torch.zeros(3, 1))  # input neurons have no bias
    # second graph's edges are offset by one graph's node count
    assert torch.equal(batch.edge_index[:, 43:86], batch.edge_index[:, :43] + 14)


def test_edges_point_from_in_neuron_to_out_neuron():
    spec = mlp_spec((2, 3, 1))
    ws = random_weightspace(spec, 1, seed=3)
    batch = to_graph_batch(ws, spec)
    w0 = ws.weights[0][0, ..., 0]  # (3, 2)
    for (src, dst), value in zip(batch.edge_index.T.tolist(), batch.edge_attr[:, 0], strict=True):
        if dst < 5:  # first layer: inputs 0..1 -> hidden 2..4
            assert value == w0[dst - 2, src]
    assert torch.equal(batch.x[2:5, 0], ws.biases[0][0, :, 0])


def test_conv_edges_carry_kernels():
    spec = SPECS["cnn"]
    ws = random_weightspace(spec, 2, seed=4)
    batch = to_graph_batch(ws, spec)
    layout = graph_layout(spec)
    assert batch.edge_attr.shape == (2 * layout.num_edges, 9)
    assert torch.equal(batch.edge_attr[0], ws.weights[0][0, 0, 0].flatten())
    # the linear head after global pooling: one edge per (channel, class), padded kernel
    head = batch.edge_attr[layout.edge_offsets[2] : layout.edge_offsets[3]]
    assert head.shape == (3 * 3, 9)
    assert torch.equal(head[:, 0], ws.weights[2][0, ..., 0].flatten())
    assert torch.equal(head[:, 1:], torch.zeros(9, 8))


def test_mixed_batch_round_trip_and_pyg_compat():
    pairs = _mixed()
    batch = to_graph_batch(pairs)
    assert batch.num_graphs == sum(ws.batch_size for _, ws in pairs)
    assert batch.edge_attr.shape[1] == 9
    back = graph_to_weightspaces(batch, [s for s, _ in pairs])
    for (_, ws), out in zip(pairs, back, strict=True):
        assert _equal(out, ws)
    # same as the naive per-network Data + Batch.from_data_list
    naive = Batch.from_data_list(batch.to_data_list())
    for key in ("x", "edge_index", "edge_attr", "layer_id", "io_position", "batch", "ptr"):
        assert torch.equal(naive[key], batch[key]), key
    sums = global_add_pool(batch.x, batch.batch)
    assert sums.shape == (batch.num_graphs, 1)
    assert torch.allclose(sums[0, 0], sum(b[0].sum() for b in pairs[0][1].biases))
    groups = graph_groups(batch)
    assert [(g.layout.layer_sizes, g.count) for g in groups] == [
        ((3, 5, 4, 2), 2),
        ((3, 6, 2), 3),
        ((2, 4, 3, 3), 4),
        ((3, 5, 4, 2), 5),
    ]


def test_data_list_graph_matches_single_network():
    spec = mlp_spec((3, 4, 2))
    ws = random_weightspace(spec, 3, seed=5)
    data = to_graph_batch(ws, spec).get_example(2)
    single = to_graph_batch(ws[2], spec)
    assert isinstance(data, Data)
    assert torch.equal(data.edge_index, single.edge_index)
    assert torch.equal(data.edge_attr, single.edge_attr)


def test_hidden_permutation_is_graph_isomorphism():
    spec = SPECS["mlp"]
    ws = random_weightspace(spec, 2, seed=6)
    permuted = permute(ws, sample_permutations(spec, 2, torch.Generator().manual_seed(0)))
    a, b = to_graph_batch(ws, spec), to_graph_batch(permuted, spec)
    edges_a = {
        (s, d, float(w))
        for (s, d), w in zip(a.edge_index.T.tolist(), a.edge_attr[:, 0], strict=True)
    }
    edges_b = {
        (s, d, float(w))
        for (s, d), w in zip(b.edge_index.T.tolist(), b.edge_attr[:, 0], strict=True)
    }
    assert edges_a != edges_b
    assert sorted(w for *_, w in edges_a) == sorted(w for *_, w in edges_b)


def test_probe_activations_match_network_outputs_and_are_equivariant():
    spec = SPECS["mlp"]
    ws = random_weightspace(spec, 2, seed=7)
    probe = probe_activations(spec, ws, 4, seed=3)
    assert probe.shape == (2, 14, 4)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(probe[:, :3].transpose(1, 2), x.expand(2, 4, 3))
    assert torch.allclose(probe[:, -2:].transpose(1, 2), forward(spec, ws, x), atol=1e-6)
    perms = sample_permutations(spec, 2, torch.Generator().manual_seed(1))
    moved = probe_activations(spec, permute(ws, perms), 4, seed=3)
    rows = torch.arange(2)[:, None]
    assert torch.allclose(moved[:, 3:8], probe[:, 3:8][rows, perms[0]], atol=1e-6)
    assert torch.allclose(moved[:, 8:12], probe[:, 8:12][rows, perms[1]], atol=1e-6)
    batch = to_graph_batch(ws, spec, probe_features=4, probe_seed=3)
    assert torch.equal(batch.probe, probe.reshape(-1, 4))


def test_probe_activations_cnn_shape():
    spec = SPECS["cnn"]
    probe = probe_activations(spec, random_weightspace(spec, 2), 3)
    assert probe.shape == (2, 2 + 4 + 3 + 3, 3)
    assert torch.isfinite(probe).all()


def test_bad_inputs():
    spec = SPECS["mlp"]
    ws = random_weightspace(spec, 2)
    with pytest.raises(SpecError, match="needs its spec"):
        to_graph_batch(ws)
    with pytest.raises(SpecError, match="smaller than the largest kernel"):
        to_graph_batch([(SPECS["cnn"], random_weightspace(SPECS["cnn"], 1))], kernel_size=4)
    batch = to_graph_batch(ws, spec)
    with pytest.raises(SpecError):
        graph_to_weightspaces(batch, mlp_spec((3, 6, 2)))
    with pytest.raises(SpecError):
        to_graph_batch(ws, mlp_spec((3, 6, 2)))


def test_gradients_flow_back_to_the_weights():
    spec = SPECS["cnn"]
    ws = random_weightspace(spec, 2, seed=8).map(lambda t: t.requires_grad_())
    batch = to_graph_batch([(spec, ws)], kernel_size=9, probe_features=2)
    (batch.x.sum() + batch.edge_attr.square().sum() + batch.probe.sum()).backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in ws.tensors())
