import pytest
import torch

from weightnet.graph import graph_to_weightspaces, to_graph_batch
from weightnet.models.graph import GraphNet, GraphTransformer
from weightnet.symmetry import permute, sample_permutations
from weightnet.testing import (
    assert_equivariant,
    assert_invariant,
    assert_sensitive,
    cnn_spec,
    mlp_spec,
    permute_io,
    random_weightspace,
)
from weightnet.weightspace import SpecError

MODELS = {"gnn": GraphNet, "transformer": GraphTransformer}
SPECS = {"mlp": mlp_spec((3, 5, 4, 2)), "cnn": cnn_spec(in_channels=2, channels=(4, 3))}
SMALL = dict(hidden_channels=8, num_layers=2)


def _model(name, spec, out=3, **kwargs):
    torch.manual_seed(0)
    return MODELS[name](spec, out, **(SMALL | kwargs)).eval()


def _mixed(seed=0):
    specs = [mlp_spec((3, 5, 4, 2)), mlp_spec((3, 6, 2)), SPECS["cnn"]]
    return [(s, random_weightspace(s, 3, seed=seed + i)) for i, s in enumerate(specs)]


@pytest.mark.parametrize("spec_name", sorted(SPECS))
@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize(("probe", "outputs"), [(0, False), (3, False), (0, True)])
def test_invariant_and_sensitive(name, spec_name, probe, outputs):
    spec = SPECS[spec_name]
    model = _model(name, spec, probe_features=probe, output_readout=outputs)
    ws = random_weightspace(spec, 3, seed=1)
    with torch.no_grad():
        out = model(ws)
        assert out.shape == (3, 3) and torch.isfinite(out).all()
        assert_invariant(model, spec, ws)
        assert_sensitive(model, spec, ws, io=True)
        assert (model(permute_io(ws, "output")) - out).abs().max() > 1e-4


@pytest.mark.parametrize("name", sorted(MODELS))
def test_weightspace_and_batch_inputs_agree(name):
    spec = SPECS["mlp"]
    model = _model(name, spec)
    ws = random_weightspace(spec, 4, seed=2)
    with torch.no_grad():
        assert torch.allclose(model(ws), model(to_graph_batch(ws, spec)), atol=1e-6)
        assert torch.allclose(model(ws)[1:3], model(ws[1:3]), atol=1e-5)  # batch-independent


@pytest.mark.parametrize("name", sorted(MODELS))
def test_mixed_batch_invariant_and_matches_per_architecture(name):
    pairs = _mixed()
    model = _model(name, None, kernel_numel=9)
    generator = torch.Generator().manual_seed(3)
    permuted = [
        (s, permute(ws, sample_permutations(s, ws.batch_size, generator))) for s, ws in pairs
    ]
    with torch.no_grad():
        out = model(to_graph_batch(pairs))
        assert out.shape == (9, 3)
        assert torch.allclose(model(to_graph_batch(permuted)), out, atol=1e-4)
        parts = [model(to_graph_batch([pair], kernel_size=9)) for pair in pairs]
        assert torch.allclose(torch.cat(parts), out, atol=1e-5)
        moved = [(s, permute_io(ws, "input")) for s, ws in pairs]
        assert (model(to_graph_batch(moved)) - out).abs().max() > 1e-4


@pytest.mark.parametrize("spec_name", sorted(SPECS))
@pytest.mark.parametrize("name", sorted(MODELS))
def test_weight_outputs_equivariant(name, spec_name):
    spec = SPECS[spec_name]
    model = _model(name, spec, out=2, readout="weights")
    ws = random_weightspace(spec, 2, seed=4)
    with torch.no_grad():
        out = model(ws)
        assert [w.shape[1:] for w in out.weights] == [(*layer.shape, 2) for layer in spec.layers]
        assert_equivariant(model, spec, ws)
        assert_sensitive(model, spec, ws, io=True)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_weight_outputs_mixed_batch(name):
    pairs = _mixed(seed=5)
    specs = [s for s, _ in pairs]
    model = _model(name, None, out=1, readout="weights", kernel_numel=9)
    generator = torch.Generator().manual_seed(6)
    perms = [sample_permutations(s, ws.batch_size, generator) for s, ws in pairs]
    with torch.no_grad():
        out = model(to_graph_batch(pairs), specs)
        moved = model(
            to_graph_batch([(s, permute(ws, p)) for (s, ws), p in zip(pairs, perms, strict=True)]),
            specs,
        )
    for a, b, p in zip(out, moved, perms, strict=True):
        assert permute(a, p).allclose(b, atol=1e-4)


def test_graph_to_weightspaces_of_model_outputs_matches_shapes():
    spec = SPECS["cnn"]
    model = _model("gnn", spec, out=2, readout="weights")
    batch = to_graph_batch(random_weightspace(spec, 2), spec)
    edge_out = torch.zeros(batch.num_edges, 9 * 2)
    node_out = torch.zeros(batch.num_nodes, 2)
    ws = graph_to_weightspaces(batch, spec, x=node_out, edge_attr=edge_out)
    assert ws.weights[0].shape == (2, 4, 2, 3, 3, 2)
    assert model(batch).weights[-1].shape == (2, 3, 3, 2)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_trains(name):
    spec = SPECS["mlp"]
    ws = random_weightspace(spec, 16, seed=7)
    target = ws.weights[0].flatten(1).sum(1, keepdim=True)  # (16, 1)
    model = _model(name, spec, out=1).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(ws), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_bad_inputs():
    spec = SPECS["mlp"]
    ws = random_weightspace(spec, 2)
    with pytest.raises(SpecError, match="probe features"):
        GraphNet(spec, 1, probe_features=2)(to_graph_batch(ws, spec))
    with pytest.raises(SpecError, match="without a spec"):
        GraphNet(None, 1)(ws)
    with pytest.raises(SpecError, match="kernels of 9 entries"):
        GraphNet(None, 1)(to_graph_batch(random_weightspace(SPECS["cnn"], 1), SPECS["cnn"]))
    with pytest.raises(SpecError, match="too large"):
        GraphNet(spec, 1, max_io=2)(ws)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_output_readout_reads_the_output_neurons_in_mixed_batches(name):
    """The head reads the mean output-neuron state of each graph, whatever its architecture."""
    mixed = _mixed()
    model = _model(name, None, output_readout=True, kernel_numel=9)
    batch = to_graph_batch(mixed, kernel_size=9)
    with torch.no_grad():
        out = model(batch)
        alone = torch.cat([model(to_graph_batch([pair], kernel_size=9)) for pair in mixed])
    torch.testing.assert_close(out, alone, atol=1e-5, rtol=1e-4)
    assert model.head[0].in_features == 2 * SMALL["hidden_channels"]
