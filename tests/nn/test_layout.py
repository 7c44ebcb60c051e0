import pytest
import torch

from weightnet.nn.layout import NeuronSetLayout, edge_means
from weightnet.testing import cnn_spec, mlp_spec, random_weightspace

SPECS = [mlp_spec((3, 5, 4, 2)), cnn_spec(), mlp_spec((3, 5, 2))]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.describe())
@pytest.mark.parametrize("fixed_io", [False, True])
def test_fold_unfold_round_trip_is_exact(spec, fixed_io):
    layout = NeuronSetLayout(spec, fixed_io)
    ws = random_weightspace(spec, batch_size=3, channels=2)
    folded = layout.fold(ws)
    assert [t.ndim for t in folded] == [
        {"edge": 4, "node": 3, "global": 2}[s.kind] for s in layout.slots
    ]
    back = layout.unfold(folded, channels=2)
    assert all(torch.equal(a, b) for a, b in zip(back.tensors(), ws.tensors(), strict=True))


def test_hnp_folds_io_axes_into_features():
    spec = mlp_spec((3, 5, 4, 2))
    layout = NeuronSetLayout(spec, fixed_io=True)
    kinds = [(s.name, s.kind, s.row_set, s.col_set, s.fold) for s in layout.slots]
    assert kinds == [
        ("weight0", "node", 1, None, 3),
        ("bias0", "node", 1, None, 1),
        ("weight1", "edge", 2, 1, 1),
        ("bias1", "node", 2, None, 1),
        ("weight2", "node", 2, None, 2),  # indexed by its columns (set 2), rows folded
        ("bias2", "global", None, None, 2),
    ]
    ws = random_weightspace(spec, batch_size=2, channels=1)
    folded = layout.fold(ws)
    # the last weight's node features at hidden neuron j are its column j
    assert torch.equal(folded[4][:, 1], ws.weights[2][:, :, 1, 0])


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.describe())
@pytest.mark.parametrize("fixed_io", [False, True])
def test_pooled_feature_sizes(spec, fixed_io):
    layout = NeuronSetLayout(spec, fixed_io)
    ws = random_weightspace(spec, batch_size=2, channels=3)
    folded = layout.fold(ws)
    sets, pooled = layout.pool(folded)
    dims = layout.set_features(3)
    assert {k: (v.shape[1], v.shape[2]) for k, v in sets.items()} == {
        k: (layout.set_sizes[k], dims[k]) for k in dims
    }
    assert pooled.shape == (2, layout.global_features(3))
    assert torch.allclose(pooled, layout.pool_global(folded), atol=1e-6)


def test_pool_sets_values_on_mlp():
    spec = mlp_spec((3, 5, 4, 2))
    layout = NeuronSetLayout(spec, fixed_io=False)
    ws = random_weightspace(spec, batch_size=2, channels=1)
    sets, _ = layout.pool(layout.fold(ws))
    w0, w1, b0 = ws.weights[0][..., 0], ws.weights[1][..., 0], ws.biases[0][..., 0]
    expected = torch.stack([w0.mean(2), b0, w1.mean(1)], dim=-1)  # (B, 5, 3)
    assert torch.allclose(sets[1], expected)


def test_edge_means_gradient_matches_autograd():
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(edge_means, (x,))
    rows, cols = edge_means(x)
    assert torch.allclose(rows, x.mean(2)) and torch.allclose(cols, x.mean(1))
