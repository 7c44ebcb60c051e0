import pytest
import torch

from weightnet.nn.mlp import MLP


def test_shapes_layers_and_reset():
    torch.manual_seed(0)
    mlp = MLP(7, 16, 3, num_layers=3, dropout=0.1)
    assert mlp(torch.randn(5, 7)).shape == (5, 3)
    linears = [m for m in mlp.layers if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(7, 16), (16, 16), (16, 3)]
    before = linears[0].weight.clone()
    mlp.reset_parameters()
    assert not torch.equal(before, linears[0].weight)
    assert isinstance(MLP(4, 8, 2, num_layers=1).layers[0], torch.nn.Linear)


def test_needs_a_layer():
    with pytest.raises(ValueError, match="at least one layer"):
        MLP(4, 8, 2, num_layers=0)
