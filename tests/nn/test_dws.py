import pytest
import torch

from weightnet.nn.dws import DWSLinear
from weightnet.testing import (
    assert_equivariant,
    assert_sensitive,
    cnn_spec,
    mlp_spec,
    permute_io,
    random_weightspace,
)

SPECS = [mlp_spec((3, 5, 4, 2)), cnn_spec(), mlp_spec((3, 5, 2))]
IDS = ["mlp", "cnn", "mlp-1-hidden"]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_equivariant_and_sensitive(spec):
    torch.manual_seed(0)
    layer = DWSLinear(spec, 2, 3)
    ws = random_weightspace(spec, batch_size=3, channels=2)
    assert_equivariant(layer.double(), spec, ws.to(torch.float64), atol=1e-10)
    assert_sensitive(layer.float(), spec, ws, io=True)
    out = layer(permute_io(ws, "output"))
    assert not out.allclose(permute_io(layer(ws), "output"), atol=1e-4)


def test_parameters_grow_linearly_with_the_number_of_inputs():
    def count(n_in):
        return sum(p.numel() for p in DWSLinear(mlp_spec((n_in, 5, 2)), 4, 4).parameters())

    assert count(32) - count(16) == 2 * (count(16) - count(8)) > 0
